"""Terraform's JSON plan and state representations (`terraform show -json`) of an exoform plan
or state, for the tools teams already run on Terraform plans (terraform-json, checkov,
terraform-compliance, OPA). exoform's own fields live under `exoform`; sensitive values are
masked unless asked for. Reads finished plans and states only."""
from __future__ import annotations

from typing import Any, Mapping

from exoform import __version__
from exoform.engine.cmdlets import wire_params
from exoform.engine.model import Address, Kind, Value, json_value
from exoform.engine.operations import flow_json, reason_text, sensitive_attrs
from exoform.engine.plan import Diagnostic, Plan, Reason, ResourceChange
from exoform.engine.state import SCHEMA_VERSION, State, StateResource

#: Terraform's plan and state format. "0.1" is the one version every terraform-json release
#: accepts (Debian's 0.5.0 accepts nothing else; later ones take ">= 0.1, < 2.0") and
#: terraform-compliance lists; fields of later formats are added and ignored by older readers.
FORMAT_VERSION = "0.1"
#: The Terraform release whose plan representation this follows (import, sensitive masks);
#: terraform-compliance refuses a plan whose terraform_version it does not know.
TERRAFORM_VERSION = "1.5.0"
PROVIDER_KEY = "exchange_online"
PROVIDER_NAME = "exoform.dev/exoform/exchange-online"
SENSITIVE = "(sensitive value)"
SENSITIVE_KEYS = frozenset().union(*(sensitive_attrs(kind) for kind in Kind))
_MOVE = "Priority"  # a rule's move shows as its priority changing, as in the human plan

# Terraform's ActionReason where one means the same; the others stay in exoform.reason.
_ACTION_REASONS = {
    Reason.CANNOT_UPDATE: "replace_because_cannot_update",
    Reason.ROUTES_THROUGH_REPLACED: "replace_by_triggers",
    Reason.NOT_IN_CONFIG: "delete_because_no_resource_config",
    Reason.ORPHANED: "delete_because_no_resource_config",
}


def plan_document(plan: Plan, *, timestamp: str, show_sensitive: bool = False) -> dict[str, Any]:
    """The plan as `terraform show -json PLANFILE` would represent it."""
    mask = _Mask(show_sensitive)
    changes = [_resource_change(c, mask) for c in plan.changes]
    body: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": [
            _state_resource(c.address, after, mask) for c in plan.changes
            if (after := _sides(c)[1]) is not None]}},
        "resource_changes": changes,
        "output_changes": {},
        "prior_state": _state_body({"root_module": {"resources": [
            _state_resource(c.address, before, mask) for c in plan.changes
            if (before := _sides(c)[0]) is not None]}}),
        "configuration": _configuration(plan, mask),
        "timestamp": timestamp,
        "applyable": not plan.errors and plan.has_changes,
        "complete": True,
        "errored": bool(plan.errors),
        "exoform": _plan_extras(plan, mask),
    }
    return body


def state_document(state: State, *, show_sensitive: bool = False) -> dict[str, Any]:
    """The state as `terraform show -json` represents one (exoform's record under `exoform`)."""
    mask = _Mask(show_sensitive)
    resources = [_state_resource(r.address, dict(r.attributes), mask) for r in state.resources]
    body = _state_body({"root_module": {"resources": resources}})
    body["exoform"] = {
        "version": __version__, "integration": state.integration, "lineage": state.lineage,
        "serial": state.serial, "resources": [resource_extras(r) for r in state.resources],
        "pending": _pending(state),
    }
    return body


def resource_document(resource: StateResource, *, show_sensitive: bool = False) -> dict[str, Any]:
    """One state resource (`state show --json`): Terraform's state resource, plus exoform's record."""
    body = _state_resource(resource.address, dict(resource.attributes), _Mask(show_sensitive))
    body["exoform"] = resource_extras(resource)
    return body


def resource_extras(resource: StateResource) -> dict[str, Any]:
    return {"address": str(resource.address), "exchange_name": resource.exchange_name,
            "guid": resource.guid, "dependencies": [str(d) for d in resource.dependencies],
            "owned_entries": list(resource.owned_entries)}


def _pending(state: State) -> dict[str, Any] | None:
    pending = state.pending
    if pending is None:
        return None
    return {"step": pending.step, "address": pending.address, "operation": pending.operation,
            "cmdlet": pending.cmdlet, "identity": pending.identity, "started": pending.started,
            "phase": pending.phase}


class _Mask:
    """Masks sensitive values (or shows them, with --show-sensitive) the same way everywhere."""

    def __init__(self, show: bool) -> None:
        self.show = show

    def values(self, kind: Kind, values: Mapping[str, Any]) -> dict[str, Any]:
        hidden = sensitive_attrs(kind)
        return {k: self.value(v, k in hidden) for k, v in sorted(values.items())}

    def value(self, value: Any, sensitive: bool) -> Any:
        return SENSITIVE if sensitive and not self.show and value is not None else value

    def marks(self, kind: Kind, values: Mapping[str, Any] | None) -> dict[str, bool] | bool:
        """Terraform's before_/after_sensitive: true at each sensitive leaf, false for no object."""
        if values is None:
            return False
        return {k: True for k in sorted(sensitive_attrs(kind)) if values.get(k) is not None}

    def parameters(self, params: Any) -> Any:
        if isinstance(params, dict):
            return {k: (self.value(v, True) if k in SENSITIVE_KEYS else self.parameters(v))
                    for k, v in params.items()}
        return params


