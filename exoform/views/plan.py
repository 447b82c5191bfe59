"""Human rendering of a finished plan in Terraform's idiom (`+`, `~`, `-`, `-/+`, per-attribute
`before -> after`, `(sensitive value)`), the ordered step table (tabulate), the summary line and
the notes on staged rules. Reads plans only; never decides anything.
"""
from __future__ import annotations

import shlex
from typing import Any

from tabulate import tabulate

from exoform.engine.model import Action
from exoform.engine.operations import reason_text, sensitive_attrs
from exoform.engine.plan import Plan, ResourceChange, Severity, Step, StepOp
from exoform.text import literal, safe

SENSITIVE = "(sensitive value)"
_MOVE = "Priority"  # a rule's move is shown as its priority changing

_HEADLINE = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in-place",
    Action.DELETE: "will be destroyed",
    Action.REPLACE: "must be replaced",
    Action.CREATE_THEN_DELETE: "will be replaced, the new one created first",
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
    if any(_creates_disabled(c) for c in plan.changes) and applied:
        notes.append(
            "Note: the mail flow rules were created disabled. Review them in the Exchange admin center "
            "(Mail flow > Rules), then set \"rules\": {\"enabled\": true} in the config and run "
            "`exoform apply` again to enable them."
        )
    elif any(_creates_disabled(c) for c in plan.changes):
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
    return (
        (change.action.creates or change.action is Action.UPDATE)
        and change.enabled is not None and change.enabled.after is True
        and str(change.after_dict.get("Mode", "")).casefold() == "audit"
    )


def _creates_disabled(change: ResourceChange) -> bool:
    return (change.action.creates
            and change.enabled is not None and change.enabled.after is False)


def _no_changes(plan: Plan) -> str:
    if plan.operation == "destroy":
        return "No changes. No objects need to be destroyed."
    return "No changes. Your tenant matches the configuration."


def summary_line(plan: Plan) -> str:
    n = plan.counts()
    adopt = f"{n['adopt']} to adopt, " if n["adopt"] else ""
    return f"Plan: {adopt}{n['add']} to add, {n['change']} to change, {n['destroy']} to destroy."


def render_change(change: ResourceChange) -> str:
    action = change.action
    headline = _HEADLINE.get(action, "will be adopted into state")
    lines = [f"  # {change.address} {headline} ({safe(reason_text(change))})"]
    symbol = action.symbol if action is not Action.NOOP else "~"
    pad = " " * (3 - len(symbol))
    lines.append(f"{pad}{symbol} resource \"{change.address.kind.value}\" \"{change.address.name}\" {{")
    lines += _attribute_lines(change)
    lines.append("    }\n")
    return "\n".join(lines)


def _sides(change: ResourceChange) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """Before and after attributes as shown (a move adds the rule's Priority), and what changed."""
    before, after, changed = dict(change.before_dict), dict(change.after_dict), set(change.changed)
    move = change.move
    if move is not None:
        changed.add(_MOVE)
        if move.after is not None and change.before and change.after:
            before[_MOVE], after[_MOVE] = move.before, move.after
    return before, after, changed


def _attribute_lines(change: ResourceChange) -> list[str]:
    before, after, changed = _sides(change)
    hidden = sensitive_attrs(change.address.kind)
    keys = [k for k in sorted(set(before) | set(after)) if _present(before.get(k)) or _present(after.get(k))]
    if change.edit is not None:
        keys = [k for k in keys if k == "Name"]  # entries are listed one by one below
    width = max((len(k) for k in keys), default=0)
    lines, unchanged = [], 0
    for key in keys:
        old, new = _show(key, before.get(key), hidden), _show(key, after.get(key), hidden)
        label = key.ljust(width)
        if change.action is Action.CREATE or (change.action.is_replace and change.before is None):
            lines.append(f"      + {label} = {new}")
        elif change.action is Action.DELETE:
            lines.append(f"      - {label} = {old}")
        elif key in changed:
            note = "  # forces replacement" if key in change.requires_replace else ""
            lines.append(f"      ~ {label} = {old} -> {new}{note}")
        elif key == "Name":
            lines.append(f"        {label} = {new}")
        else:
            unchanged += 1
    if change.edit is not None:
        lines += [f"      + IPAllowList entry {safe(e)}" for e in change.edit.add]
        lines += [f"      - IPAllowList entry {safe(e)}" for e in change.edit.remove]
    if unchanged:
        lines.append(f"        # ({unchanged} unchanged attributes hidden)")
    return lines


def _present(value: Any) -> bool:
    return value not in (None, (), "")


def _show(key: str, value: Any, hidden: frozenset[str]) -> str:
    if key in hidden and _present(value):
        return SENSITIVE
    return literal(value)


def step_table(plan: Plan) -> str:
    rows = [
        (s.index + 1, s.op.value, str(s.address), safe(s.call.name),
         safe(_step_object(s, plan.change(s.address)))[:48],
         ",".join(str(d + 1) for d in s.depends_on) or "-")
        for s in plan.steps
    ]
    return str(tabulate(rows, headers=("#", "op", "address", "cmdlet", "object", "after"), tablefmt="simple"))


def _step_object(step: Step, change: ResourceChange) -> str:
    """The object a step acts on: a delete removes the object as it was (a replacement created
    first has the new name)."""
    if step.op is StepOp.DELETE and change.before:
        return str(change.before_dict.get("Name") or change.exchange_name)
    return change.exchange_name


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
