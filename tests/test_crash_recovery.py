"""Regressions found by the chaos harness (tests/chaos): what a run killed between a tenant
call and its state write leaves behind must be settled by the next run, whatever it is —
the same apply, a different config, or a destroy."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from support.workspace import Workspace
from support.harness import Run, SimulatedCrash, canonical_tenant, crash, spec_from

ADMIN_ENTRY = "9.9.9.9"
BASE: dict[str, Any] = {"protection": {"mode": "inline", "directions": ["inbound"], "scope": {"users": "all"}}}


def config(*ranges: str, allowlist: bool = True) -> dict[str, Any]:
    return {**BASE, "gateway": {"ip_ranges": list(ranges), "tenant_info": "t"},
            "allowlist": {"connection_filter": allowlist}}


@pytest.fixture
def run() -> Iterator[Run]:
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="exoform-crash-", dir=shm if shm.is_dir() else None))
    run = Run(root)
    policy = {"Name": "Default", "Identity": "Default", "IPAllowList": [ADMIN_ENTRY]}
    run.tenant.write_text(canonical_tenant({"HostedConnectionFilterPolicy": [policy]}), encoding="utf-8")
    yield run
    shutil.rmtree(root, ignore_errors=True)


def crash_during(run: Run, cfg: dict[str, Any], fault: str, operation: str = "apply") -> None:
    with pytest.raises(SimulatedCrash):
        run.apply(spec_from(cfg), operation, faults=f"{fault}:crash", crash_hook=crash)
    assert run.state()[1].pending is not None


def allow_list(run: Run) -> list[str]:
    return json.loads(run.tenant.read_text())["HostedConnectionFilterPolicy"][0]["IPAllowList"]


def test_destroy_after_a_crashed_apply_removes_the_object_it_was_creating(run: Run) -> None:
    """Was: a destroy wants nothing, so it never looked for the object the pending New- had
    created; it stayed in the tenant (only a 'stray object' warning)."""
    original = run.tenant.read_text()
    crash_during(run, config("203.0.113.0/24"), "New-InboundConnector#1")
    assert run.apply(spec_from(config("203.0.113.0/24")), "destroy").ok
    assert run.tenant.read_text() == original
    assert run.state()[1].resources == () and run.state()[1].pending is None


def test_entries_an_interrupted_edit_added_are_removed_when_no_longer_wanted(run: Run) -> None:
    """Was: with no allow-list record and no allow list wanted, the pending record of the
    interrupted add was ignored and its entries stayed in the admin's list forever."""
    assert run.apply(spec_from(config("203.0.113.0/24", allowlist=False))).ok
    crash_during(run, config("203.0.113.0/24"), "Set-HostedConnectionFilterPolicy#1")
    assert "203.0.113.0/24" in allow_list(run)
    assert run.apply(spec_from(config("203.0.113.0/24", allowlist=False))).ok
    assert allow_list(run) == [ADMIN_ENTRY]


def test_entries_an_interrupted_edit_added_stay_owned_through_the_next_edit(run: Run) -> None:
    """Was: the next apply's own allow-list edit recorded ownership from the old state record,
    dropping the entries the interrupted run had added; destroy then left them behind."""
    assert run.apply(spec_from(config("203.0.113.0/24"))).ok
    crash_during(run, config("203.0.113.0/24", "8.8.4.0/24"), "Set-HostedConnectionFilterPolicy#1")
    assert run.apply(spec_from(config("203.0.113.0/24", "8.8.4.0/24", "1.1.1.1"))).ok
    owned = [r.owned_entries for r in run.state()[1].resources if r.owned_entries]
    assert owned == [("1.1.1.1", "203.0.113.0/24", "8.8.4.0/24")]
    assert run.apply(spec_from(config("203.0.113.0/24")), "destroy").ok
    assert allow_list(run) == [ADMIN_ENTRY]


def test_a_rollback_keeps_ownership_an_interrupted_run_established(run: Run) -> None:
    assert run.apply(spec_from(config("203.0.113.0/24"))).ok
    crash_during(run, config("203.0.113.0/24", "8.8.4.0/24"), "Set-HostedConnectionFilterPolicy#1")
    failed = run.apply(spec_from(config("203.0.113.0/24", "8.8.4.0/24", "1.1.1.1")),
                       faults="Set-InboundConnector#1")
    assert not failed.ok and failed.rollback_complete
    assert run.apply(spec_from(config("203.0.113.0/24")), "destroy").ok
    assert allow_list(run) == [ADMIN_ENTRY]


def test_a_recovery_with_nothing_left_to_do_clears_the_pending_record(workspace: Workspace) -> None:
    """Was: the killed run's last call (enabling a rule) had taken effect, so the next apply
    found no changes, returned early and left the pending record (and its warning) for good."""
    workspace.write_config({**config("203.0.113.0/24"), "rules": {"enabled": False}})
    assert workspace.run("apply", "--auto-approve")[0] == 0
    workspace.write_config({**config("203.0.113.0/24"), "rules": {"enabled": True}})
    steps = workspace.plan_json()["exoform"]["steps"]
    assert steps[-1]["cmdlet"] == "Enable-TransportRule"
    occurrence = sum(s["cmdlet"] == "Enable-TransportRule" for s in steps)
    env = {k: v for k, v in os.environ.items() if k != "EXOFORM_FAULTS"}
    env["EXOFORM_FAULTS"] = f"Enable-TransportRule#{occurrence}:crash"
    killed = subprocess.run([sys.executable, "-m", "exoform", "apply", "--auto-approve"],
                            cwd=workspace.root, env=env, capture_output=True, text=True, timeout=60)
    assert killed.returncode == 137, killed.stderr
    assert json.loads(workspace.state.read_text())["pending"]["cmdlet"] == "Enable-TransportRule"
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0 and "No changes." in out, err
    state = json.loads(workspace.state.read_text())
    assert state["pending"] is None
    assert all(r["attributes"]["State"] == "Enabled" for r in state["resources"] if r["address"].startswith("transport_rule"))
    assert "interrupted" not in workspace.run("plan")[1]
