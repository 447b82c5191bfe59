"""What `exoform import` says: what was taken into state, refreshed from the tenant or dropped
(no tenant call made), and what the next apply would change."""
from __future__ import annotations

from typing import Any

from exoform.engine.model import Address
from exoform.engine.operations import ImportOutcome
from exoform.engine.plan import Plan
from exoform.text import safe
from exoform.views.plan import render_plan


def import_json(outcome: ImportOutcome, after: dict[str, Any]) -> dict[str, Any]:
    """`after`: the next plan in its JSON representation."""
    result = outcome.result
    return {
        "imported": [str(a) for a in result.taken], "refreshed": [str(a) for a in result.refreshed],
        "dropped": [str(a) for a in result.dropped], "plan": after,
    }


def render_import(outcome: ImportOutcome) -> str:
    result, lines = outcome.result, []
    if not (result.taken or result.refreshed or result.dropped):
        lines.append("Nothing to import: the state already records what the tenant holds for this configuration.\n")
    else:
        lines.append(f"Import complete: {len(result.taken)} taken into state, {len(result.refreshed)} refreshed "
                     f"from the tenant, {len(result.dropped)} dropped (gone from the tenant). No tenant calls were made.")
        groups = (("+", result.taken), ("~", result.refreshed), ("-", result.dropped))
        lines.append("\n".join(_line(outcome, a, mark) for mark, group in groups for a in group) + "\n")
    head = "What the next `exoform apply` would change:\n" if outcome.after.has_changes else ""
    return "\n".join(lines) + "\n" + head + render_plan(outcome.after)


def _line(outcome: ImportOutcome, address: Address, mark: str) -> str:
    found: Plan = outcome.found
    try:
        change = found.change(address)
    except KeyError:
        return f"  {mark} {address}"
    note = " (no exoform marker yet: the next apply writes it)" if address in outcome.unmarked else ""
    return f"  {mark} {address} \"{safe(change.exchange_name)}\"{note}"
