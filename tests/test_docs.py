"""docs/resources.md shows what exoform creates, as tables; this test rebuilds those tables from
the blueprint and fails when the page and the code disagree. `--update-goldens` rewrites the
generated section of the page (between the BEGIN/END markers)."""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from support.workspace import REPO
from exoform.engine.blueprint import blueprint
from exoform.engine.model import Resource
from exoform.text import literal
from support.harness import spec_from

DOC = REPO / "docs" / "resources.md"
BEGIN, END = "<!-- BEGIN GENERATED TABLES -->", "<!-- END GENERATED TABLES -->"
IPS = ["203.0.113.0/24"]
CONFIG: dict[str, Any] = {"gateway": {"ip_ranges": IPS, "tenant_info": "<tenant information>"}}


def _resources(mode: str, directions: list[str], scope: dict[str, Any]) -> dict[str, Resource]:
    config = {**CONFIG, "protection": {"mode": mode, "directions": directions, "scope": scope}}
    return {str(r.address): r for r in blueprint(spec_from(config, "contoso"))}


def _cell(resource: Resource | None, key: str) -> str:
    if resource is None:
        return "(not created)"
    value = resource.get(key)
    if value in (None, ()):
        return "—"
    return "`" + literal(value).replace("|", "\\|") + "`"


def generated_tables() -> str:
    """One table per resource: attribute | in-line | monitoring (both directions, all users),
    then what each direction/scope choice changes."""
    both = ["inbound", "outbound"]
    inline, monitoring = _resources("inline", both, {"users": "all"}), _resources("monitoring", both, {"users": "all"})
    out = []
    for address in sorted(inline):
        keys = sorted({k for r in (inline[address], monitoring[address]) for k, v in r.attributes if v not in (None, ())})
        out += [f"### `{address}`", "", "| attribute | in-line | monitoring |", "|---|---|---|"]
        out += [f"| {k} | {_cell(inline[address], k)} | {_cell(monitoring[address], k)} |" for k in keys]
        deps = ", ".join(f"`{d}`" for d in inline[address].dependencies) or "none"
        out += ["", f"Depends on: {deps}.", ""]
    out += _variations()
    return "\n".join(out).rstrip() + "\n"


def _variations() -> list[str]:
    selected = {"users": "selected", "recipients": ["alice@contoso.com"], "groups": ["finance@contoso.com"]}
    rows = ["### Directions and user scope", "",
            "Selected users with both people (`recipients`) and `groups`: Exchange ANDs a rule's conditions, so the",
            "groups get a rule of their own right after the people's, which leaves out the people the first took.", "",
            "| mode | directions | users | inbound connector type | rules created | scope attributes |", "|---|---|---|---|---|---|"]
    for mode, directions, scope in itertools.product(("inline", "monitoring"), (["inbound"], ["outbound"], ["inbound", "outbound"]), ({"users": "all"}, selected)):
        found = _resources(mode, directions, scope)
        rules = [a.split(".")[1] for a in sorted(found) if a.startswith("transport_rule.")]
        scoped = sorted(f"{k} (`{a.split('.')[1]}`)" for a, r in found.items() for k in ("SentTo", "SentToMemberOf", "From", "FromMemberOf", "ExceptIfSentTo", "ExceptIfFrom") if r.get(k))
        rows.append(f"| {mode} | {' + '.join(directions)} | {scope['users']} | `{found['inbound_connector.inbound'].get('ConnectorType')}` "
                    f"| {', '.join(rules)} | {', '.join(scoped) or '—'} |")
    return rows + [""]


def test_resources_page_matches_the_blueprint(update_goldens: bool) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    fresh = f"{head}{BEGIN}\n{generated_tables()}{END}{tail}"
    if update_goldens:
        DOC.write_text(fresh, encoding="utf-8")
    assert text == fresh, "docs/resources.md is out of date with the blueprint; run pytest --update-goldens and review"
