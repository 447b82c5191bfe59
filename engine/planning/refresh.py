"""The refresh-only plan, i.e. the drift report: the tenant as read against what the state
says exoform last applied, each kind judging its own records, plus drift no single record
shows and marked objects the state does not know. Proposes nothing; pure.
"""
from __future__ import annotations

from exoform.engine.drift import DriftReport, DriftStatus, ResourceDrift
from exoform.engine.kinds import HANDLERS, handler
from exoform.engine.planning.observe import observe_all
from exoform.engine.read import TenantRead
from exoform.engine.state import State


def drift_report(read: TenantRead, state: State) -> DriftReport:
    seen = observe_all(read, (), state)
    items: list[ResourceDrift] = []
    for record in state.resources:
        item = handler(record.address.kind).drift(record, seen.observed[record.address])
        if item is not None:
            items.append(item)
    for kind_handler in HANDLERS.values():
        items += kind_handler.extra_drift(read, state, seen.observed)
    items += [ResourceDrift("", "", DriftStatus.UNRECORDED, detail=s.diagnostic().message)
              for s in seen.strays]
    notes = tuple(c.diagnostic().message for c in seen.conflicts)
    if state.pending is not None:
        notes += (f"an apply was interrupted during {state.pending.cmdlet} '{state.pending.identity}'; "
                  "run `exoform plan` to reconcile",)
    return DriftReport(state.integration, state.serial, len(state.resources), tuple(items), notes)
