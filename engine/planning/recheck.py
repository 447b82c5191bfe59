"""The executor's check right before the first step that makes routing live: the rest of the
plan replayed on the rules and connectors as they are now, and stopped if another change made
since the plan (e.g. a second integration applied at the same moment) turns a state on the way
into a loop or rejected mail that the plan did not already accept. Pure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from exoform.engine.mailflow import Simulation
from exoform.engine.mailflow.describe import finding_text
from exoform.engine.model import Kind
from exoform.engine.ownership import owner
from exoform.engine.plan import Plan
from exoform.engine.planning.mailsafety import MailContext, MailSafety, failures
from exoform.engine.planning.mailstates import TenantStates
from exoform.engine.planning.mailtrace import trace_plan
from exoform.engine.read import Obj, TenantRead, name_of

# What the re-read covers: what routes mail (the allow list and the directory do not loop it).
ROUTING_KINDS = (Kind.INBOUND_CONNECTOR, Kind.OUTBOUND_CONNECTOR, Kind.TRANSPORT_RULE)
_LABELS = {Kind.INBOUND_CONNECTOR: "inbound connector", Kind.OUTBOUND_CONNECTOR: "outbound connector",
           Kind.TRANSPORT_RULE: "transport rule"}


@dataclass(frozen=True)
class ConcurrentChange:
    """Why the apply stops before `step`: what appeared, and what it would do with the plan."""

    step: int
    appeared: tuple[str, ...]  # e.g. "transport rule 'X' (new)"
    findings: tuple[str, ...]  # the model's sentences for the failures that would appear

    @property
    def message(self) -> str:
        seen = "; ".join(self.appeared) or "changes to the tenant's rules or connectors"
        return (f"the tenant changed since the plan was made ({seen}): going on with step {self.step + 1} "
                f"would make mail fail ({'; '.join(self.findings)}). Make a new plan (`exoform plan`) against "
                "the tenant as it is now")


def recheck(context: MailContext, plan: Plan, planned_from: TenantRead, fresh: TenantRead) -> ConcurrentChange | None:
    """`planned_from`: the read the plan was made (or checked) against; `fresh`: rules and
    connectors re-read now, with the plan's steps before `plan.live_step` already run."""
    if plan.live_step is None:
        return None
    expected = frozenset().union(*(failures(s.simulation) for s in trace_plan(context, planned_from, plan).states))
    safety = MailSafety(context, fresh, {c.address: c for c in plan.changes})
    allowed = expected | failures(safety.now)
    states = TenantStates.of(fresh)
    for step in plan.steps[plan.live_step:]:
        states.apply(step.call)
        simulation = safety.simulate(states)
        new = failures(simulation) - allowed
        if new:
            return ConcurrentChange(plan.live_step, tuple(_appeared(planned_from, fresh, plan.integration)),
                                    tuple(_sentences(simulation, new)))
    return None


def _sentences(simulation: Simulation, ids: frozenset[str]) -> Iterable[str]:
    return (finding_text(f, simulation) for f in simulation.findings if f.id in ids)


def _appeared(before: TenantRead, now: TenantRead, integration: str) -> Iterable[str]:
    """Other owners' routing objects that are new, changed or gone since `before`."""
    for kind in ROUTING_KINDS:
        old = _others(before.objects(kind), kind, integration)
        new = _others(now.objects(kind), kind, integration)
        for name in sorted(set(old) | set(new)):
            if name not in old:
                yield f"{_LABELS[kind]} '{name_of(new[name])}' (new)"
            elif name not in new:
                yield f"{_LABELS[kind]} '{name_of(old[name])}' (removed)"
            elif _comparable(old[name]) != _comparable(new[name]):
                yield f"{_LABELS[kind]} '{name_of(new[name])}' (changed)"


def _others(objects: Iterable[Obj], kind: Kind, integration: str) -> dict[str, Obj]:
    return {name_of(o).casefold(): o for o in objects if owner(kind, o) != integration}


def _comparable(obj: Obj) -> dict[str, object]:
    # Priorities shift whenever exoform's own rules are placed: they are not a change by someone else.
    return {k: v for k, v in obj.items() if k not in ("Priority", "WhenChanged", "WhenChangedUTC")}
