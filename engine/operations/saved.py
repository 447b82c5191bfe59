"""Saved plans: applied only while they still describe exactly what would happen - the same
integration and tenant, the state lineage and serial they were made from, the same config, and
(beyond Terraform) the very steps exoform would plan against the tenant as it is now.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from exoform.engine.errors import PlanError
from exoform.engine.operations.session import PlanOptions, Session
from exoform.engine.plan import Plan
from exoform.engine.planfile import plan_to_json, read_plan
from exoform.engine.read import TenantRead
from exoform.engine.state import State


def checked_saved_plan(session: Session, path: Path, state: State, read: TenantRead) -> Plan:
    """Load a saved plan and refuse it unless it still describes exactly what would happen."""
    plan = matching_saved_plan(session, path, state)
    options = PlanOptions(plan.operation == "destroy", plan.adopt, plan.accepted_risks)
    fresh = session.make_plan(read, state, options)
    if fresh.errors:
        raise PlanError(f"saved plan {path} can no longer be applied: the tenant changed after it was "
                        f"made and planning now finds: {fresh.errors[0].message}")
    if _comparable(fresh) != _comparable(plan):
        raise PlanError(f"saved plan {path} is stale: the tenant changed after it was made, so "
                        "its steps are no longer what exoform would do; make a new plan")
    return plan


def matching_saved_plan(session: Session, path: Path, state: State) -> Plan:
    """The saved plan at `path` if it was made for this integration, tenant, state and config
    (without re-planning: `import PLANFILE` records what a script already ran)."""
    plan = read_plan(path, session.codec)
    spec = session.spec
    lineage = state.lineage if state.persisted else ""
    where = session.store.where
    # A plan from before tenant identities named its tenant the older way (the sandbox file's
    # path, the configured tenant id): that label still matches this configuration's tenant.
    older = session.providers.tenant_label(spec.tenant, spec.integration)
    if plan.integration != spec.integration or plan.tenant not in (session.tenant, older):
        raise PlanError(f"{path} was made for integration '{plan.integration}' on {plan.tenant}, "
                        f"not this configuration's ({spec.integration} on {session.tenant}); make "
                        "a new plan with `exoform plan --out`")
    if plan.state_lineage == "" and lineage:
        raise PlanError(f"saved plan {path} is stale: it was made before any state existed and "
                        f"{where} has been written since; make a new plan")
    if plan.state_lineage != lineage:
        raise PlanError(f"{path} does not match the state {where} (different lineage); "
                        "it was made against another state — make a new plan")
    if plan.state_serial != state.serial:
        raise PlanError(f"saved plan {path} is stale: the state changed (serial {plan.state_serial} "
                        f"-> {state.serial}) after it was made; make a new plan")
    if plan.config_digest != spec.digest:
        raise PlanError(f"saved plan {path} is stale: {spec.source} changed after it was made; "
                        "make a new plan")
    return plan


def _comparable(plan: Plan) -> Any:
    body = plan_to_json(plan)
    return body["resource_changes"], body["steps"]
