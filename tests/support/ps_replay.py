"""A test-only interpreter of the PowerShell scripts `exoform script` writes, independent of the
renderer: it tokenizes each cmdlet line the way PowerShell's tokenizer would (single-quoted
strings closed by any of ' ‘ ’ ‚ ‛ and doubled to escape, `('a' + [char]N)` concatenations,
@(..) arrays, @{Add=..; Remove=..} hashtables, $true/$false/$null, integers, `-Name:$value`
switches) into `CmdletCall`s, and replays a script against a provider, stopping at the first
error as `$ErrorActionPreference = 'Stop'` does. Anything else in a script is an error (the
real grammar's view of the same scripts: tests/test_script_grammar.py)."""
from __future__ import annotations

import re
from typing import Any

from exoform.engine.cmdlets import CmdletCall, ListEdit

QUOTES = "'\u2018\u2019\u201a\u201b"
PREAMBLE = "$ErrorActionPreference = 'Stop'"
REQUIRES = ("#Requires -Version 5.1", "#Requires -Modules ExchangeOnlineManagement")
BINDING = ("[CmdletBinding(SupportsShouldProcess = $true)]", "param()")
WHATIF = " -WhatIf:$WhatIfPreference"
# The session check before the first change (reads only; the replay has no session to check).
_CHECK = re.compile(r"\$exoformSessions = @\(Get-ConnectionInformation\)\Z|if \(-not \(.*\)\) \{ throw '[^']*' \}\Z")
_CMDLET = re.compile(r"[A-Z][a-z]+-[A-Za-z]+")
_PARAM = re.compile(r"-([A-Za-z][A-Za-z0-9]*)(:?)")
_INT = re.compile(r"-?[0-9]+")
_CHAR = re.compile(r"\[char\]([0-9]+)")


