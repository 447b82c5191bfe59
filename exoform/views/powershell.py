"""PowerShell rendering of cmdlet calls for the seed's "Manual" method. No value can break out
of its string, and the output is pure ASCII, so it parses the same in Windows PowerShell 5.1
(which reads a BOM-less script as ANSI) and in PowerShell 7: printable ASCII goes into single
quotes with `'` doubled, every other character is appended as `[char]N`."""
from __future__ import annotations

import re
from typing import Any

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.errors import PlanError

# The only cmdlets a plan may contain; a tampered saved plan cannot smuggle in another one.
CMDLETS = frozenset(
    f"{verb}-{noun}"
    for noun in ("InboundConnector", "OutboundConnector", "TransportRule")
    for verb in ("New", "Set", "Remove")
) | {"Enable-TransportRule", "Disable-TransportRule", "Set-HostedConnectionFilterPolicy"}
_PARAMETER = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_PLAIN_RUN = re.compile(r"[\x20-\x7e]+")


def quote(text: str) -> str:
    """A PowerShell expression for `text`: `'it''s'`, or `('Gateway ' + [char]220)`."""
    text = str(text)
    if _PLAIN_RUN.fullmatch(text) or not text:
        return "'" + text.replace("'", "''") + "'"
    parts: list[str] = []
    position = 0
    for match in _PLAIN_RUN.finditer(text):
        parts += _chars(text[position:match.start()])
        parts.append("'" + match.group().replace("'", "''") + "'")
        position = match.end()
    parts += _chars(text[position:])
    if parts[0].startswith("[char]"):
        parts.insert(0, "''")  # a string first, so `+` concatenates instead of adding numbers
    return "(" + " + ".join(parts) + ")"


def _chars(text: str) -> list[str]:
    """`[char]N` for each UTF-16 code unit (characters beyond the BMP become surrogate pairs)."""
    units = text.encode("utf-16-le", "surrogatepass")
    return [f"[char]{int.from_bytes(units[i:i + 2], 'little')}" for i in range(0, len(units), 2)]


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
            parts.append(f"Add={value(tuple(item.add))}")
        if item.remove:
            parts.append(f"Remove={value(tuple(item.remove))}")
        return "@{" + "; ".join(parts) + "}"
    if isinstance(item, (tuple, list)):
        return "@(" + ",".join(quote(str(v)) for v in item) + ")"
    return quote(str(item))


def command(call: CmdletCall) -> str:
    """One cmdlet line; switches take the `-Name:$value` form so booleans bind correctly."""
    if call.name not in CMDLETS:
        raise PlanError(f"the plan contains the cmdlet '{ascii(call.name)}', which exoform never "
                        "generates; refusing to write it into a script")
    parts = [call.name]
    for name, item in call.params:
        if not _PARAMETER.fullmatch(name):
            raise PlanError(f"the plan contains the parameter name {ascii(name)} for {call.name}; "
                            "refusing to write it into a script")
        if isinstance(item, bool):
            parts.append(f"-{name}:{value(item)}")
        else:
            parts.append(f"-{name} {value(item)}")
    return " ".join(parts)


def comment(text: str) -> str:
    """A single-line ASCII comment: line breaks, control and non-ASCII characters are escaped."""
    escaped = str(text).encode("ascii", "backslashreplace").decode("ascii")
    return "# " + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", escaped)
