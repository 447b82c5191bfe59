"""Where one integration stands on its tenant, from one read: the plan apply would make now, the
drift since the last apply, what the mail-flow model finds in the tenant as it is (rules counted
as enforcing only if they are), and the tenant's connectors and rules for object queries.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from exoform.engine.blueprint import RULE_ORDER
from exoform.engine.checks.mailflow import now_diagnostics
from exoform.engine.drift import DriftReport
from exoform.engine.mailflow import Simulator
from exoform.engine.model import Kind
from exoform.engine.operations.session import PlanOptions, Session, mail_context
from exoform.engine.plan import Diagnostic, Plan
from exoform.engine.planning.mailstates import TenantStates
from exoform.engine.planning.refresh import drift_report
from exoform.engine.read import TenantRead, name_of, values

QUERIED_KINDS = (Kind.INBOUND_CONNECTOR, Kind.OUTBOUND_CONNECTOR, Kind.TRANSPORT_RULE)


@dataclass(frozen=True)
class TenantObject:
    """A connector or rule as read, with what object queries look at."""

    kind: Kind
    name: str
    owner: str | None  # the integration whose marker it carries
    smart_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Survey:
    plan: Plan  # what `exoform apply` would do now
    drift: DriftReport
    has_state: bool
    mail_now: tuple[Diagnostic, ...]  # the mail-flow model on the tenant as it is
    objects: tuple[TenantObject, ...]

    @property
    def installed(self) -> bool:
        """The state records resources, or objects in the tenant carry the integration's marker."""
        return self.drift.checked > 0 or any(o.owner == self.plan.integration for o in self.objects)


def survey(session: Session) -> Survey:
    """One read of the tenant, nothing written."""
    with session.connected() as provider:
        state = session.load_state()
        read = session.read(provider)
    plan = session.make_plan(read, state, PlanOptions())
    return Survey(plan, drift_report(read, state), session.store.exists(),
                  mail_now(session, read, plan), tenant_objects(read))


def mail_now(session: Session, read: TenantRead, plan: Plan) -> tuple[Diagnostic, ...]:
    context = mail_context(session.spec)
    intent = dataclasses.replace(context.intent, enforced=_enforcing(plan))
    simulation = Simulator(context.gateway, intent).simulate(TenantStates.of(read).tenant())
    names = {c.exchange_name.casefold(): str(c.address) for c in plan.changes}
    return tuple(now_diagnostics(simulation, names))


def _enforcing(plan: Plan) -> bool:
    """exoform's routing rules are in the tenant, enabled and enforcing, as read."""
    addresses = {c.address: c for c in plan.changes}
    rules = [addresses[a] for a in RULE_ORDER[1:] if a in addresses and addresses[a].before is not None]
    return bool(rules) and all(
        c.enabled is not None and c.enabled.before is True
        and str(c.before_dict.get("Mode", "Enforce")).casefold() == "enforce" for c in rules)


def tenant_objects(read: TenantRead) -> tuple[TenantObject, ...]:
    return tuple(TenantObject(kind, name_of(obj), read.owner(kind, obj),
                              tuple(h.strip("[]").lower() for h in values(obj, "SmartHosts")))
                 for kind in QUERIED_KINDS for obj in read.objects(kind))
