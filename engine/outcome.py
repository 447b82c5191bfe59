"""What an apply left behind: the typed result of running a plan (completed steps, the failed
step and its error, whether a rollback ran and completed) and, when it did not, each thing left
in the tenant as a typed `Leftover` the views put into words.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from exoform.engine.errors import ExoformError
from exoform.engine.state import State


class LeftoverKind(str, Enum):
    MISSING = "missing"  # existed before the apply, gone now
    STILL_PRESENT = "still_present"  # did not exist before, still there
    DIFFERS = "differs"  # `attributes` differ from before
    ORDER = "order"  # transport rules are in another order than before
    ENTRIES_PRESENT = "entries_present"  # allow-list entries still present
    ENTRIES_MISSING = "entries_missing"  # allow-list entries missing
    UNDO_FAILED = "undo_failed"  # the call undoing `step` failed with `error`
    ROLLBACK_STOPPED = "rollback_stopped"  # a signal stopped the rollback before `step`


@dataclass(frozen=True)
class Leftover:
    kind: LeftoverKind
    object_type: str = ""  # the Exchange type of the object
    name: str = ""  # its Exchange name
    items: tuple[str, ...] = ()  # attribute names or allow-list entries
    step: int | None = None  # 0-based index of the plan step concerned
    cmdlet: str = ""
    identity: str = ""
    error: str = ""
    signal: str = ""


@dataclass(frozen=True)
class ApplyResult:
    ok: bool
    state: State
    completed: tuple[int, ...] = ()
    failed_step: int | None = None
    error: ExoformError | None = None
    rolled_back: bool = False
    rollback_complete: bool = True
    leftovers: tuple[Leftover, ...] = ()
    interrupted: str | None = None  # the signal that stopped the apply (e.g. "SIGINT")
