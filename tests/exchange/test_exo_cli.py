"""`exoform` end to end through the exchange_online provider against the HTTPS emulator, for
the failures a real tenant has: a server error at each step (rolled back exactly), a crash at
each step in a real subprocess (recovered by the next apply), a 429 storm (retried, bounded) and
an RBAC-denied cmdlet (403 NUL body: one clear sentence, nothing changed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from support.workspace import Workspace
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.faults import FaultPlan

INLINE: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
# An admin's own objects, which no failure may disturb.
ADMIN_TENANT: dict[str, Any] = {
    "TransportRule": [{"Name": "Disclaimer", "Priority": 0, "State": "Enabled",
                       "FromScope": "InOrganization", "SentToScope": "NotInOrganization"}],
    "HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default",
                                      "IPAllowList": ["192.0.2.0/24"]}],
}
INSTALL_STEPS = 6  # allow list, two connectors, three rules


def _install_faults(workspace: Workspace, step: int, kind: str) -> str:
    """`Cmdlet#N:kind` hitting the plan's step `step`: N counts that cmdlet's earlier steps
    (the reads before them are other cmdlets)."""
    cmdlets = [s["cmdlet"] for s in workspace.plan_json()["exoform"]["steps"]]
    assert len(cmdlets) == INSTALL_STEPS, cmdlets
    cmdlet = cmdlets[step - 1]
    return f"{cmdlet}#{cmdlets[:step].count(cmdlet)}:{kind}"


def _assert_clear(text: str) -> None:
    """What a user sees is prose: no traceback, no JSON, no NUL bytes."""
    assert "Traceback" not in text and '{"error"' not in text and "\x00" not in text, text


def _state_resources(workspace: Workspace) -> list[Any]:
    if not workspace.state.exists():
        return []
    resources: list[Any] = json.loads(workspace.state.read_text())["resources"]
    return resources


@pytest.mark.parametrize("step", range(1, INSTALL_STEPS + 1))
def test_server_error_at_each_step_rolls_back_exactly(emulated_workspace: Workspace, step: int) -> None:
    workspace = emulated_workspace
    before = workspace.write_tenant(ADMIN_TENANT)
    workspace.write_config(INLINE)
    fault = _install_faults(workspace, step, "error")
    assert workspace.emulator is not None
    workspace.emulator.serve_tenant(workspace.tenant, FaultPlan.parse(fault))
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 1, out + err
    assert f"step {step} (" in err and "Injected fault" in err, err
    expected = "no step had taken effect before this one failed" if step == 1 else "All completed steps were undone"
    assert expected in err and "nothing was changed" in err.lower()
    _assert_clear(out + err)
    assert workspace.tenant.read_text() == before, f"{fault}: the tenant was not restored"
    assert _state_resources(workspace) == []


def _crash_apply(workspace: Workspace, fault: str) -> subprocess.CompletedProcess[str]:
    """`exoform apply` in a process of its own that dies (exit 137) once `fault`'s call took
    effect: the crash is client side, the emulator keeps serving from this process."""
    env = {**os.environ, "EXOFORM_FAULTS": fault}
    return subprocess.run([sys.executable, "-m", "exoform", "apply", "--auto-approve"],
                          cwd=workspace.root, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("step", range(1, INSTALL_STEPS + 1))
def test_crash_at_each_step_is_recovered_by_the_next_apply(emulated_workspace: Workspace, step: int) -> None:
    workspace = emulated_workspace
    before = workspace.write_tenant(ADMIN_TENANT)
    workspace.write_config(INLINE)
    fault = _install_faults(workspace, step, "crash")
    crashed = _crash_apply(workspace, fault)
    assert crashed.returncode == 137, crashed.stdout + crashed.stderr
    assert json.loads(workspace.state.read_text())["pending"] is not None
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0, out + err
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0
    names = [o["Name"] for kind in ("InboundConnector", "OutboundConnector", "TransportRule")
             for o in workspace.document()[kind]]
    assert len(names) == len(set(names)) == 6, names  # the admin's rule + ours, no duplicates
    code, out, err = workspace.run("destroy", "--auto-approve")
    assert code == 0, out + err
    assert workspace.tenant.read_text() == before, f"{fault}: destroy did not restore the tenant"


def test_429_storm_is_retried_until_it_passes(emulated_workspace: Workspace) -> None:
    workspace = emulated_workspace
    workspace.write_tenant(ADMIN_TENANT)
    workspace.write_config(INLINE)
    storm = ["Get-TransportRule#1", "Get-HostedConnectionFilterPolicy#1",
             "Set-HostedConnectionFilterPolicy#1", "New-InboundConnector#1", "New-InboundConnector#2",
             "New-InboundConnector#3", "New-TransportRule#2", "New-TransportRule#3"]
    assert workspace.emulator is not None
    workspace.emulator.serve_tenant(workspace.tenant,
                                    FaultPlan.parse(",".join(f"{c}:throttle" for c in storm)))
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0, out + err
    assert "New-InboundConnector: HTTP 429 Throttled, retry 3 in 0.25s" in out, out
    records = workspace.emulator.stats.requests
    throttled = [r for r in records if r.status == 429]
    assert len(throttled) == len(storm)
    for record in throttled:  # each retry is the same command: the same client-request-id
        assert [r.status for r in records if r.client_request_id == record.client_request_id][-1] == 200
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_429_storm_beyond_the_retry_bound_stops_and_rolls_back(emulated_workspace: Workspace) -> None:
    workspace = emulated_workspace
    before = workspace.write_tenant(ADMIN_TENANT)
    workspace.write_config(INLINE)
    storm = ",".join(f"New-OutboundConnector#{n}:throttle" for n in range(1, 7))
    assert workspace.emulator is not None
    workspace.emulator.serve_tenant(workspace.tenant, FaultPlan.parse(storm))
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 1, out + err
    assert "New-OutboundConnector" in err and "throttling" in err, err
    _assert_clear(out + err)
    assert workspace.tenant.read_text() == before
    assert workspace.emulator.stats.invoke_calls["New-OutboundConnector"] >= 6


@pytest.mark.parametrize("denied, command", [
    ("Get-TransportRule", "plan"),  # a role that cannot even read rules
    ("Set-HostedConnectionFilterPolicy", "apply"),  # the very first step
    ("New-TransportRule", "apply"),  # connectors made, then refused: undone
])
def test_permission_error_stops_cleanly_with_one_sentence(
        start_emulator: Any, workspace: Workspace, denied: str, command: str) -> None:
    emulator = start_emulator(Conditions(denied_cmdlets=(denied,)), tenant_file=workspace.tenant)
    workspace.emulator = emulator
    before = workspace.write_tenant(ADMIN_TENANT)
    workspace.write_config(INLINE)
    code, out, err = workspace.run(*(["plan"] if command == "plan" else ["apply", "--auto-approve"]))
    assert code == 1, out + err
    message = err[err.index("Error: "):].splitlines()[0]
    assert f"{denied} on " in message or message.startswith(f"Error: {denied} failed")
    assert message.endswith("the app or admin lacks the Exchange role for this cmdlet, "
                            "or the cmdlet is unknown"), message
    assert "HTTP 403" in message and message.count(". ") == 0, message
    _assert_clear(out + err)
    assert workspace.tenant.read_text() == before
    assert _state_resources(workspace) == []
    assert emulator.stats.invoke_calls[denied] == 1  # a permission error is not retried
