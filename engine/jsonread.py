"""The one strict reader of exoform's JSON files (config, state, saved plan, sandbox tenant): a
size limit set by the caller, a UTF-8 byte order mark tolerated, and everything else that is not
plain UTF-8 JSON (UTF-16, duplicate keys, NaN, deep nesting, huge numbers) an `InputError` naming
the file and the JSON path, never a traceback.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from exoform.engine.errors import InputError, Issue
from exoform.engine.messages import JsonPath, Problem, issues, truncate

MIB = 1 << 20


@dataclass(frozen=True)
class JsonFile:
    """One kind of file: how messages name it and what they suggest."""

    noun: str  # "config file", "state file"
    max_bytes: int
    missing: str = ""  # how to fix a wrong path, after "<noun> not found"
    content: str = ""  # what the file should hold, after "is empty" / "is larger than"
    fix: str = "fix the syntax there"  # after the position of a syntax error


class _Refused(ValueError):
    """A number or constant that plain JSON does not have (NaN, Infinity, 1e999)."""


def read_json_file(path: Path, kind: JsonFile, source: str | None = None) -> Any:
    """The parsed content of `path`; InputError (source: `source`, default the path) if the
    file cannot be read or is not strict JSON."""
    shown = str(path) if source is None else source
    return parse_json_bytes(_read_bytes(path, kind, shown), kind, shown)


def parse_json_bytes(raw: bytes, kind: JsonFile, source: str) -> Any:
    """Decode and parse one file's bytes under the rules of `read_json_file`."""
    encoding = _utf16_hint(raw)
    if encoding:
        raise _file_error(source, f"cannot read {kind.noun}: not UTF-8 text (it looks like "
                                  f"{encoding}); save the file as UTF-8")
    try:
        # utf-8-sig: Windows editors like to start UTF-8 files with a byte order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(source, f"cannot read {kind.noun}: not UTF-8 text (invalid byte at "
                                  f"offset {exc.start}); save the file as UTF-8") from None
    if not text.strip():
        raise _file_error(source, _joined("is empty (not valid JSON)", kind.content))
    data, repeated = _decode(text, kind, source)
    if repeated:
        raise InputError(source, issues(_repeated_keys(data), first_per_path=False))
    return data


def _read_bytes(path: Path, kind: JsonFile, source: str) -> bytes:
    try:
        with path.open("rb") as handle:
            raw = handle.read(kind.max_bytes + 1)
    except FileNotFoundError:
        raise _file_error(source, _joined(f"{kind.noun} not found", kind.missing)) from None
    except IsADirectoryError:
        raise _file_error(source, f"is a folder; pass the path of a JSON {kind.noun}") from None
    except PermissionError:
        raise _file_error(source, f"cannot read {kind.noun}: permission denied; check the "
                                  "file's permissions") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _file_error(source, f"cannot read {kind.noun}: {truncate(reason, 120)}") from None
    if len(raw) > kind.max_bytes:
        raise _file_error(source, _joined(f"is larger than {_size(kind.max_bytes)}", kind.content))
    return raw


def _utf16_hint(raw: bytes) -> str | None:
    """'UTF-16' (and how it shows) when the bytes look like it: its byte order mark, or a NUL
    in every other byte (which UTF-8 decodes without error, to text JSON then refuses)."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16, with its byte order mark"
    sample = raw[:64]
    if len(sample) >= 2:
        even, odd = sample[0::2], sample[1::2]
        if (not odd.strip(b"\x00") and b"\x00" not in even) or \
                (not even.strip(b"\x00") and b"\x00" not in odd):
            return "UTF-16: every other byte is NUL"
    return None


def _decode(text: str, kind: JsonFile, source: str) -> tuple[Any, bool]:
    """The value and whether some object repeated a key."""
    repeated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        result = dict(items)
        if len(result) == len(items):
            return result
        repeated = True
        return _Repeated(items)

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=_refuse_constant,
                          parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        # json's own words may end in "at" ("Unterminated string starting at"): no "at at line".
        what = exc.msg.removesuffix(" at")
        message = (f"is not valid JSON: {what} at line {exc.lineno}, column {exc.colno}; "
                   f"{kind.fix}")
    except _Refused as exc:
        message = f"is not valid JSON: {exc}; write a string or a number instead"
    except RecursionError:
        message = "is not valid: its JSON nests too deeply"
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        message = f"is not valid JSON: {truncate(str(exc), 120)}"
    else:
        return data, repeated
    raise _file_error(source, message)


class _Repeated(dict):  # type: ignore[type-arg]
    """A JSON object that repeated a key (json keeps the last value silently)."""

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        super().__init__(items)
        seen: set[str] = set()
        repeated: list[str] = []
        for key, _ in items:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        self.repeated = tuple(repeated)


def _refuse_constant(name: str) -> object:
    raise _Refused(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {truncate(text, 40)} is too large to represent")
    return value


def _repeated_keys(data: object) -> Iterator[Problem]:
    # Iterative: json accepts nesting about as deep as Python's recursion limit allows.
    stack: list[tuple[object, JsonPath]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key in getattr(value, "repeated", ()):
                yield path + (key,), ("appears more than once in this object; keep one (JSON "
                                      "readers silently use the last)")
            stack.extend((item, path + (key,)) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, path + (index,)) for index, item in enumerate(value))


def _size(count: int) -> str:
    return f"{count // MIB} MiB" if count % MIB == 0 else f"{count} bytes"


def _joined(message: str, hint: str) -> str:
    return f"{message}; {hint}" if hint else message


def _file_error(source: str, message: str) -> InputError:
    return InputError(source, [Issue("", message)])
