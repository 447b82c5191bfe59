"""`exoform drift` (= `exoform plan --refresh-only`): what changed outside exoform since the last
apply, per attribute, for people and for monitoring (`--json`). Read-only: no lock, no state
write, nothing proposed. Exit 0 no drift, 2 drift, 1 error."""
from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from typing import Any, Callable

from exoform.engine.drift import DELETED, ENTRIES_REMOVED, MOVED, UNRECORDED, DriftReport, drift_report
from exoform.engine.provider import READ_TYPES
from exoform.providers.registry import tenant_label
from exoform.render import SENSITIVE
from exoform.text import literal, safe

EXIT_OK, EXIT_DRIFT = 0, 2


def register(sub: argparse._SubParsersAction, common: Callable[..., None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("drift", help="report changes made outside exoform since the last apply (exit 0/2/1)")
    common(p)
    p.set_defaults(func=cmd_drift)


def cmd_drift(args: argparse.Namespace) -> int:
    from exoform.commands import Context

    ctx = Context.load(args)
    with ExitStack() as stack:
        provider = ctx.provider()
        stack.callback(provider.close)
        state = ctx.store.load(ctx.spec.integration)
        report = drift_report(provider.read(READ_TYPES), state)
    tenant = tenant_label(ctx.spec.tenant, ctx.spec.integration)
    if args.json:
        print(json.dumps(report_json(report, tenant), indent=2, sort_keys=True))
    else:
        print(render_report(report, ctx.store.exists()))
    return EXIT_DRIFT if report.drifted else EXIT_OK


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
                "address": item.address, "exchange_name": item.exchange_name, "status": item.status,
                "detail": item.detail,
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
    changed = sum(1 for i in report.items if i.status != UNRECORDED)
    lines.append(f"Drift detected: {changed} of {report.checked} resource(s) changed outside exoform since the "
                 f"last apply (state serial {report.state_serial}).\n")
    for item in report.items:
        lines += _item_lines(item)
    lines.append("Nothing was changed. `exoform plan` shows how `exoform apply` would restore the configuration; "
                 "`exoform import` records the tenant's current values in state instead (accepting the drift).")
    return "\n".join(lines)


def _item_lines(item: Any) -> list[str]:
    name = f" \"{safe(item.exchange_name)}\"" if item.exchange_name else ""
    if item.status == UNRECORDED:
        return [f"  # unrecorded object: {safe(item.detail)}\n"]
    if item.status in (DELETED, MOVED):
        return [f"  # {item.address}{name}: {safe(item.detail)}\n"]
    head = f"  # {item.address}{name}: {safe(item.detail)}"
    if item.status == ENTRIES_REMOVED:
        return [head + "\n"]
    rows = [f"      ~ {a.name} = {_shown(a.last_applied, a.sensitive)} -> {_shown(a.actual, a.sensitive)}"
            for a in item.attributes]
    return [head, *rows, ""]


def _shown(value: Any, sensitive: bool) -> str:
    return SENSITIVE if sensitive and value not in (None, "", ()) else literal(value)
