"""Terminal-safe text: every value that may come from a file or the tenant goes through
`safe` before it is printed, so control characters (escape sequences, CR, NUL) show as
visible escapes instead of acting on the terminal."""
from __future__ import annotations

import json
import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(text: Any) -> str:
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))


def literal(value: Any) -> str:
    """A value as the plan shows it: JSON-quoted strings and lists, lowercase booleans."""
    if isinstance(value, tuple):
        value = list(value)
    return safe(json.dumps(value, ensure_ascii=False))
