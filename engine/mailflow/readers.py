"""Readers of raw Get- values as Exchange returns them: multi-valued properties that may be a
list, a tuple, one bare string or null; booleans that may be JSON booleans or "True"/"False";
connector domains in the address-space form `smtp:*;1`; dates in ISO or `/Date(ms)/` form.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Mapping

Obj = Mapping[str, Any]

_ADDRESS_SPACE = re.compile(r"^smtp:|;\d+$", re.IGNORECASE)
_MS_DATE = re.compile(r"^/Date\((-?\d+)\)/$")


def is_set(value: Any) -> bool:
    """Exchange reports an unset property as null, "", [] or (for switches) false."""
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return value.strip() not in ("", "False", "false")
    if isinstance(value, (list, tuple)):
        return any(is_set(v) for v in value)
    return True


def text(obj: Obj, key: str) -> str:
    """A single-valued property, stripped; "" when unset."""
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return str(value).strip()


def folded(obj: Obj, key: str) -> str:
    return text(obj, key).casefold()


def texts(obj: Obj, key: str) -> tuple[str, ...]:
    """A multi-valued property as a tuple of stripped strings (a bare string is one value)."""
    value = obj.get(key)
    if value is None:
        return ()
    items = [value] if isinstance(value, (str, int, float)) else list(value)
    return tuple(s for s in (str(v).strip() for v in items if v is not None) if s)


def folded_texts(obj: Obj, key: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.casefold() for t in texts(obj, key)))


def flag(obj: Obj, key: str, default: bool = False) -> bool:
    """A boolean property; the strings "True"/"False" are read as Exchange means them."""
    value = obj.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().casefold() == "true"
    return bool(value)


def rule_enabled(obj: Obj) -> bool:
    """A transport rule's `State`; a blueprint resource may say `Enabled` instead."""
    state = folded(obj, "State")
    if state:
        return state == "enabled"
    return flag(obj, "Enabled", True)


def domain(value: str) -> str:
    """`smtp:contoso.com;1` (the address-space form) and `Contoso.com` both read `contoso.com`."""
    return _ADDRESS_SPACE.sub("", value.strip()).strip().casefold()


def domains(obj: Obj, key: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(d for d in (domain(t) for t in texts(obj, key)) if d))


def address_domain(address: str) -> str:
    return address.rpartition("@")[2].casefold()


def date(obj: Obj, key: str) -> datetime | None | str:
    """A date property as an aware datetime, None when unset, or the raw text if unreadable."""
    raw = text(obj, key)
    if not raw:
        return None
    match = _MS_DATE.match(raw)
    try:
        if match:
            return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=timezone.utc)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return raw
    # A date without an offset is read as UTC, so comparisons never mix naive and aware.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
