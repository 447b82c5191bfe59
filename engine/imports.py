"""Import: bring the state in line with what the tenant holds for this configuration, without a
single tenant call - objects found by marker or (with adoption) by name are recorded as they are
now, records of objects gone from the tenant are dropped. The next plan shows what to fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from exoform.engine.kinds import handler
from exoform.engine.model import Address
from exoform.engine.plan import Plan
from exoform.engine.state import State


@dataclass(frozen=True)
class ImportResult:
    state: State
    taken: tuple[Address, ...] = ()  # not in state before
    refreshed: tuple[Address, ...] = ()  # in state, record now matches the tenant
    dropped: tuple[Address, ...] = ()  # in state, gone from the tenant


def import_state(plan: Plan, state: State, claim: Sequence[str] = ()) -> ImportResult:
    """The state after importing what `plan` (made with adoption) found. `claim` lists shared
    entries to record as exoform's (those a script made from a saved plan added)."""
    new, taken, refreshed, dropped = state, [], [], list(plan.forget)
    for address in plan.forget:
        new = new.drop(address)
    for change in plan.changes:
        kind_handler = handler(change.address.kind)
        had = state.get(change.address)
        record = kind_handler.import_record(change, claim)
        if record is None:  # gone from the tenant (or nothing of ours left in a shared list)
            if had is not None:
                new = new.drop(change.address)
                dropped.append(change.address)
            continue
        if had is None:
            taken.append(change.address)
        elif kind_handler.same_record(had, record):
            continue
        else:
            refreshed.append(change.address)
        new = new.put(record)
    return ImportResult(new, tuple(taken), tuple(refreshed), tuple(sorted(set(dropped))))
