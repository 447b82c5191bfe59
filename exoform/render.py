"""Human rendering of a finished plan in Terraform's idiom (`+`, `~`, `-`, `-/+`, per-attribute
`before -> after`, `(sensitive value)`), the ordered step table (tabulate), the summary line,
and apply results. Reads plans and results only; never decides anything.
"""
from __future__ import annotations

import shlex
from typing import Any

from tabulate import tabulate

from exoform.engine.apply import ApplyResult
from exoform.engine.kinds import KIND_SPECS, sensitive_attrs
from exoform.engine.model import Action, Kind
from exoform.engine.plan import Plan, ResourceChange, Severity
from exoform.text import literal, safe

SENSITIVE = "(sensitive value)"

_HEADLINE = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in-place",
    Action.DELETE: "will be destroyed",
    Action.REPLACE: "must be replaced",
}


def render_plan(plan: Plan) -> str:
    parts = [render_diagnostics(plan)]
    shown = [c for c in plan.changes if c.action is not Action.NOOP or c.adopted]
    if not shown and not plan.forget:
        parts.append(_no_changes(plan))
        return "\n".join(p for p in parts if p)
    parts.append("exoform will perform the following actions:\n")
    for change in shown:
        parts.append(render_change(change))
    for address in plan.forget:
        parts.append(f"  # {address} is gone from the tenant and will be removed from state\n")
    if plan.steps:
        parts.append("Execution order:\n" + step_table(plan) + "\n")
    parts.append(summary_line(plan))
    parts += ["\n" + note for note in rule_notes(plan)]
    return "\n".join(p for p in parts if p)


def rule_notes(plan: Plan, applied: bool = False) -> list[str]:
    """How to take staged rules further: enabling disabled ones, leaving Audit mode."""
    notes = []
    if any(_creates_disabled_rule(c) for c in plan.changes) and applied:
        notes.append(
            "Note: the mail flow rules were created disabled. Review them in the Exchange admin center "
            "(Mail flow > Rules), then set \"rules\": {\"enabled\": true} in the config and run "
            "`exoform apply` again to enable them."
        )
    elif any(_creates_disabled_rule(c) for c in plan.changes):
        notes.append(
            "Note: mail flow rules are created disabled so you can review them first. To enable "
            "them, set \"rules\": {\"enabled\": true} in the config and run `exoform apply` again "
            "(or enable them in the Exchange admin center)."
        )
    if any(_audits(c) for c in plan.changes):
        notes.append(
            "Note: the rules run in Audit mode (rules.mode \"audit\"): they log what they match and "
            "take no action. Set \"rules\": {\"mode\": \"enforce\"} and apply again when ready."
        )
    return notes


def _audits(change: ResourceChange) -> bool:
    after = change.after_dict
    return (
        change.address.kind is Kind.TRANSPORT_RULE
        and change.action in (Action.CREATE, Action.REPLACE, Action.UPDATE)
        and str(after.get("Mode", "")).casefold() == "audit"
        and str(after.get("State", "")).casefold() == "enabled"
    )


def _no_changes(plan: Plan) -> str:
    if plan.operation == "destroy":
        return "No changes. No objects need to be destroyed."
    return "No changes. Your tenant matches the configuration."


def _creates_disabled_rule(change: ResourceChange) -> bool:
    return (
        change.address.kind is Kind.TRANSPORT_RULE
        and change.action in (Action.CREATE, Action.REPLACE)
        and change.after_dict.get("State") == "Disabled"
    )


def summary_line(plan: Plan) -> str:
    n = plan.counts()
    adopt = f"{n['adopt']} to adopt, " if n["adopt"] else ""
    return f"Plan: {adopt}{n['add']} to add, {n['change']} to change, {n['destroy']} to destroy."


def render_change(change: ResourceChange) -> str:
    action = change.action
    headline = _HEADLINE.get(action, "will be adopted into state")
    lines = [f"  # {change.address} {headline} ({safe(change.reason)})"]
    symbol = action.symbol if action is not Action.NOOP else "~"
    pad = " " * (3 - len(symbol))
    lines.append(f"{pad}{symbol} resource \"{change.address.kind.value}\" \"{change.address.name}\" {{")
    lines += _attribute_lines(change)
    lines.append("    }\n")
    return "\n".join(lines)


