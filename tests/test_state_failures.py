"""A failure to write state or output is a failure like any other, on the sandbox and the
emulator, with real `exoform` processes: a state folder that fills up or turns read-only
mid-apply rolls back (exit 1, no traceback) and the next runs converge; a closed stdout never
stops an apply half-way; SIGHUP stops an apply like SIGTERM (exit 129, rolled back)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from support.workspace import Workspace

CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
LATENCY_MS = 80


@pytest.fixture(params=["workspace", "emulated_workspace"], ids=["sandbox", "emulator"])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    """A workspace whose tenant answers slowly enough to act between two steps."""
    workspace: Workspace = request.getfixturevalue(request.param)
    if workspace.emulator is None:
        yield workspace
        return
    conditions = workspace.emulator.conditions
    # The emulator's conditions are frozen for its users; a test may slow it down for a while.
    object.__setattr__(conditions, "latency_ms", float(LATENCY_MS))
    try:
        yield workspace
    finally:
        object.__setattr__(conditions, "latency_ms", 0.0)


def start(ws: Workspace, *args: str, stdout: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "EXOFORM_FAULTS"}
    env["EXOFORM_SANDBOX_LATENCY_MS"] = str(LATENCY_MS)
    return subprocess.Popen([sys.executable, "-m", "exoform", *args], cwd=ws.root, env=env,
                            stdout=stdout, stderr=subprocess.PIPE)


def wait_for_step(ws: Workspace, proc: subprocess.Popen[bytes], step: int) -> None:
    """Until the pending record of step `step` (from 1) is in the state."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            pending = json.loads(ws.state.read_text()).get("pending")
        except (FileNotFoundError, ValueError):
            pending = None
        if pending and pending["step"] == step - 1:
            return
        time.sleep(0.002)
    raise AssertionError("timed out waiting for the step")


@pytest.fixture
def small_state_fs(workspace: Workspace) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted on the workspace's state folder (root only)."""
    folder = workspace.root / "state"
    folder.mkdir(mode=0o700)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Callable[[], None]:
    """Fill the file system; returns the function that frees it again."""
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler.unlink


def _read_only(folder: Path) -> Callable[[], None]:
    """A read-only view of the folder mounted over it (the running apply holds files open
    there, so the file system itself cannot be remounted read-only)."""
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
    return lambda: subprocess.run(["umount", str(folder)], check=True) and None


@pytest.mark.parametrize("trouble", [_fill, _read_only], ids=["full", "read-only"])
def test_a_state_write_failing_mid_apply_rolls_back_and_the_next_run_converges(
        ws: Workspace, small_state_fs: Path, trouble: Callable[[Path], Callable[[], None]]) -> None:
    original = ws.write_tenant(None)
    ws.write_config(CONFIG)
    proc = start(ws, "apply", "--auto-approve")
    wait_for_step(ws, proc, 3)
    undo = trouble(small_state_fs)
    _rolled_back(ws, proc, original,
                 "no space left on the device" if trouble is _fill else "the file system is read-only")
    undo()
    _converges(ws, original)


def _rolled_back(ws: Workspace, proc: subprocess.Popen[bytes], original: str, says: str) -> None:
    """The apply failed on its state write, saying `says`, and undid every call."""
    out, err = proc.communicate(timeout=60)
    output = (out + err).decode()
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    assert says in output, output
    assert "All completed steps were undone" in output, output
    assert ws.tenant.read_text() == original  # rolled back although nothing could be recorded


def _converges(ws: Workspace, original: str) -> None:
    """The next runs apply, find nothing to change and destroy back to `original`."""
    code, out_text, err_text = ws.run("apply", "--auto-approve")
    assert code == 0, out_text + err_text
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def _delete_state(ws: Workspace) -> None:
    ws.state.unlink()


def _replace_state(ws: Workspace) -> None:
    """Another writer's version (a lost lock, a copy pushed by hand) in place of ours."""
    document = json.loads(ws.state.read_text())
    document["serial"] += 100
    ws.state.write_text(json.dumps(document))


@pytest.mark.parametrize("tamper", [_delete_state, _replace_state], ids=["deleted", "replaced"])
def test_a_state_deleted_or_replaced_under_a_running_apply_rolls_back(
        ws: Workspace, tamper: Callable[[Workspace], None]) -> None:
    """The apply can no longer record its calls: it stops and undoes them (exit 1, no
    traceback), rather than finishing with changes no state names."""
    original = ws.write_tenant(None)
    ws.write_config(CONFIG)
    proc = start(ws, "apply", "--auto-approve")
    wait_for_step(ws, proc, 3)
    tamper(ws)
    _rolled_back(ws, proc, original, "was deleted while this command held its lock" if tamper is _delete_state
                 else "changed since this command read it")
    ws.state.unlink(missing_ok=True)
    _converges(ws, original)


def test_a_closed_stdout_never_stops_an_apply_half_way(ws: Workspace) -> None:
    original = ws.write_tenant(None)
    ws.write_config(CONFIG)
    read_end, write_end = os.pipe()
    os.close(read_end)  # whatever exoform prints meets a closed pipe (EPIPE)
    proc = start(ws, "apply", "--auto-approve", stdout=write_end)
    os.close(write_end)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err and b"BrokenPipe" not in err
    assert ws.run("plan", "--detailed-exitcode")[0] == 0  # the apply completed
    read_end, write_end = os.pipe()
    proc = start(ws, "destroy", "--auto-approve", stdout=write_end)
    os.close(write_end)
    os.read(read_end, 10)  # like `| head -c 10`: read a little, then go away
    os.close(read_end)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"Traceback" not in err, err.decode()
    assert ws.tenant.read_text() == original


def test_sighup_stops_an_apply_like_sigterm(ws: Workspace) -> None:
    original = ws.write_tenant(None)
    ws.write_config(CONFIG)
    proc = start(ws, "apply", "--auto-approve")
    wait_for_step(ws, proc, 3)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    output = (out + err).decode()
    assert proc.returncode == 129, output
    assert "SIGHUP received" in output and "All completed steps were undone" in output
    assert ws.tenant.read_text() == original
