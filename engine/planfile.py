"""The saved plan: exoform's own lossless JSON (resource changes, the ordered steps with their
exact parameters, the state lineage and serial it was made from, the config digest) and a digest
of its own content against tampering. Tools read `exoform show --json PLANFILE`, Terraform's
representation, instead. Format 2 records the reasons as identifiers and the plan's time; format
1 files (reasons as words) are still read."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from exoform import __version__
from exoform.backends.codec import PLAIN, Codec
from exoform.engine.cmdlets import from_wire, wire_params
from exoform.engine.errors import InputError, Issue, PlanError
from exoform.engine.jsonfile import atomic_write_bytes, read_regular, refuse_link, schema_issues, write_failure
from exoform.engine.kinds import handler, sensitive_attrs
from exoform.engine.model import Action, Address, Attrs, freeze_attrs, json_attrs
from exoform.engine.plan import (
    Diagnostic,
    EntryEdit,
    FlowOutcome,
    Move,
    Plan,
    Reason,
    ResourceChange,
    Severity,
    Step,
    StepOp,
)

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)


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
        "mail_flow": [flow_json(f) for f in plan.flow],
        "live_step": plan.live_step,
        "created": plan.created,
    }
    body["digest"] = content_digest(body)
    return body


def flow_json(outcome: FlowOutcome) -> dict[str, Any]:
    return {"class": outcome.message_class, "verdicts": list(outcome.verdicts),
            "intended": outcome.intended, "ok": outcome.ok}


def _flow_from(data: Mapping[str, Any]) -> FlowOutcome:
    return FlowOutcome(data["class"], tuple(data["verdicts"]), data["intended"], bool(data["ok"]))


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


# The file's words for each reason (format 1 stores words; `reason_text` reads them back).
REASON_TEXT: dict[Reason, str] = {
    Reason.NOT_IN_TENANT: "not in the tenant",
    Reason.DELETED_OUTSIDE: "deleted outside exoform; will be recreated",
    Reason.NOT_IN_CONFIG: "not in the configuration",
    Reason.DESTROY: "exoform destroy",
    Reason.DESTROY_BY_MARKER: "exoform destroy: it carries this integration's marker (not in the state)",
    Reason.ORPHANED: "not in the configuration; its marker says exoform made it, in a run whose state was lost",
    Reason.DEPOSED: "the old object of a replacement that created the new one first (an apply stopped in between)",
    Reason.CANNOT_UPDATE: "{attrs} cannot be changed in place",
    Reason.ROUTES_THROUGH_REPLACED: "routes through {subject}, which is replaced",
    Reason.DRIFTED: "changed outside exoform (drift)",
    Reason.CONFIG_CHANGED: "configuration changed",
    Reason.ADOPTED_BY_NAME: "adopted by name (it has no exoform marker yet); updated to match the configuration",
    Reason.ADOPTED_BY_MARKER: "adopted: found with this integration's marker",
    Reason.RULE_ORDER_DRIFTED: "rule order drifted: exoform's rules must stay together, SPF first",
    Reason.UP_TO_DATE: "up to date",
    Reason.ENTRIES_MERGED: "merge the gateway's ranges into the Default allow list",
    Reason.ENTRIES_DIFFER: "allow list differs from the configuration",
    Reason.ENTRIES_REMOVED: "removes only the entries exoform added",
}
_MOVE = "Priority"  # format 1 shows a rule move as a Priority attribute in before/after


def reason_text(change: ResourceChange) -> str:
    return REASON_TEXT[change.reason].format(attrs=", ".join(change.requires_replace),
                                             subject=change.reason_subject)


def _reason_from(text: str) -> tuple[Reason, str, tuple[str, ...]]:
    """The reason, its subject and the attributes forcing a replacement, from the file's words."""
    for reason, words in REASON_TEXT.items():
        head, _, tail = words.partition("{")
        tail = tail.partition("}")[2]
        if "{" not in words and text == words:
            return reason, "", ()
        if "{" in words and text.startswith(head) and text.endswith(tail) and len(text) > len(head + tail):
            middle = text[len(head):len(text) - len(tail)]
            if reason is Reason.CANNOT_UPDATE:
                return reason, "", tuple(middle.split(", "))
            return reason, middle, ()
    raise PlanError(f"unknown action_reason {text!r} in the saved plan")


def _shown(attrs: Attrs | None, priority: int | None, move: Move | None) -> dict[str, Any] | None:
    """Attributes as the file shows them: a scheduled move adds the rule's Priority."""
    shown = json_attrs(attrs)
    if shown is not None and move is not None and move.after is not None:
        shown = dict(sorted({**shown, _MOVE: priority}.items()))
    return shown


