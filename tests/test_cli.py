"""The CLI end to end: the real entry point in a subprocess for the README's path, crashes
and locks; in-process through `exoform.cli.main` for the rest (saved plans, exit codes, bad
input, rollback reports). Every failure must be one clear message, exit 1 (or 3), nothing
changed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.workspace import REPO, Workspace
from exoform.engine.lock import StateLock

INLINE = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}


def exoform(cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "EXOFORM_FAULTS"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "exoform", *args], cwd=cwd, env=full_env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_readme_example_applies_then_plans_no_changes_then_destroys(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    first = exoform(tmp_path, "apply", "-c", "examples/inline.json", "--auto-approve")
    assert first.returncode == 0, first.stderr
    assert "Plan: 6 to add, 0 to change, 0 to destroy." in first.stdout
    assert "Apply complete! Resources: 6 added" in first.stdout
    again = exoform(tmp_path, "plan", "-c", "examples/inline.json", "--detailed-exitcode")
    assert again.returncode == 0 and "No changes." in again.stdout
    gone = exoform(tmp_path, "destroy", "-c", "examples/inline.json", "--auto-approve")
    assert gone.returncode == 0 and "6 destroyed" in gone.stdout


@pytest.mark.parametrize("text, fragment", [
    ("{not json", "not valid JSON"),
    (json.dumps({"integration": "x", **INLINE, "colour": "blue"}), "colour"),
    (json.dumps({"integration": "x", **INLINE, "gateway": {"ip_ranges": ["2001:db8::/64"], "tenant_info": "t"}}), "gateway.ip_ranges[0]"),
    (json.dumps({"integration": "x", **INLINE, "gateway": {"ip_ranges": ["10.0.0.0/24"], "tenant_info": "t"}}), "gateway.ip_ranges[0]"),
], ids=["syntax", "unknown-key", "ipv6", "private-ip"])
def test_bad_config_is_a_clear_error_and_touches_nothing(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "exoform.json").write_text(text)
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = exoform(tmp_path, *command)
        assert result.returncode == 1
        assert result.stderr.startswith("Error:") and fragment in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exoform.json"]


def test_second_writer_is_told_who_holds_the_lock(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    with StateLock(workspace.state, "exoform apply"):
        result = exoform(workspace.root, "apply", "--auto-approve")
    assert result.returncode == 1
    assert f"locked by pid {os.getpid()}" in result.stderr and "since" in result.stderr
    assert not workspace.tenant.exists()


def test_crash_mid_apply_is_recovered_by_adoption_without_duplicates(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    crashed = exoform(workspace.root, "apply", "--auto-approve", env={"EXOFORM_FAULTS": "New-TransportRule#2:crash"})
    assert crashed.returncode == 137
    state = json.loads(workspace.state.read_text())
    assert state["pending"]["cmdlet"] == "New-TransportRule"
    plan = workspace.plan_json()
    codes = {d["code"] for d in plan["exoform"]["diagnostics"]}
    assert "interrupted_apply" in codes
    adopted = [c["address"] for c in plan["resource_changes"] if c["exoform"]["adopted"]]
    assert adopted == ["transport_rule.inbound_emails"]
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0, err
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0
    names = [r["Name"] for r in workspace.document()["TransportRule"]]
    assert len(names) == len(set(names)) == 3


def test_failed_step_rolls_back_and_exits_1(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    before = workspace.write_tenant(None)
    os.environ["EXOFORM_FAULTS"] = "New-TransportRule#3"
    try:
        code, out, err = workspace.run("apply", "--auto-approve")
    finally:
        del os.environ["EXOFORM_FAULTS"]
    assert code == 1
    assert "step 6" in err and "All completed steps were undone" in err
    assert workspace.tenant.read_text() == before
    assert json.loads(workspace.state.read_text())["resources"] == []


def test_incomplete_rollback_exits_3_and_says_what_is_left(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    result = exoform(workspace.root, "apply", "--auto-approve",
                     env={"EXOFORM_FAULTS": "New-TransportRule#2,Remove-TransportRule#1"})
    assert result.returncode == 3, result.stderr
    assert "Rollback did NOT complete" in result.stderr
    assert "TransportRule 'OPSWAT MDCES - SPF' is still there" in result.stderr
    state = json.loads(workspace.state.read_text())
    assert [r["address"] for r in state["resources"] if r["address"].startswith("transport_rule")] == ["transport_rule.spf"]
    assert workspace.run("apply", "--auto-approve")[0] == 0
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_no_rollback_keeps_partial_progress_in_state(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    os.environ["EXOFORM_FAULTS"] = "New-TransportRule#2"
    try:
        code, out, err = workspace.run("apply", "--auto-approve", "--no-rollback")
    finally:
        del os.environ["EXOFORM_FAULTS"]
    assert code == 1 and "--no-rollback" in err
    plan = workspace.plan_json()
    actions = {c["address"]: c["exoform"]["action"] for c in plan["resource_changes"]}
    assert actions["transport_rule.spf"] == "no-op"
    assert actions["transport_rule.inbound_emails"] == "create"


def test_throttling_is_retried_and_reported(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    os.environ["EXOFORM_FAULTS"] = "New-InboundConnector#1:throttle,New-TransportRule#1:throttle"
    try:
        code, out, err = workspace.run("apply", "--auto-approve")
    finally:
        del os.environ["EXOFORM_FAULTS"]
    assert code == 0, err
    assert "New-InboundConnector: HTTP 429 Throttled, retry 1" in out
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_detailed_exitcode(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    assert workspace.run("plan", "--detailed-exitcode")[0] == 2
    assert workspace.run("plan")[0] == 0
    workspace.run("apply", "--auto-approve")
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0
    assert workspace.run("plan", "--destroy", "--detailed-exitcode")[0] == 2


def test_saved_plan_applies_once_then_is_stale(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    code, out, _ = workspace.run("plan", "--out", "change.plan")
    assert code == 0 and "exoform apply change.plan" in out
    code, out, err = workspace.run("apply", "change.plan")
    assert code == 0, err
    code, _, err = workspace.run("apply", "change.plan")
    assert code == 1 and "stale" in err


def test_saved_plan_is_refused_after_config_or_tenant_change(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    workspace.run("plan", "--out", "a.plan")
    workspace.write_config({**INLINE, "rules": {"enabled": True}})
    code, _, err = workspace.run("apply", "a.plan")
    assert code == 1 and "changed after it was made" in err
    workspace.write_config(INLINE)
    # An unrelated admin rule does not change what the plan would do: still applicable.
    workspace.outside("New-TransportRule", {"Name": "Admin rule", "SetHeaderName": "X-A", "SetHeaderValue": "1"})
    workspace.run("plan", "--out", "b.plan")
    # The admin lists our range themselves: the plan's allow-list edit is no longer right.
    workspace.outside("Set-HostedConnectionFilterPolicy", {"Identity": "Default", "IPAllowList": ["203.0.113.0/24"]})
    code, _, err = workspace.run("apply", "b.plan")
    assert code == 1 and "the tenant changed" in err
    assert [r["Name"] for r in workspace.document()["TransportRule"]] == ["Admin rule"]


def test_tampered_or_foreign_plan_is_refused(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    workspace.run("plan", "--out", "a.plan")
    data = json.loads((workspace.root / "a.plan").read_text())
    data["steps"][0]["parameters"]["Identity"] = "Evil"
    (workspace.root / "b.plan").write_text(json.dumps(data))
    code, _, err = workspace.run("apply", "b.plan")
    assert code == 1 and "modified after exoform wrote it" in err
    workspace.write_config(INLINE, integration="other")
    code, _, err = workspace.run("apply", "a.plan")
    assert code == 1 and "made for integration 'scenario'" in err
    assert not workspace.tenant.exists()


@pytest.mark.parametrize("answer, expected", [("yes\n", 0), ("no\n", 1), ("", 1)], ids=["yes", "no", "eof"])
def test_apply_asks_for_confirmation(workspace: Workspace, answer: str, expected: int) -> None:
    workspace.write_config(INLINE)
    result = exoform(workspace.root, "apply", stdin=answer)
    assert result.returncode == expected, result.stderr
    assert "Only 'yes' will be accepted" in result.stderr and "Only 'yes'" not in result.stdout  # prompts: stderr
    assert "for integration 'scenario' on sandbox:" in result.stderr
    assert workspace.tenant.exists() == (expected == 0)
    if expected:
        assert "Apply cancelled; nothing was changed." in result.stderr


def test_show_and_state_commands(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    assert workspace.run("show")[0] == 1  # nothing applied yet: a clear error
    workspace.run("apply", "--auto-approve")
    code, out, _ = workspace.run("state", "list")
    assert out.split() == ["connection_filter_allowlist.default", "inbound_connector.inbound",
                           "outbound_connector.outbound", "transport_rule.inbound_emails",
                           "transport_rule.outbound_emails", "transport_rule.spf"]
    code, out, _ = workspace.run("state", "show", "transport_rule.inbound_emails")
    assert code == 0 and "(sensitive value)" in out and "tenant-info-123" not in out
    code, _, err = workspace.run("state", "show", "transport_rule.nope")
    assert code == 1 and "not in the state" in err
    code, out, _ = workspace.run("show", "--json")
    shown = json.loads(out)
    assert shown["exoform"]["serial"] >= 1 and shown["format_version"] == "0.1"
    assert "tenant-info-123" not in out and "(sensitive value)" in out
    workspace.run("plan", "--destroy", "--out", "d.plan")
    code, out, _ = workspace.run("show", "d.plan")
    assert code == 0 and "Plan: 0 to add, 0 to change, 6 to destroy." in out


@pytest.mark.parametrize("content, fragment", [
    ("{\"format_version\": 1, \"lineage\": ", "not valid JSON"),
    ("", "not valid JSON"),
    (json.dumps({"format_version": 99, "lineage": "x", "serial": 1, "integration": "scenario", "resources": []}), "newer than this exoform"),
    (json.dumps({"format_version": 1, "lineage": "0f0e6c49-0a3c-4c7e-9a51-6e0f5c1f0b1a", "serial": 1, "integration": "scenario", "resources": [{"address": "bogus"}]}), "resources[0]"),
], ids=["truncated", "empty", "newer-format", "bad-resource"])
def test_unusable_state_is_refused_and_never_overwritten(workspace: Workspace, content: str, fragment: str) -> None:
    workspace.write_config(INLINE)
    workspace.state.parent.mkdir(parents=True, exist_ok=True)
    workspace.state.write_text(content)
    for command in (["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"]):
        code, _, err = workspace.run(*command)
        assert code == 1 and fragment in err and "state/scenario.json" in err
    assert workspace.state.read_text() == content
    assert not workspace.tenant.exists()


def test_state_of_another_integration_is_refused(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    workspace.run("apply", "--auto-approve")
    workspace.write_config(INLINE, integration="other")
    code, _, err = workspace.run("plan", "--state", str(workspace.state))
    assert code == 1 and "belongs to integration 'scenario'" in err


def test_json_outputs_are_json(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    code, out, _ = workspace.run("validate", "--json")
    assert json.loads(out) == {"valid": True, "integration": "scenario", "config": "exoform.json"}
    code, out, err = workspace.run("apply", "--auto-approve", "--json")
    body: dict[str, Any] = json.loads(out)
    assert code == 0 and body["result"]["ok"] and len(body["result"]["completed_steps"]) == 6
    assert "[1/6]" in err  # progress goes to stderr when stdout carries JSON


def test_script_prints_one_cmdlet_per_step(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    code, out, _ = workspace.run("script")
    lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert code == 0 and lines[:3] == ["[CmdletBinding(SupportsShouldProcess = $true)]", "param()",
                                       "$ErrorActionPreference = 'Stop'"]
    assert out.startswith("#Requires -Version 5.1\n#Requires -Modules ExchangeOnlineManagement\n")
    assert [line.split()[0] for line in lines[5:]] == [
        "Set-HostedConnectionFilterPolicy", "New-InboundConnector", "New-OutboundConnector",
        "New-TransportRule", "New-TransportRule", "New-TransportRule"]
    assert "-Enabled:$false" in out
