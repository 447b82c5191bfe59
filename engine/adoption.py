"""Import: bring the state in line with what the tenant holds for this configuration, without a
single tenant call — objects found by marker or (with adoption) by name are recorded as they are
now, records of objects gone from the tenant are dropped. The next plan shows what to fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from exoform.engine.diff import changed_attributes
from exoform.engine.model import Address, Kind, freeze_attrs
from exoform.engine.plan import Plan, ResourceChange
from exoform.engine.record import sync_record
from exoform.engine.state import State, StateResource


@dataclass(frozen=True)
class ImportResult:
    state: State
    taken: tuple[Address, ...] = ()  # not in state before
    refreshed: tuple[Address, ...] = ()  # in state, record now matches the tenant
    dropped: tuple[Address, ...] = ()  # in state, gone from the tenant


def import_state(plan: Plan, state: State, claim: Sequence[str] = ()) -> ImportResult:
    """The state after importing what `plan` (made with adoption) found. `claim` lists allow-list
    entries to record as exoform's (those a script made from a saved plan added)."""
    new, taken, refreshed, dropped = state, [], [], list(plan.forget)
    for address in plan.forget:
        new = new.drop(address)
    for change in plan.changes:
        had = state.get(change.address)
        if change.address.kind is Kind.CONNECTION_FILTER_ALLOWLIST:
            record = _allowlist_record(change, claim)
        else:
            record = sync_record(change) if change.before is not None else None
        if record is None:  # gone from the tenant (or, for the allow list, nothing of ours left)
            if had is not None:
                new = new.drop(change.address)
                dropped.append(change.address)
            continue
        if had is None:
            taken.append(change.address)
        elif _same(had, record):
            continue
        else:
            refreshed.append(change.address)
        new = new.put(record)
    return ImportResult(new, tuple(taken), tuple(refreshed), tuple(sorted(set(dropped))))


def _same(had: StateResource, record: StateResource) -> bool:
    """The record already says what the tenant holds (compared as the diff compares)."""
    kind = had.address.kind
    return (
        had.guid == record.guid
        and had.owned_entries == record.owned_entries
        and not changed_attributes(kind, dict(had.attributes), dict(record.attributes))
    )


def _entries(attrs: Mapping[str, object]) -> set[str]:
    value = attrs.get("IPAllowList")
    return {str(v) for v in value} if isinstance(value, tuple) else set()


def _allowlist_record(change: ResourceChange, claim: Sequence[str]) -> StateResource | None:
    """Our view of the Default allow list now: the relevant entries present, and which are ours
    (those state already owned, plus the claimed ones that are present)."""
    before, after = _entries(change.before_dict), _entries(change.after_dict)
    present = before | (after - set(change.list_add))
    owned = set(change.owned_before) | (set(claim) & present)
    if change.after is None and not owned:
        return None
    attributes = freeze_attrs({"Name": "Default", "IPAllowList": tuple(sorted(present))})
    return StateResource(change.address, "Default", None, attributes, owned_entries=tuple(sorted(owned)))
