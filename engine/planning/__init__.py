"""Planning: the desired resources + the tenant as read + the state -> an ordered `Plan`, as a
list of named passes - observe, diff, check, cascade replacements, arrange (each kind's own
pass), schedule - in the manner of Terraform's graph builder steps. Pure: no I/O, no clock.
"""
from __future__ import annotations

from typing import Any, Mapping

from exoform.engine.checks import CheckContext, diagnose, finish
from exoform.engine.model import Address
from exoform.engine.plan import FlowOutcome, Plan, ResourceChange
from exoform.engine.planning.mailsafety import MailReport, live_step
from exoform.engine.planning.observe import Observations, observe_all
from exoform.engine.planning.passes import arrange, cascade_replacements, diff_all, forgotten, plan_context
from exoform.engine.planning.request import PlanRequest
from exoform.engine.planning.schedule import schedule_steps


def make_plan(request: PlanRequest) -> Plan:
    return plan_observed(request)[0]


def plan_observed(request: PlanRequest) -> tuple[Plan, Observations]:
    """The plan, and what observing found on the way (conflicts and strays, typed)."""
    seen = observe_all(request.read, request.desired, request.state, request.adopt,
                       destroying=request.destroying, described=request.described)
    ctx = plan_context(request, seen.observed)
    changes = diff_all(request, ctx)
    diagnostics = diagnose(CheckContext(request, ctx, changes), seen.diagnostics)
    changes = cascade_replacements(changes)
    changes = arrange(changes, ctx)
    steps, changes, report = schedule_steps(changes, request)
    names = {c.exchange_name.casefold(): str(a) for a, c in changes.items()}
    diagnostics = finish(diagnostics, report, steps, names, request.accepted_risks, request.config_risks)
    state = request.state
    plan = Plan(
        integration=request.integration,
        operation=request.operation,
        changes=tuple(changes[a] for a in sorted(changes)),
        steps=tuple(steps),
        diagnostics=tuple(diagnostics),
        flow=flow_outcomes(report),
        live_step=live_step([(s.address, s.call, _after(changes, s.address)) for s in steps]),
        forget=forgotten(request, changes),
        # A state that was never written has no lineage to pin yet (as Terraform does).
        state_lineage=state.lineage if state.persisted else "",
        state_serial=state.serial,
        config_digest=request.config_digest,
        provider=request.provider,
        tenant=request.tenant,
        adopt=request.adopt,
        accepted_risks=request.accepted_risks,
    )
    return plan, seen


def flow_outcomes(report: MailReport | None) -> tuple[FlowOutcome, ...]:
    if report is None:
        return ()
    return tuple(FlowOutcome(p.message_class.value, tuple(sorted(v.value for v in p.possible)),
                             p.expectation.intended.value, p.ok) for p in report.planned.paths)


def _after(changes: Mapping[Address, ResourceChange], address: Address) -> Mapping[str, Any] | None:
    change = changes.get(address)
    return change.after_dict if change is not None and change.after is not None else None


__all__ = ["Observations", "PlanRequest", "make_plan", "plan_observed"]
