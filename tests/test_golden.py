"""Golden files for what users read and tools parse: the rendered human plan, the saved-plan
JSON and the state file, for representative cases. Random Guids and lineages are masked.
Regenerate with `python -m pytest tests/test_golden.py --update-goldens` and review the diff."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from support.workspace import Workspace

GOLDEN = Path(__file__).parent / "golden"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_TIME = re.compile(r'"(timestamp|made|created)": "[0-9T:Z-]+"')

BASE = {"gateway": {"ip_ranges": ["203.0.113.0/24", "198.51.100.7"], "tenant_info": "tenant-info-123"}}
TENANT = {"recipients": [{"address": "alice@contoso.com", "type": "UserMailbox"},
                         {"address": "finance@contoso.com", "type": "MailUniversalDistributionGroup"}],
          "TransportRule": [{"Name": "Disclaimer", "Priority": 0, "SetHeaderName": "X-D", "SetHeaderValue": "1"}]}
CASES: dict[str, list[dict[str, Any]]] = {
    "inline-both-all": [{**BASE, "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}}}],
    "monitoring-inbound-selected": [{**BASE, "protection": {"mode": "monitoring", "directions": ["inbound"],
                                     "scope": {"users": "selected", "recipients": ["alice@contoso.com"], "groups": ["finance@contoso.com"]}}}],
    "switch-to-monitoring-and-enable": [
        {**BASE, "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}}},
        {**BASE, "protection": {"mode": "monitoring", "directions": ["inbound", "outbound"], "scope": {"users": "all"}}, "rules": {"enabled": True}},
    ],
    "rename-prefix": [
        {**BASE, "protection": {"mode": "inline", "directions": ["outbound"], "scope": {"users": "all"}}},
        {"gateway": {**BASE["gateway"], "name_prefix": "Contoso Gateway"}, "protection": {"mode": "inline", "directions": ["outbound"], "scope": {"users": "all"}}},
    ],
}


def mask(text: str) -> str:
    return _TIME.sub(r'"\1": "<time>"', _DIGEST.sub("sha256:<digest>", _UUID.sub("<guid>", text)))


def check(name: str, text: str, update: bool, root: Path) -> None:
    path = GOLDEN / name
    text = mask(text.replace(str(root), "<workspace>"))
    if update:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run pytest --update-goldens"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; if intended, run pytest --update-goldens"


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_plan_json_plan_and_state(case: str, workspace: Workspace, update_goldens: bool) -> None:
    workspace.write_tenant(TENANT)
    *earlier, last = CASES[case]
    for config in earlier:
        workspace.write_config(config)
        assert workspace.run("apply", "--auto-approve")[0] == 0
    workspace.write_config(last)
    code, human, _ = workspace.run("plan")
    assert code == 0
    check(f"{case}.plan.txt", human, update_goldens, workspace.root)
    code, out, _ = workspace.run("plan", "--json")
    assert out.count("\n") == 1  # one line, like `terraform show -json`
    check(f"{case}.plan.json", json.dumps(json.loads(out), indent=2, sort_keys=True) + "\n", update_goldens, workspace.root)
    code, out, _ = workspace.run("plan", "--format", "markdown")
    check(f"{case}.plan.md", re.sub(r"made [0-9T:Z-]+", "made <time>", out), update_goldens, workspace.root)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    state = json.loads(workspace.state.read_text())
    check(f"{case}.state.json", json.dumps(state, indent=2, sort_keys=True) + "\n", update_goldens, workspace.root)


def test_saved_plan_round_trips(workspace: Workspace) -> None:
    from exoform.engine.planfile import plan_from_json, plan_to_json, read_plan

    workspace.write_tenant(TENANT)
    workspace.write_config(CASES["inline-both-all"][0])
    workspace.run("plan", "--out", "p.json")
    data = json.loads((workspace.root / "p.json").read_text())
    plan = read_plan(workspace.root / "p.json")
    assert plan_to_json(plan) == data
    assert plan_to_json(plan_from_json(data)) == data


def test_state_round_trips(workspace: Workspace) -> None:
    from exoform.engine.state import from_json, to_json

    workspace.write_tenant(TENANT)
    workspace.write_config(CASES["monitoring-inbound-selected"][0])
    workspace.run("apply", "--auto-approve")
    data = json.loads(workspace.state.read_text())
    assert to_json(from_json(data)) == data


def _in_order_of(plan: dict[str, Any], addresses: list[str]) -> None:
    """Reorder a plan file's steps to `addresses`, renumbering them and their dependencies."""
    steps = sorted(plan["steps"], key=lambda s: addresses.index(s["address"]))
    renumber = {s["index"]: i for i, s in enumerate(steps)}
    for step in steps:
        step["index"] = renumber[step["index"]]
        step["depends_on"] = sorted(renumber[d] for d in step["depends_on"])
    plan["steps"] = steps


def _named_markers(node: Any) -> None:
    """Since 2bd6f6b exoform's marker names the object it is on: rewrite a plan file's markers
    the way this version writes them."""
    if isinstance(node, list):
        for item in node:
            _named_markers(item)
    if not isinstance(node, dict):
        return
    for key in ("Comment", "Comments"):
        if isinstance(node.get(key), str) and isinstance(node.get("Name"), str):
            node[key] = node[key].replace("Managed by exoform;", f"Managed by exoform as '{node['Name']}';")
    for value in node.values():
        _named_markers(value)


def test_a_format_1_saved_plan_is_still_read_and_applied(workspace: Workspace) -> None:
    """tests/golden/plan-v1/inline.plan was written by exoform at 2bd6f6b (format 1: reasons as
    words). Moved into this workspace (its tenant path and digest rewritten), it applies."""
    from exoform.engine.planfile import content_digest, read_plan

    old = json.loads((GOLDEN / "plan-v1" / "inline.plan").read_text(encoding="utf-8"))
    assert old["format_version"] == 1 and "created" not in old
    config = json.loads((GOLDEN / "plan-v1" / "exoform.json").read_text(encoding="utf-8"))
    workspace.config.write_text(json.dumps(config), encoding="utf-8")
    old["tenant"] = f"sandbox:{workspace.tenant.resolve()}"
    workspace.run("plan", "--out", "new.plan")
    fresh = read_plan(workspace.root / "new.plan")
    # Since that version the allow list follows the inbound connector (whose marker lists its
    # entries), and markers name their object: as written, the old plan is stale (asserted);
    # in this order and with these markers, it applies.
    old["digest"] = content_digest(old)
    (workspace.root / "old.plan").write_text(json.dumps(old), encoding="utf-8")
    code, _, err = workspace.run("apply", "old.plan")
    assert code == 1 and "is stale" in err
    _in_order_of(old, [str(s.address) for s in fresh.steps])
    for step, now in zip(old["steps"], fresh.steps):  # the allow list now waits for the listing
        step["depends_on"] = list(now.depends_on)
    _named_markers(old)
    old["digest"] = content_digest(old)
    (workspace.root / "old.plan").write_text(json.dumps(old), encoding="utf-8")
    plan = read_plan(workspace.root / "old.plan")
    assert plan.created  # the file's time stands in
    assert [(c.address, c.reason, c.reason_subject) for c in plan.changes] == [
        (c.address, c.reason, c.reason_subject) for c in fresh.changes]
    code, out, err = workspace.run("apply", "old.plan")
    assert code == 0 and "Apply complete! Resources: 6 added" in out, err
