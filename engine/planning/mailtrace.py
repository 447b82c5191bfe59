"""The mail-flow model over a whole plan, for `exoform trace` and for drift and verify: every
message class in the tenant now, after each step of the plan (its calls replayed on the read
objects, as the scheduler simulated them) and after the plan. Pure.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from exoform.engine.mailflow import Intent, Simulation, Simulator
from exoform.engine.model import Kind
from exoform.engine.ownership import owner
from exoform.engine.plan import Plan
from exoform.engine.planning.mailsafety import MailContext, MailSafety
from exoform.engine.planning.mailstates import TenantStates
from exoform.engine.read import TenantRead

NOW = "now"
PLANNED = "planned"
ENABLED = "enabled"  # staged rules (created disabled or in Audit mode) once they are enforced


@dataclass(frozen=True)
class TracedState:
    at: str  # NOW, "step N" (after step N's call, numbered from 1 as the views do) or PLANNED
    simulation: Simulation
    step: int | None = None  # the index of that step


@dataclass(frozen=True)
class MailTrace:
    integration: str
    states: tuple[TracedState, ...]  # NOW first, PLANNED last
    enabled: Simulation | None = None  # ENABLED: staged rules once switched on

    @property
    def now(self) -> Simulation:
        return self.states[0].simulation

    @property
    def planned(self) -> Simulation:
        return self.states[-1].simulation

    @property
    def as_intended(self) -> bool:
        """No state on the way loops, rejects or loses mail, and the planned one meets the intent."""
        return all(s.simulation.safe for s in self.states) and self.planned.ok


def trace_plan(context: MailContext, read: TenantRead, plan: Plan) -> MailTrace:
    """The tenant as read, then the state after each of `plan`'s steps, then the planned state
    (the same as the last step's, or the tenant now for a plan without steps)."""
    safety = MailSafety(context, read, {c.address: c for c in plan.changes})
    states = TenantStates.of(read)
    traced = [TracedState(NOW, safety.now)]
    for step in plan.steps:
        states.apply(step.call)
        traced.append(TracedState(f"step {step.index + 1}", safety.simulate(states), step.index))
    traced.append(TracedState(PLANNED, traced[-1].simulation))
    return MailTrace(plan.integration, tuple(traced), safety.preview(states))


def simulate_now(context: MailContext, read: TenantRead) -> Simulation:
    """The tenant as it is, judged against the config: with the rules enforcing exactly when
    exoform's routing rules in the tenant are on and in Enforce mode (drift, verify)."""
    intent = dataclasses.replace(context.intent, enforced=enforced_now(context.intent, read))
    return Simulator(context.gateway, intent).simulate(TenantStates.of(read).tenant())


def enforced_now(intent: Intent, read: TenantRead) -> bool:
    ours = [r for r in read.rules() if owner(Kind.TRANSPORT_RULE, r) == intent.integration
            and (r.get("RouteMessageOutboundConnector") or r.get("BlindCopyTo"))]
    if not ours or not intent.directions:
        return False
    return all(str(r.get("State", "Enabled")).casefold() == "enabled"
               and str(r.get("Mode", "Enforce")).casefold() == "enforce" for r in ours)

