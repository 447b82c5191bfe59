"""The drift report for people and for monitoring (`--json`): what changed outside exoform
since the last apply, per attribute, with sensitive values masked."""
from __future__ import annotations

from typing import Any

from exoform.engine.operations import DriftOutcome, DriftReport, DriftStatus, ResourceDrift
from exoform.engine.plan import Severity
from exoform.text import literal, safe
from exoform.views.plan import SENSITIVE, diagnostic_lines
from exoform.views.terraform_json import diagnostic_json


def outcome_json(outcome: DriftOutcome) -> dict[str, Any]:
    """The drift report, and the mail-flow model's findings about the tenant now."""
    body = report_json(outcome.report, outcome.tenant)
    body["mail_flow"] = {"as_intended": not any(d.severity is Severity.ERROR for d in outcome.mail),
                         "findings": [diagnostic_json(d) for d in outcome.mail]}
    return body


def render_outcome(outcome: DriftOutcome) -> str:
    text = render_report(outcome.report, outcome.has_state)
    if not outcome.mail:
        return text
    errors = any(d.severity is Severity.ERROR for d in outcome.mail)
    head = ("Mail does not flow as the configuration intends now (the mail-flow model):" if errors
            else "The mail-flow model notes about the tenant now:")
    return f"{text}\n\n{head}\n\n{diagnostic_lines(outcome.mail)}".rstrip()


def report_json(report: DriftReport, tenant: str) -> dict[str, Any]:
    """Stable JSON for monitoring systems; sensitive values are masked."""
    return {
        "format_version": 1,
        "integration": report.integration,
        "tenant": tenant,
        "state_serial": report.state_serial,
        "checked": report.checked,
        "drift": report.drifted,
        "resources": [
            {
                "address": item.address, "exchange_name": item.exchange_name,
                "status": item.status.value, "detail": item.detail,
                "attributes": [
                    {"name": a.name, "last_applied": _json(a.last_applied, a.sensitive),
                     "actual": _json(a.actual, a.sensitive)}
                    for a in item.attributes
                ],
            }
            for item in report.items
        ],
        "notes": list(report.notes),
    }


def _json(value: Any, sensitive: bool) -> Any:
    if sensitive and value not in (None, "", ()):
        return SENSITIVE
    return list(value) if isinstance(value, tuple) else value


def render_report(report: DriftReport, has_state: bool) -> str:
    lines = [f"Note: {safe(n)}" for n in report.notes]
    if not has_state:
        return "\n".join(lines + ["No drift to report: nothing has been applied for this integration yet (no state)."])
    if not report.drifted:
        return "\n".join(lines + [f"No drift: the tenant matches what exoform last applied "
                                  f"({report.checked} resource(s) checked, state serial {report.state_serial})."])
    changed = sum(1 for i in report.items if i.status is not DriftStatus.UNRECORDED)
    lines.append(f"Drift detected: {changed} of {report.checked} resource(s) changed outside exoform since the "
                 f"last apply (state serial {report.state_serial}).\n")
    for item in report.items:
        lines += _item_lines(item)
    lines.append("Nothing was changed. `exoform plan` shows how `exoform apply` would restore the configuration; "
                 "`exoform import` records the tenant's current values in state instead (accepting the drift).")
    return "\n".join(lines)


def _item_lines(item: ResourceDrift) -> list[str]:
    name = f" \"{safe(item.exchange_name)}\"" if item.exchange_name else ""
    if item.status is DriftStatus.UNRECORDED:
        return [f"  # unrecorded object: {safe(item.detail)}\n"]
    if item.status in (DriftStatus.DELETED, DriftStatus.MOVED):
        return [f"  # {item.address}{name}: {safe(item.detail)}\n"]
    head = f"  # {item.address}{name}: {safe(item.detail)}"
    if item.status is DriftStatus.ENTRIES_REMOVED:
        return [head + "\n"]
    rows = [f"      ~ {a.name} = {_shown(a.last_applied, a.sensitive)} -> {_shown(a.actual, a.sensitive)}"
            for a in item.attributes]
    return [head, *rows, ""]


def _shown(value: Any, sensitive: bool) -> str:
    return SENSITIVE if sensitive and value not in (None, "", ()) else literal(value)
