"""Server-side paging of Get- output: pages of at most `Prefer: odata.maxpagesize` objects
(optionally capped lower), the rest kept under an opaque `$skiptoken` for `@odata.nextLink`."""
from __future__ import annotations

import re
import secrets
import threading
import time
from typing import Any, Mapping

DEFAULT_PAGE_SIZE = 1000
_TTL = 300.0
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.I)


def page_size(prefer: str, cap: int | None) -> int:
    match = _MAXPAGESIZE.search(prefer or "")
    size = int(match.group(1)) if match else DEFAULT_PAGE_SIZE
    return max(1, min(size, cap) if cap else size)


class Cursors:
    """The not-yet-served remainders of paged results."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[list[dict[str, Any]], float]] = {}
        self._lock = threading.Lock()

    def split(self, objects: list[dict[str, Any]], size: int) -> tuple[list[dict[str, Any]], str | None]:
        """The first page and a skip token for the rest (None when it all fits)."""
        if len(objects) <= size:
            return objects, None
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[token] = (objects[size:], time.monotonic() + _TTL)
        return objects[:size], token

    def take(self, token: str) -> list[dict[str, Any]] | None:
        """The remainder under `token`, once; None if unknown or expired."""
        with self._lock:
            now = time.monotonic()
            for stale in [t for t, (_, until) in self._pending.items() if until < now]:
                del self._pending[stale]
            entry = self._pending.pop(token, None)
        return entry[0] if entry else None


def skiptoken(query: Mapping[str, str]) -> str | None:
    return query.get("$skiptoken") or query.get("$skipToken")
