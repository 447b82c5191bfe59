"""PowerShell rendering of cmdlet calls for the seed's "Manual" method. Every value is quoted
so it can never break out of its string: single quotes with every quote character doubled
(PowerShell also ends strings at the typographic quotes ‘ ’ ‚ ‛), arrays as @('a','b'),
switches as $true/$false, add/remove edits as @{Add=...; Remove=...}."""
from __future__ import annotations

import re
from typing import Any

from exoform.engine.cmdlets import CmdletCall, ListEdit

_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")


def quote(text: str) -> str:
    return "'" + _QUOTES.sub(r"\1\1", str(text)) + "'"


def value(item: Any) -> str:
    if item is None:
        return "$null"
    if isinstance(item, bool):
        return "$true" if item else "$false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, ListEdit):
        parts = []
        if item.add:
            parts.append(f"Add={value(item.add)}")
        if item.remove:
            parts.append(f"Remove={value(item.remove)}")
        return "@{" + "; ".join(parts) + "}"
    if isinstance(item, (tuple, list)):
        return "@(" + ",".join(quote(str(v)) for v in item) + ")"
    return quote(str(item))


def command(call: CmdletCall) -> str:
    """One cmdlet line; switches take the `-Name:$value` form so booleans bind correctly."""
    parts = [call.name]
    for name, item in call.params:
        if isinstance(item, bool):
            parts.append(f"-{name}:{value(item)}")
        else:
            parts.append(f"-{name} {value(item)}")
    return " ".join(parts)


def comment(text: str) -> str:
    """A single-line comment: newlines and control characters cannot start a new line."""
    return "# " + re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", " ", str(text))