def _empty_to_null(value: Value | Any) -> Any:
    """Exchange treats an empty list, an empty string and null alike, and so does the diff:
    one spelling (null) on both sides, so external diff tools see exactly exoform's changes."""
    if value in (None, "", ()) or value == []:
        return None
    return json_value(value)


def _sides(change: ResourceChange) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Full before and after objects over the same keys (a move adds the rule's Priority)."""
    before = None if change.before is None else dict(change.before_dict)
    after = None if change.after is None else dict(change.after_dict)
    move = change.move
    if move is not None and move.after is not None:
        if before is not None:
            before[_MOVE] = move.before
        if after is not None:
            after[_MOVE] = move.after
    keys = set(before or {}) | set(after or {})
    full = [None if side is None else {k: _empty_to_null(side.get(k)) for k in sorted(keys)}
            for side in (before, after)]
    return full[0], full[1]


def _resource_change(change: ResourceChange, mask: _Mask) -> dict[str, Any]:
    kind = change.address.kind
    before, after = _sides(change)
    body: dict[str, Any] = {
        **_identity(change.address),
        "change": {
            "actions": list(change.action.terraform_actions),
            "before": None if before is None else mask.values(kind, before),
            "after": None if after is None else mask.values(kind, after),
            "after_unknown": {},
            "before_sensitive": mask.marks(kind, before),
            "after_sensitive": mask.marks(kind, after),
        },
        "exoform": _change_extras(change),
    }
    if change.action.is_replace:
        body["change"]["replace_paths"] = [[name] for name in change.requires_replace]
    if change.adopted and change.guid:
        body["change"]["importing"] = {"id": change.guid}
    if change.reason in _ACTION_REASONS:
        body["action_reason"] = _ACTION_REASONS[change.reason]
    return body


def _identity(address: Address) -> dict[str, Any]:
    return {"address": str(address), "mode": "managed", "type": address.kind.value,
            "name": address.name, "provider_name": PROVIDER_NAME}


def _change_extras(change: ResourceChange) -> dict[str, Any]:
    move, edit = change.move, change.edit
    return {
        "action": change.action.value,
        "reason": change.reason.value,
        "reason_text": reason_text(change),
        "exchange_name": change.exchange_name,
        "guid": change.guid,
        "adopted": change.adopted,
        "changed": sorted({*change.changed, _MOVE} if move else change.changed),
        "dependencies": [str(d) for d in change.dependencies],
        "priority": None if move is None else {"before": move.before, "after": move.after},
        "allowlist": None if edit is None else {
            "add": list(edit.add), "remove": list(edit.remove), "owned_before": list(edit.owned_before)},
        "enabled": None if change.enabled is None else {
            "before": change.enabled.before, "after": change.enabled.after, "kept": change.enabled.kept},
    }


def _state_resource(address: Address, values: Mapping[str, Any], mask: _Mask) -> dict[str, Any]:
    kind = address.kind
    normal = {k: _empty_to_null(v) for k, v in values.items()}
    return {**_identity(address), "schema_version": SCHEMA_VERSION,
            "values": mask.values(kind, normal), "sensitive_values": mask.marks(kind, normal)}


def _state_body(values: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "terraform_version": TERRAFORM_VERSION, "values": values}


def _configuration(plan: Plan, mask: _Mask) -> dict[str, Any]:
    """The desired resources as configuration with constant expressions; a sensitive value is
    an input Terraform would not print, so it is left out unless --show-sensitive."""
    resources = []
    for change in plan.changes:
        if change.after is None:
            continue
        hidden = sensitive_attrs(change.address.kind)
        expressions = {k: {"constant_value": _empty_to_null(v)} for k, v in change.after
                       if mask.show or k not in hidden}
        resources.append({
            "address": str(change.address), "mode": "managed", "type": change.address.kind.value,
            "name": change.address.name, "provider_config_key": PROVIDER_KEY,
            "expressions": expressions, "schema_version": SCHEMA_VERSION,
            "depends_on": [str(d) for d in change.dependencies],
        })
    return {"provider_config": {PROVIDER_KEY: {"name": PROVIDER_KEY, "full_name": PROVIDER_NAME}},
            "root_module": {"resources": resources}}


def _plan_extras(plan: Plan, mask: _Mask) -> dict[str, Any]:
    return {
        "version": __version__,
        "integration": plan.integration,
        "operation": plan.operation,
        "provider": plan.provider,
        "tenant": plan.tenant,
        "state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "config_digest": plan.config_digest,
        "summary": plan.counts(),
        "diagnostics": [diagnostic_json(d) for d in plan.diagnostics],
        "steps": [
            {"index": s.index, "address": str(s.address), "operation": s.op.value,
             "cmdlet": s.call.name, "parameters": mask.parameters(wire_params(s.call.params)),
             "depends_on": list(s.depends_on), "description": s.description}
            for s in plan.steps
        ],
        "forget": [str(a) for a in plan.forget],
        "adopt": plan.adopt,
        "accepted_risks": list(plan.accepted_risks),
        "mail_flow": [flow_json(f) for f in plan.flow],
        "live_step": plan.live_step,
    }


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {"severity": d.severity.value, "code": d.code, "message": d.message,
            "address": d.address, "id": d.id, "accepted": d.accepted}
