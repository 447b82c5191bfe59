"""Terminal-safe text: every value that may come from a file or the tenant goes through
`safe` before it is printed, so control characters (escape sequences, CR, NUL), line and
paragraph separators, BiDi controls and invisible characters (zero-width spaces and joiners,
word joiners, the BOM, soft hyphens, Hangul fillers) show as visible escapes instead of acting
on the terminal or hiding in a name."""
from __future__ import annotations

import json
import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
                      r"\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb]")


def safe(text: Any) -> str:
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))


def literal(value: Any) -> str:
    """A value as the plan shows it: JSON-quoted strings and lists, lowercase booleans."""
    if isinstance(value, tuple):
        value = list(value)
    return safe(json.dumps(value, ensure_ascii=False))
