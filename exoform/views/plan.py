"""Human rendering of a finished plan in Terraform's idiom (`+`, `~`, `-`, `-/+`, per-attribute
`before -> after`, `(sensitive value)`), the ordered step table (tabulate), the summary line and
the notes on staged rules. Reads plans only; never decides anything.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Sequence

from tabulate import tabulate

from exoform.engine.model import Action
from exoform.engine.operations import by_address, reason_text, sensitive_attrs
from exoform.engine.plan import Diagnostic, Plan, ResourceChange, Severity
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
    shown = shown_changes(plan)
    if not shown and not plan.forget:
        parts.append(_blocked(plan) if plan.errors else _no_changes(plan))
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
    parts += mail_flow_lines(plan)
    if plan.errors:
        parts.append("\n" + _blocked(plan))
    return "\n".join(p for p in parts if p)


def shown_changes(plan: Plan) -> list[ResourceChange]:
    return [c for c in plan.changes if c.action is not Action.NOOP or c.adopted]


def mail_flow_rows(plan: Plan) -> list[tuple[str, str, str, str]]:
    """class, verdict(s), intended, "" or "NOT AS INTENDED": the model's verdicts after the plan."""
    return [(f.message_class, " | ".join(f.verdicts), intended_label(f.intended, f.verdicts, f.ok),
             "" if f.ok else "NOT AS INTENDED") for f in plan.flow]


def intended_label(intended: str, verdicts: Sequence[str], ok: bool) -> str:
    """The intended verdict; while exoform's rules are staged (disabled or Audit, some
    enabled by an admin) either way is acceptable, which the word says instead of a verdict
    the row's actual one would seem to contradict."""
    return intended if not ok or intended in verdicts else "either (rules staged)"


def mail_flow_lines(plan: Plan) -> list[str]:
    """The "Mail flow after this plan" table (`exoform trace` shows every step)."""
    rows = mail_flow_rows(plan)
    if not rows:
        return []
    table = [("class", "verdict", "intended", ""), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + ("  " + r[3] if r[3] else "")
             for r in table]
    return ["\nMail flow after this plan (`exoform trace` shows it after every step):\n"
            + "\n".join(line.rstrip() for line in lines)]


def _blocked(plan: Plan) -> str:
    return (f"The plan has {len(plan.errors)} error(s) (above): nothing can be applied until "
            "they are fixed.")


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


def headline(change: ResourceChange) -> str:
    """What happens to the resource; a shared list's edit says which entries, never that the
    list's policy is created or destroyed."""
    edit = change.edit
    if edit is not None and (edit.add or edit.remove):
        parts = [f"{_entries(len(edit.add))} will be added to" if edit.add else "",
                 f"{_entries(len(edit.remove)) if not edit.add else len(edit.remove)} "
                 f"{'' if edit.add else 'will be '}removed from" if edit.remove else ""]
        return f"{' and '.join(p for p in parts if p)} the {change.exchange_name} policy's IP allow list"
    return _HEADLINE.get(change.action, "will be adopted into state")


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def symbol(change: ResourceChange) -> str:
    if change.edit is not None or change.action is Action.NOOP:
        return "~"
    return change.action.symbol


def render_change(change: ResourceChange) -> str:
    mark = symbol(change)
    colon = ":" if change.edit is not None and (change.edit.add or change.edit.remove) else ""
    lines = [f"  # {change.address}{colon} {safe(headline(change))} ({safe(reason_text(change))})"]
    pad = " " * (3 - len(mark))
    lines.append(f"{pad}{mark} resource \"{change.address.kind.value}\" \"{change.address.name}\" {{")
    width = max((len(key) for key in _keys(change)), default=0)
    for row in attribute_rows(change):
        label = row.key.ljust(width)
        if row.mark == "~":
            lines.append(f"      ~ {label} = {row.before} -> {row.after}{row.note}")
        elif row.mark == " ":
            lines.append(f"        {label} = {row.after}")
        else:
            lines.append(f"      {row.mark} {label} = {row.after if row.mark == '+' else row.before}")
    lines += [f"      + IPAllowList entry {safe(e)}" for e in entries(change, added=True)]
    lines += [f"      - IPAllowList entry {safe(e)}" for e in entries(change, added=False)]
    hidden = unchanged_count(change)
    if hidden:
        lines.append(f"        # ({hidden} unchanged attributes hidden)")
    lines.append("    }\n")
    return "\n".join(lines)


