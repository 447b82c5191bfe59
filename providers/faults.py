"""Fault injection for the sandbox and the HTTP emulator: `EXOFORM_FAULTS=Cmdlet#N[:kind],...`.

The Nth call of a cmdlet in this process (every call counts, Get- and retries included, from 1)
gets the fault: `error` (a non-retryable server error), `throttle` (429), `unavailable` (503,
retried with backoff) or `crash` (the call takes effect, then the process dies). `FaultPlan` only
decides; the caller injects.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import Iterable, Mapping, NoReturn, Protocol

from exoform.engine.errors import InputError, Issue

ENV_VAR = "EXOFORM_FAULTS"
FAULT_KINDS = ("error", "throttle", "unavailable", "crash")
EXPECTED_FORM = (
    "expected Cmdlet#N[:kind], e.g. New-TransportRule#2:throttle, with N a whole number from 1"
    f" and kind one of {', '.join(FAULT_KINDS)} (default error)"
)
CRASH_EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL
_ITEM = re.compile(r"^(?P<cmdlet>[A-Za-z]+-[A-Za-z]+)#(?P<n>[0-9]+)(?::(?P<kind>[A-Za-z]+))?$")


class FaultSource(Protocol):
    """What an injector needs of `FaultPlan` (tests pass their own)."""

    def next(self, cmdlet: str) -> str | None: ...


def die() -> NoReturn:
    """A `crash` fault: end the process at once, as if killed (no cleanup, no output)."""
    os._exit(CRASH_EXIT_CODE)


@dataclass(frozen=True)
class Fault:
    """Inject `kind` into call number `call` (from 1) of `cmdlet`."""

    cmdlet: str
    call: int
    kind: str = "error"

    def __str__(self) -> str:
        return f"{self.cmdlet}#{self.call}:{self.kind}"


class FaultPlan:
    """Counts calls per cmdlet and says which call gets which fault. Safe across threads."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self.faults = tuple(faults)
        self._by_call = {(f.cmdlet.lower(), f.call): f.kind for f in self.faults}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, text: str) -> "FaultPlan":
        """Parse an `EXOFORM_FAULTS` value; raises InputError naming every malformed item."""
        if not text.strip():
            return cls()
        faults: list[Fault] = []
        issues: list[Issue] = []
        for index, raw in enumerate(text.split(",")):
            fault, problem = _parse_item(raw.strip())
            if problem:
                issues.append(Issue(f"item {index + 1}", problem))
            elif fault is not None:
                issues.extend(_conflicts(fault, faults, index))
                faults.append(fault)
        if issues:
            raise InputError(ENV_VAR, issues)
        return cls(faults)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "FaultPlan":
        return cls.parse(environ.get(ENV_VAR, ""))

    def next(self, cmdlet: str) -> str | None:
        """Count one call of `cmdlet`; the fault kind to inject into it, or None."""
        key = cmdlet.lower()
        with self._lock:
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        return self._by_call.get((key, count))

    def count(self, cmdlet: str) -> int:
        """How many calls of `cmdlet` were counted so far."""
        with self._lock:
            return self._counts.get(cmdlet.lower(), 0)


def _parse_item(item: str) -> tuple[Fault | None, str | None]:
    match = _ITEM.match(item)
    if not match:
        return None, f"'{item}' is malformed: {EXPECTED_FORM}"
    call = int(match["n"])
    kind = (match["kind"] or "error").lower()
    if call < 1:
        return None, f"'{item}': the call number must be 1 or more; {EXPECTED_FORM}"
    if kind not in FAULT_KINDS:
        return None, f"'{item}': unknown fault kind '{match['kind']}'; {EXPECTED_FORM}"
    return Fault(match["cmdlet"], call, kind), None


def _conflicts(fault: Fault, earlier: list[Fault], index: int) -> list[Issue]:
    """A call can get one fault only; naming it twice with different kinds is an error."""
    return [
        Issue(
            f"item {index + 1}",
            f"'{fault}' conflicts with '{other}': one call can get only one fault",
        )
        for other in earlier
        if (other.cmdlet.lower(), other.call) == (fault.cmdlet.lower(), fault.call)
        and other.kind != fault.kind
    ]