def _attribute_lines(change: ResourceChange) -> list[str]:
    kind = change.address.kind
    before, after = change.before_dict, change.after_dict
    hidden = sensitive_attrs(kind)
    keys = [k for k in sorted(set(before) | set(after)) if _present(before.get(k)) or _present(after.get(k))]
    if kind is Kind.CONNECTION_FILTER_ALLOWLIST:
        keys = [k for k in keys if k == "Name"]  # entries are listed one by one below
    width = max((len(k) for k in keys), default=0)
    lines, unchanged = [], 0
    forced = {a.name for a in KIND_SPECS[kind].attrs if a.force_new}
    for key in keys:
        old, new = _show(key, before.get(key), hidden), _show(key, after.get(key), hidden)
        label = key.ljust(width)
        if change.action is Action.CREATE or (change.action is Action.REPLACE and change.before is None):
            lines.append(f"      + {label} = {new}")
        elif change.action is Action.DELETE:
            lines.append(f"      - {label} = {old}")
        elif key in change.changed:
            note = "  # forces replacement" if key in forced and change.action is Action.REPLACE else ""
            lines.append(f"      ~ {label} = {old} -> {new}{note}")
        elif key == "Name":
            lines.append(f"        {label} = {new}")
        else:
            unchanged += 1
    if change.address.kind is Kind.CONNECTION_FILTER_ALLOWLIST:
        lines += _allowlist_lines(change)
    if unchanged:
        lines.append(f"        # ({unchanged} unchanged attributes hidden)")
    return lines


def _allowlist_lines(change: ResourceChange) -> list[str]:
    out = [f"      + IPAllowList entry {safe(e)}" for e in change.list_add]
    out += [f"      - IPAllowList entry {safe(e)}" for e in change.list_remove]
    return out


def _present(value: Any) -> bool:
    return value not in (None, (), "")


def _show(key: str, value: Any, hidden: frozenset[str]) -> str:
    if key in hidden and _present(value):
        return SENSITIVE
    return literal(value)


def step_table(plan: Plan) -> str:
    rows = [
        (s.index + 1, s.op.value, str(s.address), safe(s.call.name),
         safe(plan.change(s.address).exchange_name)[:48],
         ",".join(str(d + 1) for d in s.depends_on) or "-")
        for s in plan.steps
    ]
    return tabulate(rows, headers=("#", "op", "address", "cmdlet", "object", "after"), tablefmt="simple")


def render_diagnostics(plan: Plan) -> str:
    lines = []
    for d in sorted(plan.diagnostics, key=lambda d: (_SEVERITY_ORDER[d.severity], d.address, d.code, d.id)):
        where = f" ({d.address})" if d.address else ""
        ident = f" [{safe(d.id)}]" if d.id else ""
        line = f"{d.severity.value.capitalize()}{where}{ident}: {safe(d.message)}\n"
        if d.id and d.severity is Severity.ERROR:
            line += f"  To go ahead anyway, acknowledge it: --accept-risk {safe(shlex.quote(d.id))}\n"
        lines.append(line)
    return "\n".join(lines)


_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def render_result(plan: Plan, result: ApplyResult) -> str:
    if result.ok:
        n = plan.counts()
        verb = "Destroy" if plan.operation == "destroy" else "Apply"
        done = f"{verb} complete! Resources: {n['add']} added, {n['change']} changed, {n['destroy']} destroyed."
        return "\n\n".join([done, *rule_notes(plan, applied=True)])
    failed = plan.steps[result.failed_step] if result.failed_step is not None else None
    lines = [f"Error: step {result.failed_step + 1 if failed else '?'} "
             f"({safe(failed.description) if failed else ''}) failed: {safe(result.error)}"]
    return "\n".join(lines + outcome_lines(result, FIX_THEN_RECOVER))


FIX_THEN_RECOVER = ("fix the cause above, then run `exoform apply` to converge or `exoform destroy` "
                    "to remove what exoform created")


def outcome_lines(result: ApplyResult, recover: str) -> list[str]:
    """What a failed or stopped apply left behind: kept steps, a clean rollback, or leftovers."""
    if not result.rolled_back:
        done = ", ".join(str(i + 1) for i in result.completed) or "none"
        return [f"--no-rollback: steps completed and kept: {done}. State records them; {recover}."]
    if not result.completed and result.rollback_complete:
        return ["No step had been run; nothing was changed."]
    if result.rollback_complete:
        return ["All completed steps were undone; the tenant was re-read and matches its "
                "state before the apply. Nothing was changed."]
    return (["Rollback did NOT complete. What is left in the tenant:"]
            + [f"  - {safe(line)}" for line in result.leftovers]
            + [f"State records what exists now: {recover}."])


