"""`exoform emulator serve` as a user runs it: each bad start (port in use, a bad port, a bad
tenant file, a negative latency, an unknown cmdlet to deny) is one clear line and exit 1; the CA,
keys and secret are kept in --workdir across restarts; SIGTERM stops it and removes a temporary
work folder with its keys."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def serve(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXOFORM_")}
    return subprocess.run([sys.executable, "-m", "exoform", "emulator", "serve", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = serve(tmp_path, "--port", str(taken.getsockname()[1]))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: cannot listen on 127.0.0.1:") and "--port 0" in result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--port", "70000"], "--port 70000 is not a TCP port"),
    (["--latency-ms", "-5"], "--latency-ms -5 is not valid"),
    (["--replication-lag", "-1"], "--replication-lag -1 is not valid"),
    (["--page-size", "0"], "--page-size 0 is not valid"),
    (["--deny-cmdlet", "Remove-Mailbox"], "--deny-cmdlet 'Remove-Mailbox': the emulator serves no such cmdlet"),
    (["--tenant-file", "bad.json"], "bad.json"),
])
def test_each_bad_start_is_one_clear_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    result = serve(tmp_path, *args)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.returncode == 1 and len(errors) == 1 and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def _start(cwd: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXOFORM_")}
    process = subprocess.Popen([sys.executable, "-m", "exoform", "emulator", "serve", "--port", "0", *args],
                               cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Press Ctrl-C to stop." in line or not line:
            break
    return process, "".join(lines)


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_workdir_keeps_ca_keys_and_secret_across_restarts(tmp_path: Path) -> None:
    first, said = _start(tmp_path, "--workdir", "emu")
    assert _stop(first) == 0
    ca = (tmp_path / "emu" / "ca.pem").read_bytes()
    key = (tmp_path / "emu" / "app.pem").read_bytes()
    secret = re.search(r"EXOFORM_EMULATOR_SECRET='([^']+)'", said)
    again, said_again = _start(tmp_path, "--workdir", "emu")
    assert _stop(again) == 0
    assert secret and secret.group(0) in said_again
    assert (tmp_path / "emu" / "ca.pem").read_bytes() == ca and (tmp_path / "emu" / "app.pem").read_bytes() == key
    assert re.search(r"passphrase (\S+)\)", said).group(1) == re.search(r"passphrase (\S+)\)", said_again).group(1)  # type: ignore[union-attr]
    for name in ("ca-key.pem", "app.pem", "app.pfx", "server.pem", "emulator-secrets.json"):
        assert (tmp_path / "emu" / name).stat().st_mode & 0o077 == 0, name


def test_sigterm_removes_the_temporary_work_folder_and_its_keys(tmp_path: Path) -> None:
    process, said = _start(tmp_path)
    found = re.search(r"CA bundle:\s+(\S+)", said)
    assert found, said
    folder = Path(found.group(1)).parent
    assert (folder / "app.pem").exists()
    assert _stop(process) == 0
    assert not folder.exists()
