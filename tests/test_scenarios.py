"""Data-driven scenarios (one JSON file each under tests/scenarios/) driven through the CLI on
the sandbox tenant, each checked with Terraform's acceptance pattern: apply, then a second plan
is empty and no drift is reported; destroy, then the tenant file is byte-for-byte what it was
(unmanaged objects untouched throughout). A step may pass `flags` (e.g. --accept-risk) and
expect `findings` by ID, findings that `blocked` apply without the flags, and `drift`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exoform.engine.ownership import owner
from exoform.engine.model import Kind

CASES = sorted((Path(__file__).parent / "scenarios").glob("*.json"))
PROVIDERS = ("sandbox", "emulator")
RUNS = [(provider, case) for provider in PROVIDERS for case in CASES]


@pytest.mark.parametrize("provider, case_file", RUNS, ids=[f"{p}-{c.stem}" for p, c in RUNS])
def test_scenario(provider: str, case_file: Path, request: pytest.FixtureRequest) -> None:
    workspace = request.getfixturevalue("emulated_workspace" if provider == "emulator" else "workspace")
    case = json.loads(case_file.read_text())
    original = workspace.write_tenant(case.get("tenant"))
    shadow = workspace.root / "shadow.json"  # the tenant with only the admin's own edits
    shadow.write_text(original, encoding="utf-8")
    unmanaged = _unmanaged(workspace.document())
    for number, step in enumerate(case["steps"], 1):
        workspace.write_config(step["config"])
        for edit in step.get("outside", ()):
            workspace.outside(edit["cmdlet"], edit["parameters"])
            if edit.get("admin_own"):
                workspace.outside(edit["cmdlet"], edit["parameters"], tenant=shadow)
                unmanaged = _unmanaged(workspace.document())
        expect, flags = step.get("expect", {}), step.get("flags", [])
        if "drift" in expect:
            assert workspace.run("drift")[0] == (2 if expect["drift"] else 0), f"step {number}: drift"
        if "blocked" in expect:
            _check_blocked(workspace, expect["blocked"], f"step {number}")
        plan = workspace.plan_json(*flags)
        _check_expectations(plan, expect, f"step {number}")
        cli_risks = [flags[i + 1] for i, flag in enumerate(flags) if flag == "--accept-risk"]
        assert plan["exoform"]["accepted_risks"] == cli_risks, f"step {number}: the plan records the --accept-risk IDs"
        code, out, err = workspace.run("apply", "--auto-approve", *flags)
        assert code == 0, f"step {number}: apply failed:\n{out}\n{err}"
        code, out, err = workspace.run("plan", "--detailed-exitcode", *flags)
        assert code == 0, f"step {number}: second plan is not empty:\n{out}\n{err}"
        code, out, err = workspace.run("drift")  # apply leaves state matching the tenant
        assert code == 0, f"step {number}: drift right after apply:\n{out}\n{err}"
        _check_rule_block(workspace.document(), expect)
        assert _unmanaged(workspace.document()) == unmanaged
    code, out, err = workspace.run("destroy", "--auto-approve")
    assert code == 0, f"destroy failed:\n{out}\n{err}"
    assert workspace.tenant.read_text(encoding="utf-8") == shadow.read_text(encoding="utf-8")
    assert json.loads(workspace.state.read_text())["resources"] == []


def _check_expectations(plan: dict[str, Any], expect: dict[str, Any], where: str) -> None:
    changes = {c["address"]: c for c in plan["resource_changes"]}
    if "counts" in expect:
        assert _counts(plan) == expect["counts"], f"{where}: counts"
    for address, action in expect.get("actions", {}).items():
        assert changes[address]["exoform"]["action"] == action, f"{where}: {address}"
    for address, names in expect.get("changed", {}).items():
        assert changes[address]["exoform"]["changed"] == names, f"{where}: {address}"
    cmdlets = {s["cmdlet"] for s in plan["exoform"]["steps"]}
    for cmdlet in expect.get("cmdlets", ()):
        assert cmdlet in cmdlets, f"{where}: {cmdlet} not in {sorted(cmdlets)}"
    codes = {d["code"] for d in plan["exoform"]["diagnostics"]}
    for code in expect.get("diagnostics", ()):
        assert code in codes, f"{where}: diagnostic {code} missing from {sorted(codes)}"
    if "allowlist_add" in expect:
        assert changes["connection_filter_allowlist.default"]["exoform"]["allowlist"]["add"] == expect["allowlist_add"]
    found = {d["id"]: d for d in plan["exoform"]["diagnostics"] if d["id"]}
    for ident, severity in expect.get("findings", {}).items():
        assert ident in found and found[ident]["severity"] == severity, f"{where}: finding {ident} in {sorted(found)}"
    for code in expect.get("absent_codes", ()):
        assert code not in codes, f"{where}: unexpected diagnostic {code}"
    for ident in expect.get("absent", ()):
        assert ident not in found, f"{where}: unexpected finding {ident}"
    for ident in expect.get("accepted", ()):
        assert found[ident]["accepted"], f"{where}: {ident} not accepted"
    for address, attrs in expect.get("after", {}).items():
        after = changes[address]["change"]["after"]
        assert {k: after.get(k) for k in attrs} == attrs, f"{where}: {address} after"
    assert not [d for d in plan["exoform"]["diagnostics"] if d["severity"] == "error"], where


def _check_blocked(workspace: Any, ids: list[str], where: str) -> None:
    """Without --accept-risk the findings are errors: plan exits 1, apply changes nothing."""
    before = workspace.tenant.read_text(encoding="utf-8")
    code, out, _ = workspace.run("plan", "--json")
    errors = {d["id"] for d in json.loads(out)["exoform"]["diagnostics"] if d["severity"] == "error"}
    assert code == 1 and set(ids) <= errors, f"{where}: expected blocking findings {ids}, got {sorted(errors)}"
    code, _, err = workspace.run("apply", "--auto-approve")
    assert code == 1 and "nothing was changed" in err, f"{where}: apply was not refused"
    assert workspace.tenant.read_text(encoding="utf-8") == before


def _counts(plan: dict[str, Any]) -> dict[str, int]:
    actions = [c["exoform"]["action"] for c in plan["resource_changes"]]
    return {
        "add": sum(a in ("create", "replace", "create-then-delete") for a in actions),
        "change": actions.count("update"),
        "destroy": sum(a in ("delete", "replace", "create-then-delete") for a in actions),
    }


def _unmanaged(document: dict[str, Any]) -> dict[str, Any]:
    """Every object exoform does not own, by Guid (rule priorities may shift: not compared)."""
    picture: dict[str, Any] = {}
    for kind in (Kind.INBOUND_CONNECTOR, Kind.OUTBOUND_CONNECTOR, Kind.TRANSPORT_RULE):
        for obj in document[kind.exchange_type]:
            if owner(kind, obj) is None:
                picture[obj.get("Guid") or obj["Name"]] = {k: v for k, v in obj.items() if k != "Priority"}
    picture["order"] = [r["Name"] for r in sorted(document["TransportRule"], key=lambda r: r["Priority"])
                        if owner(Kind.TRANSPORT_RULE, r) is None]
    picture["admin_allow"] = sorted(set(document["HostedConnectionFilterPolicy"][0]["IPAllowList"]) - {"198.51.100.7", "203.0.113.0/24"})
    return picture


def _check_rule_block(document: dict[str, Any], expect: dict[str, Any]) -> None:
    """Our rules are contiguous, SPF first, and at the top or bottom when the case says so."""
    rules = sorted(document["TransportRule"], key=lambda r: r["Priority"])
    ours = [i for i, r in enumerate(rules) if owner(Kind.TRANSPORT_RULE, r)]
    names = [rules[i]["Name"].rsplit(" - ", 1)[1] for i in ours]
    assert ours == list(range(ours[0], ours[0] + len(ours))), f"rules not contiguous: {ours}"
    assert names == sorted(names, key=["SPF", "Inbound emails", "Inbound emails (groups)", "Outbound emails",
                                          "Outbound emails (groups)"].index)
    assert [r["Priority"] for r in rules] == list(range(len(rules)))
    if expect.get("rule_order_top"):
        assert ours[0] == 0
    if expect.get("rule_order_bottom"):
        assert ours[-1] == len(rules) - 1
