"""The read-only and state-only operations: verify (does the tenant match?), drift (what
changed outside exoform since the last apply?) and import (record what the tenant holds for
this configuration, with no tenant call). Each returns a typed result for the views.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from exoform.engine.drift import DriftReport
from exoform.engine.errors import ExoformError, PlanError
from exoform.engine.ipv4 import canonical
from exoform.engine.imports import ImportResult, import_state
from exoform.engine.model import Address
from exoform.engine.operations.saved import matching_saved_plan
from exoform.engine.operations.session import PlanOptions, Session, mail_context, request_for
from exoform.engine.checks.mailflow import now_diagnostics
from exoform.engine.checks.risk import accept_risks
from exoform.engine.plan import Diagnostic, Plan, Reason, Severity
from exoform.engine.planning.mailtrace import simulate_now
from exoform.engine.read import TenantRead, values
from exoform.engine.state import State
from exoform.engine.planning import plan_observed
from exoform.engine.planning.refresh import drift_report


class ImportBlocked(PlanError):
    """Objects with the configured names belong to another integration: nothing imported."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        super().__init__("objects with the configured names belong to another integration (above); "
                         "nothing was imported")


@dataclass(frozen=True)
class Verification:
    plan: Plan
    mail: tuple[Diagnostic, ...] = ()  # the mail-flow model's findings about the tenant now

    @property
    def matches(self) -> bool:
        """Only tenant work counts: recording objects in state does not; mail that does not
        flow as intended now (a loop, a bypass: an error not accepted) is not a match either."""
        return not self.blocked and not self.plan.steps and not _errors(self.mail)

    @property
    def blocked(self) -> bool:
        """The plan has errors other than the mail-flow model's (those mean "not as intended")."""
        return any(not d.code.startswith("mail_") for d in self.plan.errors)


@dataclass(frozen=True)
class DriftOutcome:
    report: DriftReport
    tenant: str
    has_state: bool
    mail: tuple[Diagnostic, ...] = ()  # the mail-flow model's findings about the tenant now

    @property
    def drifted(self) -> bool:
        """Changed outside exoform, or mail not flowing as the config intends."""
        return self.report.drifted or bool(_errors(self.mail))


def _errors(found: tuple[Diagnostic, ...]) -> tuple[Diagnostic, ...]:
    return tuple(d for d in found if d.severity is Severity.ERROR)


@dataclass(frozen=True)
class ImportOutcome:
    found: Plan  # the plan with adoption that import recorded from
    result: ImportResult
    after: Plan  # what the next `exoform apply` would change
    unmarked: tuple[Address, ...]  # taken into state without exoform's marker (apply writes it)


def verify(session: Session, options: PlanOptions) -> Verification:
    with session.connected() as provider:
        state = session.load_state()
        read = session.read(provider)
        plan = session.make_plan(read, state, options)
    return Verification(plan, mail_now(session, read, state, options))


def drift(session: Session) -> DriftOutcome:
    with session.connected() as provider:
        state = session.load_state()
        read = session.read(provider)
    report = drift_report(read, state)
    mail = mail_now(session, read, state) if state.resources else ()
    return DriftOutcome(report, session.tenant, session.store.exists(), mail)


def mail_now(session: Session, read: TenantRead, state: State, options: PlanOptions = PlanOptions()
             ) -> tuple[Diagnostic, ...]:
    """What the mail-flow model finds wrong in the tenant as it is (warnings and errors)."""
    names = {r.exchange_name.casefold(): str(r.address) for r in state.resources}
    simulation = simulate_now(mail_context(session.spec, read, options.operation), read)
    found = accept_risks(now_diagnostics(simulation, names), options.accepted_risks, session.spec.accept_risks)
    # An accepted ID the tenant now does not show is the plan's to report, not drift's.
    return tuple(d for d in found if d.severity is not Severity.INFO and d.code != "unknown_risk_id")


def _claimable(session: Session, entries: Sequence[str]) -> tuple[str, ...]:
    """Only the gateway's own ranges may be claimed: anything else is the admin's."""
    ranges = {canonical(r) for r in session.spec.gateway.ip_ranges}
    found = []
    for entry in entries:
        if canonical(entry) not in ranges:
            raise ExoformError(f"--claim-entry {entry!r} is not one of the gateway's ranges in "
                             f"{session.spec.source} ({', '.join(session.spec.gateway.ip_ranges)}); only "
                             "entries exoform would add can be claimed")
        found.append(canonical(entry))
    return tuple(dict.fromkeys(found))


def _present(read: TenantRead, entries: Sequence[str]) -> None:
    policy = read.default_policy()
    listed = {canonical(e) for e in values(policy, "IPAllowList")} if policy else set()
    missing = [e for e in entries if e not in listed]
    if missing:
        raise ExoformError(f"--claim-entry {', '.join(missing)}: not in the Default connection filter "
                         "policy's IP allow list, so there is nothing to claim (nothing was imported)")


def claimed_entries(session: Session, path: Path, state: State) -> tuple[str, ...]:
    """The shared-list entries a script made from the saved plan at `path` added. The plan must
    be an apply plan made for this tenant, config and state as it is (as `apply` requires), but
    it is not re-planned: the script already ran it."""
    plan = matching_saved_plan(session, path, state)
    if plan.operation != "apply":
        raise PlanError(f"{path} is a {plan.operation} plan, not an apply plan: it added no entries")
    return tuple(entry for change in plan.changes if change.edit for entry in change.edit.add)


def import_objects(session: Session, claim_from: Path | None, claim: Sequence[str] = ()) -> ImportOutcome:
    """`claim_from`: a saved plan whose script ran (its entries become exoform's); `claim`:
    entries of the gateway's ranges to own after a lost state (`--claim-entry`)."""
    wanted = _claimable(session, claim)
    with session.connected() as provider, session.locked("exoform import"):
        state = session.load_state()
        claimed = claimed_entries(session, claim_from, state) if claim_from else ()
        read = session.read(provider)
        _present(read, wanted)
        claim = (*claimed, *wanted)
        found, seen = plan_observed(request_for(session.spec, read, state, tenant=session.tenant, adopt=True))
        if seen.conflicts:  # with adoption, only objects of other integrations are left
            raise ImportBlocked(found)
        result = import_state(found, state, claim)
        if not result.state.same_content(state):
            session.store.save(result.state)
        after = session.make_plan(read, result.state, PlanOptions())
    unmarked = tuple(a for a in result.taken if found.change(a).reason is Reason.ADOPTED_BY_NAME)
    return ImportOutcome(found, result, after, unmarked)
