"""State bound to its tenant and kept next to its config, and files that cannot be turned against
the user, through the CLI on the sandbox and the emulator: another tenant is refused, the state is
found from any folder (an old one moved), `plan --out` spares exoform's files, links and unsafe
folders are refused, and whatever holds the tenant information is 0600."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from support.workspace import Workspace

CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}


@pytest.fixture(params=["workspace", "emulated_workspace"], ids=["sandbox", "emulator"])
def ws(request: pytest.FixtureRequest) -> Workspace:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def _applied(ws: Workspace) -> str:
    original = ws.write_tenant(None)
    ws.write_config(CONFIG)
    code, _, err = ws.run("apply", "--auto-approve")
    assert code == 0, err
    return original


def _reapplied(ws: Workspace) -> None:
    """A second apply that writes (the rules get enabled): the state now has a `.backup`."""
    ws.write_config({**CONFIG, "rules": {"enabled": True}})
    code, _, err = ws.run("apply", "--auto-approve")
    assert code == 0, err


def test_a_config_for_another_tenant_is_refused_with_both_named(ws: Workspace) -> None:
    _applied(ws)
    bound = json.loads(ws.state.read_text())["tenant"]
    assert bound["provider"] == ("sandbox" if ws.emulator is None else "exchange_online")
    if ws.emulator is not None:
        assert bound["tenant_id"] == ws.emulator.tenant_id  # the token's tid
    # The same integration name, another tenant (another sandbox file), same folder: same state.
    other = ws.root / "other-tenant.json"
    other.write_text(json.dumps({"tenant_id": "0f0e0d0c-0000-4000-8000-00000000beef"}))
    config = {"integration": "scenario", **CONFIG, "tenant": {"provider": "sandbox", "sandbox_file": "other-tenant.json"}}
    (ws.root / "b.json").write_text(json.dumps(config))
    state_before, other_before = ws.state.read_bytes(), other.read_bytes()
    for command in (("plan",), ("apply", "--auto-approve"), ("destroy", "--auto-approve"), ("drift",)):
        code, out, err = ws.run(*command, "-c", "b.json")
        assert code == 1, (command, out, err)
        assert "belongs to " + ("sandbox" if ws.emulator is None else "exchange_online") in err
        assert "0f0e0d0c-0000-4000-8000-00000000beef" in err and bound["tenant_id"] in err
        assert "nothing was changed" in err and "Traceback" not in err
    assert ws.state.read_bytes() == state_before and other.read_bytes() == other_before
    assert ws.run("plan", "--detailed-exitcode")[0] == 0  # the right config still works


def test_a_state_written_before_binding_is_bound_on_its_next_write_with_a_notice(ws: Workspace) -> None:
    original = _applied(ws)
    state = json.loads(ws.state.read_text())
    state.pop("tenant")
    state["format_version"] = 2
    ws.state.write_text(json.dumps(state))
    code, out, _ = ws.run("plan")
    assert code == 0 and json.loads(ws.state.read_text())["format_version"] == 2  # reading writes nothing
    code, out, err = ws.run("apply", "--auto-approve")
    assert code == 0, err
    assert "was not bound to a tenant yet" in out + err
    assert json.loads(ws.state.read_text())["tenant"]["provider"]
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def test_the_state_lives_next_to_its_config_from_any_folder(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    original = ws.write_tenant(None)
    customer = ws.root / "customers" / "contoso"
    customer.mkdir(parents=True)
    block = ws.tenant_block()
    if ws.emulator is None:
        block = {"provider": "sandbox", "sandbox_file": str(ws.tenant)}
    (customer / "exoform.json").write_text(json.dumps({"integration": "scenario", **CONFIG, "tenant": block}))
    code, _, err = ws.run("apply", "-c", "customers/contoso/exoform.json", "--auto-approve")
    assert code == 0, err
    assert (customer / "state" / "scenario.json").exists() and not ws.state.exists()
    monkeypatch.chdir(customer)
    code, out, err = ws.run("destroy", "--auto-approve")
    assert code == 0, err
    assert "destroyed" in out and "No objects need to be destroyed" not in out
    assert ws.tenant.read_text() == original


def test_an_old_cwd_relative_state_and_default_sandbox_move_next_to_the_config(workspace: Workspace) -> None:
    sub = workspace.root / "sub"
    sub.mkdir()
    (sub / "exoform.json").write_text(json.dumps({"integration": "scenario", **CONFIG}))  # default sandbox
    code, _, err = workspace.run("apply", "-c", "sub/exoform.json", "--auto-approve")
    assert code == 0, err
    # What an older exoform left: the state and the default tenant in ./state of the shell's folder.
    old = workspace.root / "state"
    old.mkdir()
    for name in ("scenario.json", "scenario.tenant.json"):
        os.replace(sub / "state" / name, old / name)
    code, out, err = workspace.run("plan", "-c", "sub/exoform.json", "--detailed-exitcode")
    assert code == 0, out + err
    assert f"moved {Path('state') / 'scenario.json'} to {Path('sub') / 'state' / 'scenario.json'}" in out
    assert "scenario.tenant.json" in out and "No changes." in out
    assert (sub / "state" / "scenario.json").exists() and not (old / "scenario.json").exists()
    # Both places holding a state is never resolved silently.
    (old / "scenario.json").write_text((sub / "state" / "scenario.json").read_text())
    code, _, err = workspace.run("plan", "-c", "sub/exoform.json")
    assert code == 1 and "there are two states" in err
    (old / "scenario.json").unlink()
    assert workspace.run("destroy", "-c", "sub/exoform.json", "--auto-approve")[0] == 0


def test_plan_out_never_replaces_exoforms_own_files(ws: Workspace) -> None:
    _applied(ws)
    _reapplied(ws)
    protected = [ws.config, ws.state, ws.state.with_name("scenario.json.backup"),
                 ws.state.with_name("scenario.json.lock")]
    if ws.emulator is None:
        protected.append(ws.tenant)
    for path in protected:
        assert path.exists(), path
        before = path.read_bytes()
        code, _, err = ws.run("plan", "--out", str(path))
        assert code == 1 and "a saved plan must not replace it" in err and "Traceback" not in err, err
        assert path.read_bytes() == before
    code, _, err = ws.run("plan", "--out", str(ws.root))
    assert code == 1 and "is a folder" in err and "Traceback" not in err
    code, _, err = ws.run("plan", "--out", "change.plan")
    assert code == 0, err
    assert stat.S_IMODE((ws.root / "change.plan").stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["scenario.json", "scenario.json.lock", "scenario.json.backup"])
def test_state_lock_and_backup_links_are_refused_and_their_targets_untouched(ws: Workspace, name: str) -> None:
    original = _applied(ws)
    link = ws.state.with_name(name)
    victim = ws.root / "victim.txt"
    victim.write_text("an admin's file\n")
    if link.exists():
        link.unlink()
    link.symlink_to(victim)
    tenant_before = ws.tenant.read_text()
    ws.write_config({**CONFIG, "rules": {"enabled": True}})  # an apply that must write the state
    code, out, err = ws.run("apply", "--auto-approve")
    assert code == 1 and "is a symbolic link" in err and f"state/{name}" in err, out + err
    assert "Traceback" not in err
    assert victim.read_text() == "an admin's file\n" and ws.tenant.read_text() == tenant_before
    link.unlink()
    if name == "scenario.json":
        return  # the state itself is gone; the markers still say what is ours
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def test_a_dangling_lock_link_creates_nothing(ws: Workspace) -> None:
    _applied(ws)
    lock = ws.state.with_name("scenario.json.lock")
    lock.unlink()
    lock.symlink_to(ws.root / "created-by-the-lock")
    code, _, err = ws.run("apply", "--auto-approve")
    assert code == 1 and "is a symbolic link" in err
    assert not (ws.root / "created-by-the-lock").exists()


def test_a_state_folder_other_users_may_write_is_refused_or_warned_about(ws: Workspace) -> None:
    original = _applied(ws)
    folder = ws.state.parent
    folder.chmod(0o777)
    before = ws.state.read_bytes()
    code, _, err = ws.run("destroy", "--auto-approve")
    assert code == 1 and "is writable by every user" in err and "--allow-unsafe-state-folder" in err
    assert ws.state.read_bytes() == before
    for command in (("plan",), ("destroy", "--auto-approve")):
        code, out, err = ws.run(*command, "--allow-unsafe-state-folder")
        assert code == 0, err
        assert "other users could replace the state" in out + err
    folder.chmod(0o700)
    assert ws.tenant.read_text() == original


def test_every_file_holding_the_tenant_information_is_0600(ws: Workspace) -> None:
    _applied(ws)
    _reapplied(ws)
    ws.run("plan", "--out", "p.plan")
    files = [ws.state, ws.state.with_name("scenario.json.backup"), ws.root / "p.plan"]
    if ws.emulator is None:
        files.append(ws.tenant)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(ws.state.parent.stat().st_mode) == 0o700
