"""The read-only and state-only operations: verify (does the tenant match?), drift (what
changed outside exoform since the last apply?) and import (record what the tenant holds for
this configuration, with no tenant call). Each returns a typed result for the views.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exoform.engine.drift import DriftReport
from exoform.engine.errors import PlanError
from exoform.engine.imports import ImportResult, import_state
from exoform.engine.model import Address
from exoform.engine.operations.saved import matching_saved_plan
from exoform.engine.operations.session import PlanOptions, Session, request_for
from exoform.engine.plan import Plan, Reason
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

    @property
    def matches(self) -> bool:
        """Only tenant work counts: recording objects in state does not."""
        return not self.plan.errors and not self.plan.steps


@dataclass(frozen=True)
class DriftOutcome:
    report: DriftReport
    tenant: str
    has_state: bool


@dataclass(frozen=True)
class ImportOutcome:
    found: Plan  # the plan with adoption that import recorded from
    result: ImportResult
    after: Plan  # what the next `exoform apply` would change
    unmarked: tuple[Address, ...]  # taken into state without exoform's marker (apply writes it)


def verify(session: Session, options: PlanOptions) -> Verification:
    return Verification(session.plan(options))


def drift(session: Session) -> DriftOutcome:
    with session.connected() as provider:
        state = session.load_state()
        report = drift_report(session.read(provider), state)
    return DriftOutcome(report, session.tenant, session.store.exists())


def claimed_entries(session: Session, path: Path, state: State) -> tuple[str, ...]:
    """The shared-list entries a script made from the saved plan at `path` added. The plan must
    be an apply plan made for this tenant, config and state as it is (as `apply` requires), but
    it is not re-planned: the script already ran it."""
    plan = matching_saved_plan(session, path, state)
    if plan.operation != "apply":
        raise PlanError(f"{path} is a {plan.operation} plan, not an apply plan: it added no entries")
    return tuple(entry for change in plan.changes if change.edit for entry in change.edit.add)


def import_objects(session: Session, claim_from: Path | None) -> ImportOutcome:
    with session.connected() as provider, session.locked("exoform import"):
        state = session.load_state()
        claim = claimed_entries(session, claim_from, state) if claim_from else ()
        read = session.read(provider)
        found, seen = plan_observed(request_for(session.spec, read, state, tenant=session.tenant, adopt=True))
        if seen.conflicts:  # with adoption, only objects of other integrations are left
            raise ImportBlocked(found)
        result = import_state(found, state, claim)
        if not result.state.same_content(state):
            session.store.save(result.state)
        after = session.make_plan(read, result.state, PlanOptions())
    unmarked = tuple(a for a in result.taken if found.change(a).reason is Reason.ADOPTED_BY_NAME)
    return ImportOutcome(found, result, after, unmarked)
