"""Plain HTTP request/reply values passed between the emulator's server and its handlers, so
the identity platform and the Admin API are testable without sockets."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    query: Mapping[str, str]
    headers: Mapping[str, str]  # case-insensitive mapping (the server's email.message.Message)
    body: bytes
    base_url: str  # scheme://host:port of the listener that received it

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (the identity platform's requests)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}

    def header(self, name: str) -> str:
        return str(self.headers.get(name) or "")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def json_reply(status: int, document: Any, headers: Mapping[str, str] | None = None) -> Reply:
    merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Reply(status, json.dumps(document).encode(), merged)
