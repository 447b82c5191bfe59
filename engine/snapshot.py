"""A comparable picture of the tenant (each kind's objects with their managed attributes
normalized, the rules' relative order, the allow list), used to verify that a rollback left the
tenant exactly as it was before the apply; differences come back as typed leftovers.
"""
from __future__ import annotations

from typing import Any, Mapping

from exoform.engine.kinds import handler
from exoform.engine.model import KIND_ORDER, Kind
from exoform.engine.outcome import Leftover, LeftoverKind
from exoform.engine.read import TenantRead

# The order differences are reported in: connectors and rules, then the allow list.
_KINDS = (Kind.INBOUND_CONNECTOR, Kind.OUTBOUND_CONNECTOR, Kind.TRANSPORT_RULE,
          Kind.CONNECTION_FILTER_ALLOWLIST)
_OBJECT_LEVEL = (LeftoverKind.MISSING, LeftoverKind.STILL_PRESENT, LeftoverKind.DIFFERS)
assert set(_KINDS) == set(KIND_ORDER)


def snapshot(read: TenantRead) -> dict[str, Any]:
    return {kind.value: handler(kind).picture(read) for kind in _KINDS}


def compare_snapshots(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Leftover]:
    """Every difference (empty when the tenant is as it was). A changed rule order is only
    worth saying when no object differs (a missing rule changes the order too)."""
    found: list[Leftover] = []
    for kind in _KINDS:
        found += handler(kind).compare(before[kind.value], after[kind.value])
    if any(item.kind in _OBJECT_LEVEL for item in found):
        found = [item for item in found if item.kind is not LeftoverKind.ORDER]
    return found
