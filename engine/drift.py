"""The drift report: the tenant as read against what the state says exoform last applied, per
attribute (normalized as the diff compares them), plus objects deleted outside exoform, our
allow-list entries removed, our rules' block split or reordered, and marked objects the state
does not know. Proposes nothing; pure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from exoform.engine.blueprint import RULE_ORDER
from exoform.engine.diff import changed_attributes
from exoform.engine.kinds import sensitive_attrs
from exoform.engine.model import Address, Kind, Value, attrs_dict
from exoform.engine.observe import Observed, observe
from exoform.engine.placement import out_of_order
from exoform.engine.state import State, StateResource

CHANGED, DELETED, ENTRIES_REMOVED, MOVED, UNRECORDED = "changed", "deleted", "entries_removed", "moved", "unrecorded"


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
    status: str  # CHANGED | DELETED | ENTRIES_REMOVED | MOVED | UNRECORDED
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


def drift_report(read: Mapping[str, Sequence[Mapping[str, Any]]], state: State) -> DriftReport:
    observed, diagnostics = observe(read, (), state)
    items: list[ResourceDrift] = []
    for record in state.resources:
        item = _resource_drift(record, observed[record.address])
        if item is not None:
            items.append(item)
    items += _moved_rules(read, state, observed)
    items += [ResourceDrift("", "", UNRECORDED, detail=d.message) for d in diagnostics if d.code == "stray_object"]
    notes = tuple(d.message for d in diagnostics if d.code != "stray_object")
    if state.pending is not None:
        notes += (f"an apply was interrupted during {state.pending.cmdlet} '{state.pending.identity}'; "
                  "run `exoform plan` to reconcile",)
    return DriftReport(state.integration, state.serial, len(state.resources), tuple(items), notes)


def _resource_drift(record: StateResource, seen: Observed) -> ResourceDrift | None:
    address, name = str(record.address), record.exchange_name
    if seen.actual is None:
        return ResourceDrift(address, name, DELETED, detail="deleted outside exoform")
    if record.address.kind is Kind.CONNECTION_FILTER_ALLOWLIST:
        gone = tuple(sorted(set(record.owned_entries) - set(seen.policy_entries)))
        if not gone:
            return None
        attribute = AttributeDrift("IPAllowList", record.owned_entries, tuple(e for e in record.owned_entries if e not in gone))
        return ResourceDrift(address, name, ENTRIES_REMOVED, (attribute,),
                             detail=f"entries exoform added were removed: {', '.join(gone)}")
    last, now = attrs_dict(record.attributes), attrs_dict(seen.actual.attributes)
    hidden = sensitive_attrs(record.address.kind)
    changed = changed_attributes(record.address.kind, dict(record.attributes), dict(seen.actual.attributes))
    if not changed:
        return None
    attributes = tuple(AttributeDrift(a, last.get(a), now.get(a), a in hidden) for a in changed)
    return ResourceDrift(address, name, CHANGED, attributes, detail="changed outside exoform")


def _moved_rules(
    read: Mapping[str, Sequence[Mapping[str, Any]]], state: State, observed: Mapping[Address, Observed]
) -> list[ResourceDrift]:
    rules = sorted(read.get("TransportRule", ()), key=lambda r: int(r.get("Priority") or 0))
    current = [str(r.get("Name", "")).casefold() for r in rules]
    ours = {
        a: seen.actual.exchange_name.casefold()
        for a, seen in observed.items()
        if a.kind is Kind.TRANSPORT_RULE and seen.actual is not None and a in RULE_ORDER
    }
    moved = out_of_order(current, ours, RULE_ORDER)
    detail = "exoform's rules are no longer together in the order SPF, Inbound emails, Outbound emails"
    return [
        ResourceDrift(str(a), state.get(a).exchange_name if state.get(a) else ours[a], MOVED, detail=detail)  # type: ignore[union-attr]
        for a in sorted(moved)
    ]
