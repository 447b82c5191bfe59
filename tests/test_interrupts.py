"""Ctrl-C and SIGTERM during apply: real signals sent to real `exoform` processes on a slow
sandbox (EXOFORM_SANDBOX_LATENCY_MS) stop at the next safe point, roll back unless
--no-rollback, exit 128 + the signal number; a second Ctrl-C while rolling back warns, a third
stops the rollback. In-process: an interrupt at any step never splits a call from its record."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, note, strategies as st

from support.workspace import Workspace
from exoform.engine.apply import Executor
from exoform.engine.interrupt import Interrupts
from support.reporter import RecordingReporter
from exoform.signals import notice
from support.harness import Run, canonical_tenant, configs, spec_from, tenants

INLINE = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
LATENCY_MS = "60"


def start(workspace: Workspace, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "EXOFORM_FAULTS"}
    env["EXOFORM_SANDBOX_LATENCY_MS"] = LATENCY_MS
    return subprocess.Popen([sys.executable, "-m", "exoform", *args], cwd=workspace.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(workspace: Workspace, proc: subprocess.Popen[str], test: Callable[[dict[str, Any]], bool]) -> None:
    """Poll the state file until `test(state)` holds (the process must still be running)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            state = json.loads(workspace.state.read_text())
        except (FileNotFoundError, ValueError):
            state = None
        if state is not None and test(state):
            return
        time.sleep(0.003)
    raise AssertionError("timed out waiting for the state")


def in_step(number: int, cmdlet_prefix: str = "") -> Callable[[dict[str, Any]], bool]:
    """The call of step `number` (from 1) is in flight: its pending record is written."""
    def test(state: dict[str, Any]) -> bool:
        pending = state.get("pending")
        return bool(pending) and pending["step"] == number - 1 and pending["cmdlet"].startswith(cmdlet_prefix)
    return test


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out + err


def stopped_before(output: str, earliest: int) -> int:
    """The step the run stopped before: the one after the step in flight when signalled (a
    loaded machine may deliver the signal a step later; never earlier, never mid-step)."""
    match = re.search(r"received: stopped (?:before step (\d+) of 6|after the last step \(6\)), "
                      r"(\d+) step\(s\) completed", output)
    assert match, output
    step, completed = int(match.group(1) or 7), int(match.group(2))
    assert completed == step - 1 and earliest <= step <= 6, output
    return step


