"""How problems in a user's file are worded and ordered: JSON paths such as
`gateway.ip_ranges[1]`, short previews of the values found there (never a huge dump), and the
sorted `Issue` list every reader reports.
"""
from __future__ import annotations

import json
import re
from typing import Iterable, Union

from exoform.engine.errors import Issue

PathPart = Union[str, int]
JsonPath = tuple[PathPart, ...]
#: One problem: where it is and what is wrong (with how to fix it).
Problem = tuple[JsonPath, str]

_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


def json_path(parts: Iterable[object]) -> str:
    """`('gateway', 'ip_ranges', 1)` -> `gateway.ip_ranges[1]`; odd keys are quoted, cut at 40."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(truncate(str(part), 40))}]"
    return out


def as_json_path(parts: Iterable[object]) -> JsonPath:
    """Keys are strings and indexes ints in JSON; anything else (from Python callers) is shown
    by its repr so paths stay sortable."""
    return tuple(part if isinstance(part, str) or type(part) is int else repr(part)
                 for part in parts)


def issues(found: Iterable[Problem], *, first_per_path: bool, root: str = "") -> list[Issue]:
    """Sorted by path, duplicates dropped; with `first_per_path`, only the most basic problem of
    each value. `root` names the whole document's path (empty: no path shown)."""
    ordered = sorted(dict.fromkeys(found), key=lambda item: _path_key(item[0]))
    result: list[Issue] = []
    seen: set[JsonPath] = set()
    for path, message in ordered:
        if first_per_path and path in seen:
            continue
        seen.add(path)
        result.append(Issue(json_path(path) or root, message))
    return result


def _path_key(path: JsonPath) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in path)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def preview(value: object, limit: int = 60) -> str:
    """A short rendering of a user's value: never a huge or deeply nested dump."""
    if isinstance(value, str):
        return json.dumps(truncate(value, limit), ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return truncate(repr(value), limit)
    if isinstance(value, int):
        # str() of a huge int raises ValueError in Python >= 3.11 (digit limit).
        return repr(value) if value.bit_length() < 64 else "a very large number"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    return f"a {type(value).__name__}"


def with_article(noun: str) -> str:
    """`an InboundConnector`, `a TransportRule`: messages name object types in a sentence."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun
