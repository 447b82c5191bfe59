"""Shared state through a real PostgreSQL and Azurite (started by the test session, no mocks) on
the emulated tenant: two folders sharing nothing, two processes at once, SIGKILL and SIGTERM of
the holder, broken leases, force-unlock, history, pull/push, migrate local -> azurerm -> postgres
-> local, encryption and wrong keys, refused table creation, secrets never echoed."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from exoform.backends.base import Backend, Meta, StateKey
from exoform.backends.registry import open_backend
from exoform.engine.errors import LockError, WriteConflict
from exoform.engine.lock import new_info
from exoform.engine.model import Address, Kind, freeze_attrs
from exoform.engine.spec import BackendSpec
from exoform.engine.state import StateResource
from exoform.engine.statefile import StateStore
from support.servers import CONTAINER, Azurite, Postgres
from support.workspace import Workspace

CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
KEY_A, KEY_B = "A" * 43 + "=", "B" * 43 + "="  # two 256-bit keys, base64


def backend_block(kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The config's backend block of `kind`, on a key space of this test's own."""
    unique = "t" + uuid.uuid4().hex[:12]
    if kind == "azurerm":
        server: Azurite = request.getfixturevalue("azurite_server")
        monkeypatch.setenv("EXOFORM_TEST_AZURE", server.connection_string)
        return {"type": "azurerm", "container": CONTAINER, "key_prefix": unique, "lease_seconds": 15,
                "auth": {"method": "connection_string", "connection_string_env": "EXOFORM_TEST_AZURE"}}
    if kind == "postgres":
        pg: Postgres = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("EXOFORM_TEST_PG", pg.conninfo)
        return {"type": "postgres", "conn_str_env": "EXOFORM_TEST_PG", "schema": unique, "lock_seconds": 5}
    return {"type": "local"}


