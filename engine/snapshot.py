"""A comparable picture of the tenant (each kind's objects with their managed attributes
normalized, the rules' relative order, the allow list), used to verify that a rollback left the
tenant exactly as it was before the apply; differences come back as typed leftovers.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Collection, Mapping

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


def others_changes(before: Mapping[str, Any], since: Mapping[str, Any], names: Collection[str],
                   entries: Collection[str]) -> list[Leftover]:
    """What changed between `before` and `since` that is not exoform's plan: objects not named
    `names` (casefolded) and allow-list entries not in `entries`. A rollback after a concurrent
    change leaves these in place, and they are not its leftovers."""
    found = []
    for item in compare_snapshots(before, since):
        if item.name.casefold() in names:
            continue
        if item.items and item.object_type == Kind.CONNECTION_FILTER_ALLOWLIST.exchange_type:
            item = dataclasses.replace(item, items=tuple(e for e in item.items if e.casefold() not in entries))
            if not item.items:
                continue
        found.append(item)
    return found


def without(leftovers: list[Leftover], others: list[Leftover]) -> list[Leftover]:
    """`leftovers` less what `others` explains (the same difference, or its entries)."""
    kept = []
    for item in leftovers:
        match = [o for o in others if (o.kind, o.object_type, o.name) == (item.kind, item.object_type, item.name)]
        rest = tuple(e for e in item.items if not any(e in o.items for o in match))
        if match and (not item.items or not rest):
            continue
        kept.append(dataclasses.replace(item, items=rest) if match else item)
    return kept
