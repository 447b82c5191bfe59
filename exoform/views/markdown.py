"""A plan as Markdown for a pull request or a ticket (`--format markdown`): the summary, a table
of resources, the findings, each resource's before -> after in a collapsible block, the order of
the tenant calls and the mail flow after the plan. Renders on GitHub and Azure DevOps alike
(tables and <details>); every value is HTML-escaped, sensitive values masked."""
from __future__ import annotations

import html

from exoform import __version__
from exoform.engine.plan import Plan, ResourceChange, Severity
from exoform.engine.operations import reason_text
from exoform.views.plan import (
    attribute_rows,
    entries,
    headline,
    mail_flow_lines,
    shown_changes,
    summary_line,
    symbol,
    unchanged_count,
)

_SEVERITY = {Severity.ERROR: "Error", Severity.WARNING: "Warning", Severity.INFO: "Note"}


def cell(text: object) -> str:
    """Table-safe text: HTML-escaped, no pipe or line break can end the cell."""
    return html.escape(str(text), quote=False).replace("|", "&#124;").replace("\n", " ")


def code(text: object) -> str:
    return f"<code>{cell(text)}</code>" if str(text) else ""


def render_markdown(plan: Plan) -> str:
    verb = "destroy" if plan.operation == "destroy" else "apply"
    parts = [f"### exoform {verb} plan: {code(plan.integration)}", "",
             f"**{cell(_summary(plan))}**", "",
             f"Tenant: {code(plan.tenant)} · exoform {cell(__version__)} · made {cell(plan.created or 'now')}", ""]
    changes = shown_changes(plan)
    if changes:
        parts += ["| | Resource | Exchange object | Change | Why |", "|---|---|---|---|---|"]
        parts += [f"| {code(symbol(c))} | {code(c.address)} | {cell(c.exchange_name)} | {cell(headline(c))} "
                  f"| {cell(reason_text(c))} |" for c in changes]
        parts.append("")
    parts += _findings(plan)
    if changes:
        parts += ["#### Changes", ""]
        for change in changes:
            parts += _details(change)
    if plan.steps:
        parts += ["#### Tenant calls, in order", "", "| # | Resource | Cmdlet | Object | After |",
                  "|---|---|---|---|---|"]
        parts += [f"| {s.index + 1} | {code(s.address)} | {code(s.call.name)} | "
                  f"{cell(plan.change(s.address).exchange_name)} | "
                  f"{', '.join(str(d + 1) for d in s.depends_on) or '-'} |" for s in plan.steps]
        parts.append("")
    parts += mail_flow_section(plan)
    return "\n".join(parts).rstrip() + "\n"


def _summary(plan: Plan) -> str:
    if plan.errors:
        return f"The plan has {len(plan.errors)} error(s): nothing can be applied until they are fixed."
    if not plan.has_changes:
        return "No changes: the tenant matches the configuration."
    return summary_line(plan)


def _findings(plan: Plan) -> list[str]:
    if not plan.diagnostics:
        return []
    lines = ["#### Findings", ""]
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    for d in sorted(plan.diagnostics, key=lambda d: (order[d.severity], d.address, d.code, d.id)):
        where = f" ({code(d.address)})" if d.address else ""
        ident = f" {code(d.id)}" if d.id else ""
        accepted = " (accepted with --accept-risk)" if d.accepted else ""
        lines.append(f"- **{_SEVERITY[d.severity]}**{where}{ident}{accepted}: {cell(d.message)}")
    return lines + [""]


def _details(change: ResourceChange) -> list[str]:
    lines = ["<details>",
             f"<summary>{code(symbol(change))} {code(change.address)} {cell(headline(change))}</summary>", "",
             "| Attribute | Before | After |", "|---|---|---|"]
    for row in attribute_rows(change):
        before = "" if row.mark == "+" else code(row.before)
        after = "" if row.mark == "-" else code(row.after)
        note = " (forces replacement)" if row.note else ""
        lines.append(f"| {code(row.key)}{note} | {before} | {after} |")
    lines += [f"| IP allow list entry | | {code(e)} (added) |" for e in entries(change, added=True)]
    lines += [f"| IP allow list entry | {code(e)} (removed) | |" for e in entries(change, added=False)]
    hidden = unchanged_count(change)
    if hidden:
        lines.append(f"| *{hidden} unchanged attributes hidden* | | |")
    return lines + ["", "</details>", ""]


def mail_flow_section(plan: Plan) -> list[str]:
    """"Mail flow after this plan": the table the mail-flow model provides, in Markdown."""
    rows = mail_flow_lines(plan)
    return ["#### Mail flow after this plan", "", *rows, ""] if rows else []