@pytest.fixture(params=["azurerm", "postgres"])
def remote(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return backend_block(request.param, request, monkeypatch)


@pytest.fixture(params=["local", "azurerm", "postgres"])
def any_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return backend_block(request.param, request, monkeypatch)


def _config(ws: Workspace, backend: dict[str, Any], path: Path | None = None, **extra: Any) -> Path:
    return ws.write_config({**CONFIG, "backend": backend, **extra}, path=path)


def _backend(block: dict[str, Any], ws: Workspace) -> tuple[Backend, StateKey]:
    options = {k: v for k, v in block.items() if k != "type"}
    backend = open_backend(BackendSpec(block["type"], options), local_path=ws.state)
    tenant = ws.emulator.tenant_id if ws.emulator is not None else ""
    return backend, StateKey(tenant if backend.per_tenant else "", "scenario")


def _stored_state(block: dict[str, Any], ws: Workspace) -> dict[str, Any] | None:
    backend, key = _backend(block, ws)
    stored = backend.read(key)
    return json.loads(stored.data) if stored else None


def _start(ws: Workspace, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "EXOFORM_FAULTS"}
    return subprocess.Popen([sys.executable, "-m", "exoform", *args], cwd=cwd or ws.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_step(ws: Workspace, block: dict[str, Any], proc: subprocess.Popen[str], step: int) -> None:
    """Until the backend's state holds the pending record of step `step` (from 0)."""
    deadline = time.monotonic() + 30
    while ((_stored_state(block, ws) or {}).get("pending") or {}).get("step") != step:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.01)


@pytest.fixture
def slow(emulated_workspace: Workspace) -> Iterator[Workspace]:
    """The emulated workspace answering each call after 250 ms."""
    assert emulated_workspace.emulator is not None
    conditions = emulated_workspace.emulator.conditions
    object.__setattr__(conditions, "latency_ms", 250.0)  # frozen for its users; a test may slow it
    try:
        yield emulated_workspace
    finally:
        object.__setattr__(conditions, "latency_ms", 0.0)


def test_two_working_folders_with_no_shared_files_share_one_state(
        emulated_workspace: Workspace, remote: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    ws = emulated_workspace
    original = ws.write_tenant(None)
    first, second = ws.root / "laptop", ws.root / "ci-runner"
    for folder in (first, second):
        folder.mkdir()
        _config(ws, remote, path=folder / "exoform.json")
    monkeypatch.chdir(first)
    code, out, err = ws.run("apply", "--auto-approve")
    assert code == 0, err
    assert sorted(p.name for p in first.iterdir()) == ["exoform.json"]  # no local state at all
    monkeypatch.chdir(second)
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    code, out, err = ws.run("destroy", "--auto-approve")
    assert code == 0 and "destroyed" in out, err
    assert ws.tenant.read_text() == original
    monkeypatch.chdir(first)
    assert ws.run("plan", "--detailed-exitcode")[0] == 2  # the laptop sees the destroy too
    assert sorted(p.name for p in second.iterdir()) == ["exoform.json"]


def test_two_processes_at_once_one_wins_the_other_names_the_holder(slow: Workspace, remote: dict[str, Any]) -> None:
    ws = slow
    original = ws.write_tenant(None)
    _config(ws, remote)
    backend, key = _backend(remote, ws)
    first = _start(ws, "apply", "--auto-approve")
    _wait_for_step(ws, remote, first, 0)  # in its first step: it holds the lock
    assert backend.holder(key) is not None
    second = _start(ws, "apply", "--auto-approve")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 1, out + err
    assert f"the state is locked by pid {first.pid}" in err and "lock ID" in err
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert backend.holder(key) is None  # released on exit
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def test_sigkill_of_the_holder_its_lease_lapses_and_the_next_run_recovers(slow: Workspace, remote: dict[str, Any]) -> None:
    ws = slow
    original = ws.write_tenant(None)
    _config(ws, remote)
    proc = _start(ws, "apply", "--auto-approve")
    _wait_for_step(ws, remote, proc, 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    code, _, err = ws.run("apply", "--auto-approve")
    assert code == 1 and "which has exited" in err  # the dead holder's lease has not lapsed yet
    code, out, err = ws.run("apply", "--auto-approve", "--lock-timeout", "60s")
    assert code == 0, out + err
    after = _stored_state(remote, ws)
    assert after is not None and after["pending"] is None and len(after["resources"]) == 6
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


RULE = StateResource(Address(Kind.TRANSPORT_RULE, "spf"), "X - SPF", "g-1", freeze_attrs({"Name": "X - SPF"}))


def test_a_writer_whose_lease_was_broken_cannot_overwrite(emulated_workspace: Workspace, any_backend: dict[str, Any]) -> None:
    ws = emulated_workspace
    backend, key = _backend(any_backend, ws)
    stale, fresh = StateStore(backend, key), StateStore(_backend(any_backend, ws)[0], key)
    seed = StateStore(backend, key)
    seed.save(seed.load("scenario"))
    with stale.locked("exoform apply") as lease:
        state = stale.load("scenario")
        backend.force_unlock(key, lease.holder.id, force=True)
        with fresh.locked("exoform apply"):
            fresh.save(fresh.load("scenario").put(RULE))
            with pytest.raises((LockError, WriteConflict)):  # the lease or the version check stops it
                stale.save(state.put(dataclasses.replace(RULE, guid="g-stale")))
    assert fresh.load("scenario").get(RULE.address) == RULE


def test_history_show_version_and_pull_push(emulated_workspace: Workspace, any_backend: dict[str, Any]) -> None:
    ws = emulated_workspace
    original = ws.write_tenant(None)
    _config(ws, any_backend)
    assert ws.run("apply", "--auto-approve")[0] == 0
    _config(ws, any_backend, rules={"enabled": True})
    assert ws.run("apply", "--auto-approve")[0] == 0
    code, out, err = ws.run("state", "history", "--json")
    assert code == 0, err
    versions = json.loads(out)["versions"]
    serials = [v["serial"] for v in versions]
    assert serials == sorted(serials) and len(serials) >= 2 and len({v["lineage"] for v in versions}) == 1
    oldest = serials[0]
    code, out, _ = ws.run("state", "show", "--version", str(oldest))
    assert code == 0 and f"serial {oldest}" in out
    code, out, err = ws.run("state", "pull", "pulled.json")
    assert code == 0 and oldest != json.loads((ws.root / "pulled.json").read_text())["serial"]
    assert oct((ws.root / "pulled.json").stat().st_mode & 0o777) == "0o600"
    assert ws.run("state", "pull", "old.json", "--version", str(oldest))[0] == 0
    code, _, err = ws.run("state", "push", "old.json")
    assert code == 1 and "older than" in err  # an older serial is refused
    foreign = json.loads((ws.root / "pulled.json").read_text())
    foreign["lineage"] = str(uuid.uuid4())
    (ws.root / "foreign.json").write_text(json.dumps(foreign))
    code, _, err = ws.run("state", "push", "foreign.json")
    assert code == 1 and "it is another state" in err
    code, out, err = ws.run("state", "push", "foreign.json", "--force")
    assert code == 0 and "Pushed the state" in out, err
    pushed = json.loads(ws.run("show", "--json")[1])
    assert pushed["exoform"]["lineage"] == foreign["lineage"] and pushed["exoform"]["serial"] > foreign["serial"]
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def test_migrate_local_azurerm_postgres_local_keeps_the_lineage(
        emulated_workspace: Workspace, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = emulated_workspace
    original = ws.write_tenant(None)
    configs = {kind: _config(ws, backend_block(kind, request, monkeypatch), path=ws.root / f"{kind}.json")
               for kind in ("local", "azurerm", "postgres")}
    assert ws.run("apply", "-c", str(configs["local"]), "--auto-approve")[0] == 0
    lineage = json.loads(ws.run("show", "-c", str(configs["local"]), "--json")[1])["exoform"]["lineage"]
    for previous, kind in (("local", "azurerm"), ("azurerm", "postgres")):
        code, out, err = ws.run("state", "migrate", "-c", str(configs[kind]), "--from", str(configs[previous]))
        assert code == 0 and "Copied the state" in out, err
        assert json.loads(ws.run("show", "-c", str(configs[kind]), "--json")[1])["exoform"]["lineage"] == lineage
        assert ws.run("plan", "-c", str(configs[kind]), "--detailed-exitcode")[0] == 0
    code, out, _ = ws.run("state", "migrate", "-c", str(configs["azurerm"]), "--from", str(configs["postgres"]))
    assert code == 0 and "already holds this state" in out  # nothing to copy twice
    pg_block = json.loads(configs["postgres"].read_text())["backend"]
    _config(ws, pg_block, path=configs["postgres"], rules={"enabled": True})
    assert ws.run("apply", "-c", str(configs["postgres"]), "--auto-approve")[0] == 0  # postgres moves on
    code, _, err = ws.run("state", "migrate", "-c", str(configs["postgres"]), "--from", str(configs["azurerm"]))
    assert code == 1 and "holds a newer version of this state" in err  # never back over a newer one
    code, out, err = ws.run("state", "migrate", "-c", str(configs["local"]), "--from", str(configs["postgres"]))
    assert code == 0 and "Copied the state" in out, err  # over the older local copy of the same lineage
    back = json.loads(ws.state.read_text())
    assert back["lineage"] == lineage and len(back["resources"]) == 6
    _config(ws, {"type": "local"}, path=configs["local"], rules={"enabled": True})
    assert ws.run("plan", "-c", str(configs["local"]), "--detailed-exitcode")[0] == 0
    assert ws.run("destroy", "-c", str(configs["local"]), "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def test_encryption_on_off_a_wrong_key_and_rotation(emulated_workspace: Workspace, any_backend: dict[str, Any],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ws = emulated_workspace
    original = ws.write_tenant(None)
    monkeypatch.setenv("EXOFORM_KEY_A", KEY_A)
    monkeypatch.setenv("EXOFORM_KEY_B", KEY_B)
    plain = _config(ws, any_backend, path=ws.root / "plain.json")
    keyed = _config(ws, any_backend, path=ws.root / "keyed.json", encryption={"key_env": "EXOFORM_KEY_A"})
    rotated = _config(ws, any_backend, path=ws.root / "rotated.json", encryption={"key_env": "EXOFORM_KEY_B"})
    assert ws.run("apply", "-c", str(plain), "--auto-approve")[0] == 0
    code, _, err = ws.run("plan", "-c", str(keyed))
    assert code == 1 and "is not encrypted, but the config sets encryption" in err
    code, out, err = ws.run("state", "migrate", "-c", str(keyed), "--from", str(plain))
    assert code == 0, err
    backend, key = _backend(any_backend, ws)
    stored = backend.read(key)
    assert stored is not None and b"tenant-info-123" not in stored.data and b"exoform_encrypted" in stored.data
    assert ws.run("plan", "-c", str(keyed), "--detailed-exitcode")[0] == 0
    assert ws.run("plan", "-c", str(keyed), "--out", "keyed.plan")[0] == 0
    assert b"tenant-info-123" not in (ws.root / "keyed.plan").read_bytes()
    for config, words in ((plain, "is encrypted"), (rotated, "was encrypted with key")):
        code, _, err = ws.run("apply", "-c", str(config), "--auto-approve")
        assert code == 1 and words in err and "Traceback" not in err, err
        assert backend.read(key).data == stored.data  # nothing overwritten (a lease only touches metadata)
    code, _, err = ws.run("apply", "-c", str(rotated), "keyed.plan")
    assert code == 1 and "was encrypted with key" in err
    monkeypatch.setenv("EXOFORM_KEY_A", "not a key")
    code, _, err = ws.run("plan", "-c", str(keyed))
    assert code == 1 and "EXOFORM_KEY_A" in err and "not a key" not in err
    monkeypatch.setenv("EXOFORM_KEY_A", KEY_A)
    code, _, err = ws.run("state", "migrate", "-c", str(rotated), "--from", str(keyed))  # key rotation
    assert code == 0, err
    assert ws.run("plan", "-c", str(rotated), "--detailed-exitcode")[0] == 0
    assert ws.run("plan", "-c", str(keyed))[0] == 1
    assert ws.run("destroy", "-c", str(rotated), "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def test_a_role_that_may_not_create_tables_gets_the_sql_to_run(
        emulated_workspace: Workspace, postgres_server: Postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    with psycopg.connect(postgres_server.conninfo, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'limited') "
                     "THEN CREATE ROLE limited LOGIN; END IF; END $$")
        conn.execute("REVOKE CREATE ON DATABASE postgres FROM PUBLIC")
    monkeypatch.setenv("EXOFORM_TEST_PG", postgres_server.conninfo.replace("exoform@", "limited@"))
    ws = emulated_workspace
    ws.write_tenant(None)
    _config(ws, {"type": "postgres", "conn_str_env": "EXOFORM_TEST_PG", "schema": "forbidden"})
    code, _, err = ws.run("plan")
    assert code == 1 and "may not create them" in err and 'CREATE TABLE IF NOT EXISTS "forbidden".states' in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind, extra", [("azurerm", "azure"), ("postgres", "postgres")])
def test_a_missing_extra_is_named(workspace: Workspace, kind: str, extra: str) -> None:
    block = ({"type": "azurerm", "account_url": "https://acct.blob.core.windows.net", "container": "state",
              "auth": {"method": "default"}} if kind == "azurerm" else {"type": "postgres", "conn_str_env": "PG"})
    workspace.write_config({**CONFIG, "backend": block})
    library = "azure" if kind == "azurerm" else "psycopg"
    code = (f"import sys; sys.modules[{library!r}] = None\n"
            "from exoform.cli import main; sys.exit(main(['plan']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=workspace.root, capture_output=True, text=True,
                          env={**os.environ, "PG": "postgresql://x@127.0.0.1:1/x"})
    assert done.returncode == 1 and f"pip install 'exoform[{extra}]'" in done.stderr, done.stderr


@pytest.mark.parametrize("block, value", [
    ({"type": "postgres", "conn_str_env": "SECRET_CONN"}, "postgresql://exoform:hunter2-secret@127.0.0.1:1/db"),
    ({"type": "postgres", "conn_str_env": "SECRET_CONN"}, "host=127.0.0.1 port=1 password=hunter2-secret user"),
    ({"type": "azurerm", "container": "exoform", "auth": {"method": "connection_string",
                                                         "connection_string_env": "SECRET_CONN"}},
     "AccountName=x;AccountKey=hunter2-secret;garbage"),
])
def test_a_backend_that_cannot_be_reached_never_echoes_its_secret(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch, block: dict[str, Any], value: str) -> None:
    workspace.write_tenant(None)
    workspace.write_config({**CONFIG, "backend": block})
    monkeypatch.setenv("SECRET_CONN", value)
    code, out, err = workspace.run("plan")
    assert code == 1 and "Traceback" not in err and err.startswith("Error:"), err
    assert "hunter2" not in out + err


def test_sigterm_rolls_back_and_releases_the_lease_at_once(slow: Workspace, remote: dict[str, Any]) -> None:
    ws = slow
    original = ws.write_tenant(None)
    _config(ws, remote)
    backend, key = _backend(remote, ws)
    proc = _start(ws, "apply", "--auto-approve")
    _wait_for_step(ws, remote, proc, 2)
    proc.send_signal(signal.SIGTERM)  # a CI cancel
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "All completed steps were undone" in out + err, out + err
    assert backend.holder(key) is None  # released on the way out, not left to lapse
    assert ws.tenant.read_text() == original


def test_force_unlock_breaks_a_live_holders_lease_only_when_forced(
        emulated_workspace: Workspace, remote: dict[str, Any]) -> None:
    ws = emulated_workspace
    original = ws.write_tenant(None)
    _config(ws, remote)
    backend, key = _backend(remote, ws)
    lease = backend.acquire(key, new_info("exoform apply"))  # a hung run on this host (this process)
    code, _, err = ws.run("apply", "--auto-approve")
    assert code == 1 and lease.holder.id in err
    code, _, err = ws.run("force-unlock", lease.holder.id)
    assert code == 1 and "still running on this host" in err
    code, out, err = ws.run("force-unlock", lease.holder.id, "--force")
    assert code == 0 and "Broke the lock" in out, err
    with pytest.raises((LockError, WriteConflict)):  # the hung holder can no longer write
        backend.write(key, b"{}", Meta("x", 99), expected=None, lease=lease)
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original