@dataclass(frozen=True)
class Row:
    """One attribute as plans show it: `+` added, `-` removed, `~` changed, ` ` context."""

    mark: str
    key: str
    before: str
    after: str
    note: str = ""


def entries(change: ResourceChange, *, added: bool) -> list[str]:
    """A shared list's entries this plan adds (or removes), in address order."""
    if change.edit is None:
        return []
    return by_address(change.edit.add if added else change.edit.remove)


def _sides(change: ResourceChange) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """Before and after attributes as shown (a move adds the rule's Priority), and what changed."""
    before, after, changed = dict(change.before_dict), dict(change.after_dict), set(change.changed)
    move = change.move
    if move is not None:
        changed.add(_MOVE)
        if move.after is not None and change.before and change.after:
            before[_MOVE], after[_MOVE] = move.before, move.after
    return before, after, changed


def _keys(change: ResourceChange) -> list[str]:
    before, after, _ = _sides(change)
    keys = [k for k in sorted(set(before) | set(after)) if _present(before.get(k)) or _present(after.get(k))]
    if change.edit is not None:
        keys = [k for k in keys if k == "Name"]  # entries are listed one by one
    return keys


def attribute_rows(change: ResourceChange) -> list[Row]:
    """The attributes a reviewer sees, sensitive values masked; unchanged ones are left out."""
    before, after, changed = _sides(change)
    hidden = sensitive_attrs(change.address.kind)
    rows = []
    created = change.action is Action.CREATE or (change.action.is_replace and change.before is None)
    for key in _keys(change):
        old, new = _show(key, before.get(key), hidden), _show(key, after.get(key), hidden)
        if change.edit is not None:
            rows.append(Row(" ", key, old, new if _present(after.get(key)) else old))
        elif created:
            rows.append(Row("+", key, old, new))
        elif change.action is Action.DELETE:
            rows.append(Row("-", key, old, new))
        elif key in changed:
            rows.append(Row("~", key, old, new, "  # forces replacement" if key in change.requires_replace else ""))
        elif key == "Name":
            rows.append(Row(" ", key, old, new))
    return rows


def unchanged_count(change: ResourceChange) -> int:
    return len(_keys(change)) - len(attribute_rows(change))


def _present(value: Any) -> bool:
    return value not in (None, (), "")


def _show(key: str, value: Any, hidden: frozenset[str]) -> str:
    if key in hidden and _present(value):
        return SENSITIVE
    return literal(value)


def step_table(plan: Plan) -> str:
    rows = [
        (s.index + 1, s.op.value, str(s.address), safe(s.call.name),
         safe(plan.object_name(s))[:48],
         ",".join(str(d + 1) for d in s.depends_on) or "-")
        for s in plan.steps
    ]
    return str(tabulate(rows, headers=("#", "op", "address", "cmdlet", "object", "after"), tablefmt="simple"))


def render_diagnostics(plan: Plan) -> str:
    return diagnostic_lines(plan.diagnostics)


def diagnostic_lines(diagnostics: Sequence[Diagnostic]) -> str:
    lines = []
    for d in sorted(diagnostics, key=lambda d: (_SEVERITY_ORDER[d.severity], d.address, d.code, d.id)):
        where = f" ({d.address})" if d.address else ""
        ident = f" [{safe(d.id)}]" if d.id else ""
        line = f"{d.severity.value.capitalize()}{where}{ident}: {safe(d.message)}\n"
        if d.id and d.severity is Severity.ERROR:
            line += f"  To go ahead anyway, acknowledge it: --accept-risk {safe(shlex.quote(d.id))}\n"
        lines.append(line)
    return "\n".join(lines)


_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
