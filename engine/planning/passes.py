"""The planning passes between observing and scheduling: diff every address, cascade
replacements to rules that route through a replaced connector, and let each kind arrange its
changes (exoform's rules keep their block together). Pure.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

from exoform.engine.kinds import HANDLERS, handler, spec
from exoform.engine.kinds.base import DiffOptions, Observed, PlanContext
from exoform.engine.model import Action, Address
from exoform.engine.plan import Reason, ResourceChange
from exoform.engine.planning.request import PlanRequest


def plan_context(request: PlanRequest, observed: Mapping[Address, Observed]) -> PlanContext:
    return PlanContext(
        read=request.read, integration=request.integration, state=request.state,
        observed=observed, desired={r.address: r for r in request.desired},
        described={r.address: r for r in request.described or request.desired},
        options=DiffOptions(keep_admin_enabled_rules=request.keep_admin_enabled_rules),
    )


def diff_all(request: PlanRequest, ctx: PlanContext) -> dict[Address, ResourceChange]:
    """One change per address that has something to say; a destroy plan says why it deletes."""
    changes: dict[Address, ResourceChange] = {}
    for address, seen in sorted(ctx.observed.items()):
        change = handler(address.kind).diff(address, ctx.desired.get(address), seen,
                                            request.state.get(address), ctx.options)
        if change is None:
            continue
        if change.action is Action.DELETE and address.is_deposed:
            change = dataclasses.replace(change, reason=Reason.DEPOSED)
        elif request.destroying and change.action is Action.DELETE:
            reason = Reason.DESTROY_BY_MARKER if seen.by_marker else Reason.DESTROY
            change = dataclasses.replace(change, reason=reason)
        elif change.action is Action.DELETE and seen.by_marker:
            change = dataclasses.replace(change, reason=Reason.ORPHANED)
        changes[address] = change
    return changes


def cascade_replacements(changes: Mapping[Address, ResourceChange]) -> dict[Address, ResourceChange]:
    """A rule routing through a connector that is replaced must go first and come back after:
    Exchange refuses to remove a connector a rule still references."""
    replaced = {
        (c.address.kind, str(c.before_dict.get("Name", "")).casefold()): c.address
        for c in changes.values()
        if c.action is Action.REPLACE
    }
    out = dict(changes)
    for address, change in changes.items():
        if change.action not in (Action.UPDATE, Action.NOOP) or change.after is None:
            continue
        hit = spec(address.kind).references_in(change.before_dict) & set(replaced)
        if hit:
            target = replaced[sorted(hit)[0]]
            out[address] = dataclasses.replace(
                change, action=Action.REPLACE, reason=Reason.ROUTES_THROUGH_REPLACED,
                reason_subject=str(target))
    return out


def arrange(changes: Mapping[Address, ResourceChange], ctx: PlanContext) -> dict[Address, ResourceChange]:
    """Each kind's own pass over all changes."""
    out = dict(changes)
    for kind_handler in HANDLERS.values():
        out = kind_handler.arrange(out, ctx)
    return out


def forgotten(request: PlanRequest, changes: Mapping[Address, ResourceChange]) -> tuple[Address, ...]:
    """Addresses in state that are gone from the tenant and not wanted: dropped from state."""
    return tuple(r.address for r in request.state.resources if r.address not in changes)
