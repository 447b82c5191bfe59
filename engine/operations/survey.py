"""Where one integration stands on its tenant, from one read: the plan apply would make now, the
drift since the last apply, what the mail-flow model finds in the tenant as it is (rules counted
as enforcing only if they are), and the tenant's connectors and rules for object queries.
"""
from __future__ import annotations

from dataclasses import dataclass

from exoform.engine.drift import DriftReport
from exoform.engine.model import Kind
from exoform.engine.operations.reports import mail_now
from exoform.engine.operations.session import PlanOptions, Session
from exoform.engine.plan import Diagnostic, Plan
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
                  mail_now(session, read, state), tenant_objects(read))


def tenant_objects(read: TenantRead) -> tuple[TenantObject, ...]:
    return tuple(TenantObject(kind, name_of(obj), read.owner(kind, obj),
                              tuple(h.strip("[]").lower() for h in values(obj, "SmartHosts")))
                 for kind in QUERIED_KINDS for obj in read.objects(kind))