def test_sigint_mid_apply_stops_at_a_safe_point_and_rolls_back(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    original = workspace.write_tenant(None)
    proc = start(workspace, "apply", "--auto-approve")
    wait_for(workspace, proc, in_step(4))
    proc.send_signal(signal.SIGINT)
    returncode, output = finish(proc)
    assert returncode == 130, output
    assert "SIGINT received: exoform stops after the tenant call in progress" in output
    step = stopped_before(output, 5)
    assert "Apply interrupted by SIGINT: stopped " in output
    assert "All completed steps were undone" in output and "Traceback" not in output
    assert workspace.tenant.read_text() == original
    state = json.loads(workspace.state.read_text())
    assert state["resources"] == [] and state["pending"] is None
    assert workspace.run("apply", "--auto-approve")[0] == 0
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_sigint_with_no_rollback_keeps_recorded_progress(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    proc = start(workspace, "apply", "--auto-approve", "--no-rollback")
    wait_for(workspace, proc, in_step(3))
    proc.send_signal(signal.SIGINT)
    returncode, output = finish(proc)
    assert returncode == 130, output
    step = stopped_before(output, 4)
    kept = ", ".join(str(i) for i in range(1, step))
    assert f"--no-rollback: steps completed and kept: {kept}." in output
    state = json.loads(workspace.state.read_text())
    assert state["pending"] is None and len(state["resources"]) == step - 1
    plan = workspace.plan_json()
    assert not [c for c in plan["resource_changes"] if c["exoform"]["adopted"]]  # state knew every object
    assert len(plan["exoform"]["steps"]) == 6 - (step - 1)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_second_interrupt_warns_and_third_stops_the_rollback(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    proc = start(workspace, "apply", "--auto-approve")
    wait_for(workspace, proc, in_step(6))
    proc.send_signal(signal.SIGINT)
    wait_for(workspace, proc, in_step(5, "Remove-"))  # undoing step 5: rolling back
    proc.send_signal(signal.SIGINT)
    # The next undo starting shows the second interrupt was handled: two signals sent before
    # Python runs its handler arrive as one (a loaded machine lost the third that way).
    wait_for(workspace, proc, in_step(4, "Remove-"))
    proc.send_signal(signal.SIGINT)
    returncode, output = finish(proc)
    assert returncode == 130, output
    assert "received while rolling back. Stopping now would leave a partial change" in output
    assert "run `exoform plan` to see what is left, then `exoform apply`" in output
    match = re.search(r"rollback stopped by SIGINT before undoing step (\d)", output)
    assert match and 1 <= int(match.group(1)) <= 3, output  # 3 unless the machine lagged
    kept = int(match.group(1))
    assert "Rollback did NOT complete" in output
    state = json.loads(workspace.state.read_text())
    assert state["pending"] is None
    in_step_order = ["inbound_connector.inbound", "connection_filter_allowlist.default",
                     "outbound_connector.outbound", "transport_rule.spf"]
    assert sorted(r["address"] for r in state["resources"]) == sorted(in_step_order[:kept])
    assert workspace.run("apply", "--auto-approve")[0] == 0
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_sigterm_mid_destroy_rolls_back_to_the_applied_tenant(workspace: Workspace) -> None:
    workspace.write_config(INLINE)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    applied = workspace.tenant.read_text()
    proc = start(workspace, "destroy", "--auto-approve")
    wait_for(workspace, proc, in_step(2))
    proc.send_signal(signal.SIGTERM)
    returncode, output = finish(proc)
    assert returncode == 143, output
    assert "SIGTERM received: exoform stops after the tenant call in progress" in output
    step = stopped_before(output, 3)
    assert "Destroy interrupted by SIGTERM: stopped " in output and step >= 3
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0
    assert len(workspace.document()["TransportRule"]) == len(json.loads(applied)["TransportRule"])


# --- in-process: the executor polls the flag only between a call's record and the next step --


class InterruptingProvider:
    """Wraps a provider; raises the flag during call number `at` (from 1), as a signal would."""

    def __init__(self, inner: Any, flag: Interrupts, at: int) -> None:
        self.inner, self.flag, self.at, self.calls = inner, flag, at, 0
        self.name = inner.name

    def read(self, types: Any) -> Any:
        return self.inner.read(types)

    def invoke(self, call: Any) -> Any:
        self.calls += 1
        if self.calls == self.at:
            self.flag.request(signal.SIGINT)
        return self.inner.invoke(call)

    def close(self) -> None:
        pass


@given(tenant=tenants(), config=configs(), data=st.data())
def test_interrupt_at_any_step_records_that_call_then_rolls_back_exactly(
        tenant: dict[str, Any], config: dict[str, Any], data: st.DataObject) -> None:
    shm = Path("/dev/shm")  # tmpfs when there is one: the same code paths without fsync waits
    root = Path(tempfile.mkdtemp(prefix="exoform-interrupt-", dir=shm if shm.is_dir() else None))
    try:
        _interrupt_at_a_drawn_step(Run(root), tenant, config, data)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _interrupt_at_a_drawn_step(run: Run, tenant: dict[str, Any], config: dict[str, Any],
                               data: st.DataObject) -> None:
    original = canonical_tenant(tenant)
    run.tenant.write_text(original, encoding="utf-8")
    spec = spec_from(config)
    plan = run.plan(spec)
    at = data.draw(st.integers(1, len(plan.steps)))
    note(f"interrupt during step {at}: {plan.steps[at - 1].description}")
    store, state = run.state()
    flag, reporter = Interrupts(), RecordingReporter()
    provider = InterruptingProvider(run.provider(), flag, at)
    result = Executor(provider, store, reporter, interrupts=flag).apply(plan, state)
    assert result.interrupted == "SIGINT" and result.failed_step == at
    assert result.completed == tuple(range(at)), "the call in flight must finish and be recorded"
    assert result.rollback_complete, result.leftovers
    assert run.tenant.read_text(encoding="utf-8") == original
    assert run.state()[1].resources == () and run.state()[1].pending is None
    started = [e for e in reporter.events if e[0] == "step_started"]
    assert len(started) == at


def test_notices() -> None:
    flag = Interrupts()
    flag.request(signal.SIGTERM)
    assert notice(flag).startswith("\nSIGTERM received: exoform stops after the tenant call")
    flag.request(signal.SIGINT)
    assert "still finishing the call in progress" in notice(flag)
    flag.begin_rollback()
    flag.request(signal.SIGINT)
    assert "Stopping now would leave a partial change" in notice(flag) and not flag.stop_rollback
    flag.request(signal.SIGINT)
    assert "the rollback stops after the call in progress" in notice(flag) and flag.stop_rollback
    assert flag.exit_code == 143 and flag.signal_name == "SIGTERM"
