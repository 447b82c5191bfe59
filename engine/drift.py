"""Drift report data: the tenant as read against what the state says exoform last applied, per
attribute, plus objects deleted outside exoform, allow-list entries removed, exoform's rule
block split or reordered, and marked objects the state does not know. Built by
`engine/planning/refresh.py`; rendered by the CLI's views.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from exoform.engine.model import Value


class DriftStatus(str, Enum):
    CHANGED = "changed"
    DELETED = "deleted"
    ENTRIES_REMOVED = "entries_removed"
    MOVED = "moved"
    UNRECORDED = "unrecorded"


# The names the report's JSON and earlier callers use.
CHANGED, DELETED, ENTRIES_REMOVED, MOVED, UNRECORDED = (
    DriftStatus.CHANGED, DriftStatus.DELETED, DriftStatus.ENTRIES_REMOVED, DriftStatus.MOVED,
    DriftStatus.UNRECORDED)


@dataclass(frozen=True)
class AttributeDrift:
    name: str
    last_applied: Value
    actual: Value
    sensitive: bool = False


@dataclass(frozen=True)
class ResourceDrift:
    address: str  # "" for an object the state does not know
    exchange_name: str
    status: DriftStatus
    attributes: tuple[AttributeDrift, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class DriftReport:
    integration: str
    state_serial: int
    checked: int  # resources the state records
    items: tuple[ResourceDrift, ...]
    notes: tuple[str, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.items)