class ScriptError(Exception):
    """The line is not something `exoform script` may write."""


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def skip_spaces(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.pos += 1

    def expect(self, literal: str) -> None:
        if not self.text.startswith(literal, self.pos):
            raise ScriptError(f"expected {literal!r} at {self.pos}: {self.text[self.pos:self.pos + 20]!r}")
        self.pos += len(literal)

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = pattern.match(self.text, self.pos)
        if found:
            self.pos = found.end()
        return found


def single_quoted(reader: _Reader) -> str:
    """A verbatim string: no expansion at all; two quote characters in a row stand for the
    second one (PowerShell's tokenizer), a lone one ends the string."""
    if reader.peek() not in QUOTES or not reader.peek():
        raise ScriptError(f"expected a quote at {reader.pos}")
    reader.pos += 1
    out = []
    while True:
        if reader.pos >= len(reader.text):
            raise ScriptError("unterminated string")
        char = reader.text[reader.pos]
        reader.pos += 1
        if char in QUOTES:
            if reader.peek() and reader.peek() in QUOTES:
                out.append(reader.text[reader.pos])
                reader.pos += 1
                continue
            return "".join(out)
        out.append(char)


def _concatenation(reader: _Reader) -> str:
    """`( 'text' + [char]N + ... )`: must start with a string so `+` concatenates."""
    reader.expect("(")
    reader.skip_spaces()
    parts = [single_quoted(reader)]
    while True:
        reader.skip_spaces()
        if reader.peek() == ")":
            reader.pos += 1
            return "".join(parts)
        reader.expect("+")
        reader.skip_spaces()
        char = reader.match(_CHAR)
        parts.append(chr(int(char.group(1))) if char else single_quoted(reader))


def string_expr(reader: _Reader) -> str:
    text = _concatenation(reader) if reader.peek() == "(" else single_quoted(reader)
    # .NET strings are UTF-16: surrogate pairs written as two [char]s join into one character.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _array(reader: _Reader) -> tuple[str, ...]:
    reader.expect("@(")
    items: list[str] = []
    while True:
        reader.skip_spaces()
        if reader.peek() == ")":
            reader.pos += 1
            return tuple(items)
        if items:
            reader.expect(",")
            reader.skip_spaces()
        items.append(string_expr(reader))


def _hashtable(reader: _Reader) -> ListEdit:
    reader.expect("@{")
    found: dict[str, tuple[str, ...]] = {}
    while True:
        reader.skip_spaces()
        if reader.peek() == "}":
            reader.pos += 1
            return ListEdit(add=found.get("Add", ()), remove=found.get("Remove", ()))
        if found:
            reader.expect(";")
            reader.skip_spaces()
        key = reader.match(re.compile(r"(Add|Remove)="))
        if key is None or key.group(1) in found:
            raise ScriptError(f"bad hashtable key at {reader.pos}")
        found[key.group(1)] = _array(reader)


def parse_value(reader: _Reader) -> Any:
    for literal, result in (("$true", True), ("$false", False), ("$null", None)):
        if reader.text.startswith(literal, reader.pos):
            reader.pos += len(literal)
            return result
    if reader.peek(2) == "@(":
        return _array(reader)
    if reader.peek(2) == "@{":
        return _hashtable(reader)
    number = reader.match(_INT)
    if number:
        return int(number.group())
    return string_expr(reader)


def parse_command(line: str) -> CmdletCall:
    """One cmdlet line back into the call it was rendered from."""
    reader = _Reader(line)
    name = reader.match(_CMDLET)
    if name is None:
        raise ScriptError(f"not a cmdlet line: {line[:40]!r}")
    params: dict[str, Any] = {}
    while True:
        reader.skip_spaces()
        if reader.pos == len(line):
            return CmdletCall.of(name.group(), params)
        param = reader.match(_PARAM)
        if param is None or param.group(1) in params:
            raise ScriptError(f"expected a new -Parameter at {reader.pos} in {line[:60]!r}")
        if param.group(2):  # -Name:$value binds a switch/boolean
            bound = parse_value(reader)
            if not isinstance(bound, bool):
                raise ScriptError(f"-{param.group(1)}: takes $true/$false")
        else:
            if reader.peek() != " ":
                raise ScriptError(f"-{param.group(1)} needs a value")
            reader.skip_spaces()
            bound = parse_value(reader)
        if reader.peek() not in ("", " "):
            raise ScriptError(f"junk after -{param.group(1)} at {reader.pos}: {line[reader.pos:reader.pos + 20]!r}")
        params[param.group(1)] = bound


def script_calls(script: str) -> list[CmdletCall]:
    """Every cmdlet of a script, in order; the script must be exactly what exoform writes: the
    #Requires lines first, the CmdletBinding and param() lines, the preamble, the session check,
    then cmdlet lines that each pass -WhatIf on."""
    if "\r" in script or not script.isascii():
        raise ScriptError("scripts are ASCII with LF line ends")
    lines = script.split("\n")
    if tuple(lines[:2]) != REQUIRES:
        raise ScriptError("a script starts with #Requires -Version 5.1 and -Modules ExchangeOnlineManagement")
    code = [line for line in lines if line and not line.startswith("#")]
    if tuple(code[:3]) != (*BINDING, PREAMBLE):
        raise ScriptError("[CmdletBinding(SupportsShouldProcess)] param() and the preamble come first")
    calls, checked = [], False
    for line in code[3:]:
        if _CHECK.match(line) and not calls:
            checked = True
            continue
        if not checked:
            raise ScriptError("a cmdlet before the session check")
        if not line.endswith(WHATIF):
            raise ScriptError(f"a cmdlet that does not pass -WhatIf on: {line[:60]!r}")
        calls.append(parse_command(line[:-len(WHATIF)]))
    return calls


def replay(script: str, provider: Any) -> list[list[dict[str, Any]]]:
    """Run a script's cmdlets through `provider`; the first error propagates (Stop)."""
    return [provider.invoke(call) for call in script_calls(script)]