def _change_json(change: ResourceChange) -> dict[str, Any]:
    mask = {name: True for name in sensitive_attrs(change.address.kind)}
    edit = change.edit or EntryEdit()
    move = change.move
    changed = sorted({*change.changed, _MOVE}) if move else list(change.changed)
    return {
        "address": str(change.address),
        "type": change.address.kind.value,
        "name": change.address.name,
        "exchange_name": change.exchange_name,
        "action_reason": change.reason.value,
        "reason_subject": change.reason_subject,
        "requires_replace": list(change.requires_replace),
        "adopted": change.adopted,
        "dependencies": [str(d) for d in change.dependencies],
        "guid": change.guid,
        "before_priority": change.before_priority,
        "allowlist": {
            "add": list(edit.add),
            "remove": list(edit.remove),
            "owned_before": list(edit.owned_before),
        },
        "change": {
            "actions": list(change.action.terraform_actions),
            "action": change.action.value,
            "before": _shown(change.before, move.before if move else None, move),
            "after": _shown(change.after, move.after if move else None, move),
            "changed": changed,
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


def plan_from_json(data: Mapping[str, Any], created: str = "") -> Plan:
    """`created` stands in for the time a format 1 plan did not record."""
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
        flow=tuple(_flow_from(f) for f in data.get("mail_flow", ())),
        live_step=data.get("live_step"),
        created=data.get("created", created),
    )


def _change_from(data: Mapping[str, Any]) -> ResourceChange:
    change = data["change"]
    allow = data["allowlist"]
    if "reason_subject" in data:  # format 2: the reason's identifier
        reason, subject = Reason(data["action_reason"]), data["reason_subject"]
        forced = tuple(data["requires_replace"])
    else:
        reason, subject, forced = _reason_from(data["action_reason"])
    before, after = change["before"], change["after"]
    move = None
    if _MOVE in change["changed"]:
        move = Move((before or {}).get(_MOVE), (after or {}).get(_MOVE))
    edit = EntryEdit(tuple(allow["add"]), tuple(allow["remove"]), tuple(allow["owned_before"]))
    address = Address.parse(data["address"])
    parsed = ResourceChange(
        address=address,
        action=Action(change["action"]),
        exchange_name=data["exchange_name"],
        before=None if before is None else freeze_attrs(_without_move(before)),
        after=None if after is None else freeze_attrs(_without_move(after)),
        changed=tuple(c for c in change["changed"] if c != _MOVE),
        dependencies=tuple(Address.parse(d) for d in data["dependencies"]),
        reason=reason, reason_subject=subject, requires_replace=forced,
        guid=data["guid"],
        before_priority=data["before_priority"],
        adopted=data["adopted"],
        move=move,
        edit=edit if edit != EntryEdit() else None,  # the kind's `restore` knows if it has one
    )
    return handler(address.kind).restore(parsed)


def _without_move(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k != _MOVE}


def _step_from(data: Mapping[str, Any]) -> Step:
    return Step(
        index=data["index"],
        address=Address.parse(data["address"]),
        op=StepOp(data["operation"]),
        call=from_wire(data["cmdlet"], data["parameters"]),
        depends_on=tuple(data["depends_on"]),
        description=data["description"],
    )


def write_plan(path: Path, plan: Plan, codec: Codec = PLAIN) -> None:
    """Write the plan atomically, 0600, never through a link (encrypted when `codec` is)."""
    refuse_link(path, "saved plan")
    try:
        atomic_write_bytes(path, codec.encode(plan_to_json(plan), "plan"))
    except OSError as error:
        raise write_failure(path, "saved plan", error) from None


def read_plan(path: Path, codec: Codec = PLAIN) -> Plan:
    """Load a saved plan; a malformed or tampered file is refused with a clear reason."""
    raw = read_regular(path, "saved plan")
    if raw is None:
        raise InputError(str(path), [Issue("", "saved plan file not found")])
    data = codec.decode(raw, str(path), "plan")
    refuse_other_documents(path, data)
    issues = schema_issues(data, "plan.schema.json")
    if issues:
        raise InputError(str(path), issues)
    if content_digest(data) != data["digest"]:
        raise PlanError(
            f"{path} was modified after exoform wrote it (its digest does not match); "
            "make a new plan with `exoform plan --out`"
        )
    return plan_from_json(data, _modified(path))


def refuse_other_documents(path: Path, data: Any) -> None:
    """A config, a review JSON or a plan from a newer exoform, named as such."""
    if not isinstance(data, dict):
        return
    if "gateway" in data and "protection" in data and "resource_changes" not in data:
        raise PlanError(f"{path} is an exoform config file, not a saved plan: pass it with -c/--config, "
                        "and a plan saved with `exoform plan --out FILE` as the plan file")
    if isinstance(data.get("exoform"), dict) and "planned_values" in data:
        raise PlanError(f"{path} is the review JSON of a plan (`--json`, Terraform's representation), "
                        "not a saved plan: apply the file `exoform plan --out FILE` wrote")
    version = data.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version not in READABLE_FORMATS:
        raise PlanError(f"{path} has plan format {version}; this exoform reads formats "
                        f"{', '.join(map(str, READABLE_FORMATS))}: use the exoform that made it, or make a new plan")


def _modified(path: Path) -> str:
    """A format 1 plan's time: its file's modification time."""
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
