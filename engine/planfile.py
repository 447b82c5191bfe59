"""The saved plan: JSON modelled on Terraform's JSON plan (`resource_changes` with `address`,
`type`, `name`, `change.actions/before/after`), plus the ordered steps, the state lineage and
serial it was made from, the config digest, and a digest of its own content against tampering.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from exoform import __version__
from exoform.engine.cmdlets import from_wire, wire_params
from exoform.engine.errors import InputError, PlanError
from exoform.engine.jsonfile import atomic_write_json, read_json, schema_issues
from exoform.engine.kinds import sensitive_attrs
from exoform.engine.model import Action, Address, freeze_attrs, json_attrs
from exoform.engine.plan import Diagnostic, Plan, ResourceChange, Severity, Step, StepOp

FORMAT_VERSION = 1


def plan_to_json(plan: Plan) -> dict[str, Any]:
    body: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "exoform_version": __version__,
        "integration": plan.integration,
        "operation": plan.operation,
        "provider": plan.provider,
        "tenant": plan.tenant,
        "prior_state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "config_digest": plan.config_digest,
        "applyable": not plan.errors,
        "resource_changes": [_change_json(c) for c in plan.changes],
        "steps": [_step_json(s) for s in plan.steps],
        "diagnostics": [_diagnostic_json(d) for d in plan.diagnostics],
        "forget": [str(a) for a in plan.forget],
        "adopt": plan.adopt,
        "accepted_risks": list(plan.accepted_risks),
    }
    body["digest"] = content_digest(body)
    return body


def _diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {"severity": d.severity.value, "code": d.code, "message": d.message, "address": d.address,
            "id": d.id, "accepted": d.accepted}


def _diagnostic_from(d: Mapping[str, Any]) -> Diagnostic:
    return Diagnostic(Severity(d["severity"]), d["code"], d["message"], d.get("address", ""),
                      d.get("id", ""), bool(d.get("accepted", False)))


def content_digest(body: Mapping[str, Any]) -> str:
    canonical = {k: v for k, v in body.items() if k != "digest"}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _change_json(change: ResourceChange) -> dict[str, Any]:
    mask = {name: True for name in sensitive_attrs(change.address.kind)}
    return {
        "address": str(change.address),
        "type": change.address.kind.value,
        "name": change.address.name,
        "exchange_name": change.exchange_name,
        "action_reason": change.reason,
        "adopted": change.adopted,
        "dependencies": [str(d) for d in change.dependencies],
        "guid": change.guid,
        "before_priority": change.before_priority,
        "allowlist": {
            "add": list(change.list_add),
            "remove": list(change.list_remove),
            "owned_before": list(change.owned_before),
        },
        "change": {
            "actions": list(change.action.terraform_actions),
            "action": change.action.value,
            "before": json_attrs(change.before),
            "after": json_attrs(change.after),
            "changed": list(change.changed),
            "before_sensitive": mask if change.before is not None else False,
            "after_sensitive": mask if change.after is not None else False,
        },
    }


def _step_json(step: Step) -> dict[str, Any]:
    return {
        "index": step.index,
        "address": str(step.address),
        "operation": step.op.value,
        "cmdlet": step.call.name,
        "parameters": wire_params(step.call.params),
        "depends_on": list(step.depends_on),
        "description": step.description,
    }


def plan_from_json(data: Mapping[str, Any]) -> Plan:
    return Plan(
        integration=data["integration"],
        operation=data["operation"],
        changes=tuple(_change_from(c) for c in data["resource_changes"]),
        steps=tuple(_step_from(s) for s in data["steps"]),
        diagnostics=tuple(_diagnostic_from(d) for d in data["diagnostics"]),
        forget=tuple(Address.parse(a) for a in data["forget"]),
        state_lineage=data["prior_state"]["lineage"],
        state_serial=data["prior_state"]["serial"],
        config_digest=data["config_digest"],
        provider=data["provider"],
        tenant=data["tenant"],
        adopt=bool(data.get("adopt", False)),
        accepted_risks=tuple(data.get("accepted_risks", ())),
    )


def _change_from(data: Mapping[str, Any]) -> ResourceChange:
    change = data["change"]
    allow = data["allowlist"]
    return ResourceChange(
        address=Address.parse(data["address"]),
        action=Action(change["action"]),
        exchange_name=data["exchange_name"],
        before=None if change["before"] is None else freeze_attrs(change["before"]),
        after=None if change["after"] is None else freeze_attrs(change["after"]),
        changed=tuple(change["changed"]),
        dependencies=tuple(Address.parse(d) for d in data["dependencies"]),
        reason=data["action_reason"],
        guid=data["guid"],
        before_priority=data["before_priority"],
        adopted=data["adopted"],
        list_add=tuple(allow["add"]),
        list_remove=tuple(allow["remove"]),
        owned_before=tuple(allow["owned_before"]),
    )


def _step_from(data: Mapping[str, Any]) -> Step:
    return Step(
        index=data["index"],
        address=Address.parse(data["address"]),
        op=StepOp(data["operation"]),
        call=from_wire(data["cmdlet"], data["parameters"]),
        depends_on=tuple(data["depends_on"]),
        description=data["description"],
    )


def write_plan(path: Path, plan: Plan) -> None:
    atomic_write_json(path, plan_to_json(plan))


def read_plan(path: Path) -> Plan:
    """Load a saved plan; a malformed or tampered file is refused with a clear reason."""
    data = read_json(path, "saved plan")
    issues = schema_issues(data, "plan.schema.json")
    if issues:
        raise InputError(str(path), issues)
    if data["format_version"] != FORMAT_VERSION:
        raise PlanError(f"{path} has plan format {data['format_version']}; this exoform reads {FORMAT_VERSION}")
    if content_digest(data) != data["digest"]:
        raise PlanError(
            f"{path} was modified after exoform wrote it (its digest does not match); "
            "make a new plan with `exoform plan --out`"
        )
    return plan_from_json(data)
