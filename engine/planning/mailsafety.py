"""Mail safety while a plan runs: the mail-flow model traces every message class in the tenant
now, after every call of the plan and after the plan, and the scheduler keeps only orders in
which no call makes mail loop, be rejected or be lost that did not already before the plan.
What it saw is kept as a `MailReport` for the checks and the views. Pure.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Sequence

from exoform.engine.blueprint import RULE_ORDER
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.mailflow import FindingCode, Gateway, Intent, Simulation, Simulator, Verdict
from exoform.engine.model import Address, Kind
from exoform.engine.ownership import owner
from exoform.engine.plan import ResourceChange
from exoform.engine.planning.mailstates import TenantStates
from exoform.engine.read import Obj, TenantRead

# What must never be worse after any call than before the plan.
FAILURES = frozenset({FindingCode.LOOP, FindingCode.REJECTED, FindingCode.LOST, FindingCode.UNCERTAIN})


@dataclass(frozen=True)
class MailContext:
    """What the model needs from the config: the gateway and what it should protect."""

    gateway: Gateway
    intent: Intent  # Intent.nothing() for a destroy plan


@dataclass(frozen=True)
class UnsafeStep:
    step: int  # index of the step whose call leads to the state
    finding: str  # the finding ID that appears


@dataclass(frozen=True)
class MailReport:
    now: Simulation
    after: tuple[Simulation, ...]  # after each step, in step order
    planned: Simulation  # after the plan
    preview: Simulation | None = None  # staged rules: the planned state once they are enabled
    unsafe: tuple[UnsafeStep, ...] = ()  # no order avoided these
    gaps: tuple[tuple[int, str], ...] = ()  # (step, class) a protected class misses the gateway


def failures(simulation: Simulation) -> frozenset[str]:
    return frozenset(f.id for f in simulation.findings if f.code in FAILURES)


class MailSafety:
    """The simulator of one plan and the tenant before it."""

    def __init__(self, context: MailContext, read: TenantRead, changes: Mapping[Address, ResourceChange]) -> None:
        intent = dataclasses.replace(context.intent, enforced=_enforced(context.intent, changes))
        self.context = context
        self.simulator = Simulator(context.gateway, intent)
        self.start = TenantStates.of(read)
        self.now = self.simulator.simulate(self.start.tenant())
        self.allowed = failures(self.now)  # see `tolerate`

    def simulate(self, states: TenantStates) -> Simulation:
        return self.simulator.simulate(states.tenant())

    def tolerate(self, planned: Simulation) -> None:
        """Failures of the planned state are the plan's findings (an error, or accepted), not a
        step's: the order search looks only for states worse than both ends."""
        self.allowed = self.allowed | failures(planned)

    def new_failures(self, simulation: Simulation) -> frozenset[str]:
        return failures(simulation) - self.allowed

    def report(self, after: Sequence[Simulation], final: TenantStates,
               unsafe: Sequence[UnsafeStep]) -> MailReport:
        planned = after[-1] if after else self.now
        return MailReport(self.now, tuple(after), planned, self.preview(final), tuple(unsafe),
                          tuple(_gaps(self.now, after, planned)))

    def preview(self, final: TenantStates) -> Simulation | None:
        """Staged rules (created disabled, or in Audit mode): how mail flows once they are on."""
        intent = self.simulator.intent
        if intent.enforced or not intent.directions:
            return None
        enforced = dataclasses.replace(intent, enforced=True)
        enabled = final.copy()
        ours = enabled.lists["rules"]
        for index, rule in enumerate(ours):
            if owner(Kind.TRANSPORT_RULE, rule) == intent.integration:
                ours[index] = {**rule, "State": "Enabled", "Mode": "Enforce"}
        return self.simulator.sharing(enforced).simulate(enabled.tenant())


def live_step(calls: Sequence[tuple[Address, CmdletCall, Obj | None]]) -> int | None:
    """The first call after which one of exoform's rules routes or copies mail: where a
    concurrent change by someone else would start to matter."""
    for index, (address, call, after) in enumerate(calls):
        if address.kind is not Kind.TRANSPORT_RULE or after is None:
            continue
        routes = bool(after.get("RouteMessageOutboundConnector") or after.get("BlindCopyTo"))
        switched_on = (call.verb == "New" and call.args.get("Enabled") is not False) or call.verb == "Enable"
        if routes and switched_on:
            return index
    return None


def _enforced(intent: Intent, changes: Mapping[Address, ResourceChange]) -> bool:
    """Whether exoform's routing rules are on and enforcing once the plan has run (an admin may
    have enabled them although the config does not say so)."""
    rules = [changes[a] for a in RULE_ORDER[1:] if a in changes and changes[a].after is not None]
    if not rules or not intent.directions:
        return False
    on = all(c.enabled is not None and c.enabled.after for c in rules)
    return on and all(str(c.after_dict.get("Mode", "Enforce")).casefold() == "enforce" for c in rules)


def _gaps(now: Simulation, after: Sequence[Simulation], planned: Simulation) -> list[tuple[int, str]]:
    """Steps after which a class that passes the gateway before and after the plan does not."""
    protected = {p.message_class for p in now.paths if p.possible and p.possible <= _THROUGH} & {
        p.message_class for p in planned.paths if p.possible and p.possible <= _THROUGH}
    gaps = []
    for index, simulation in enumerate(after):
        for path in simulation.paths:
            if path.message_class in protected and not path.possible <= _THROUGH:
                gaps.append((index, path.message_class.value))
    return gaps


_THROUGH = frozenset({Verdict.SCANNED, Verdict.COPIED})
