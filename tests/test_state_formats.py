"""State format upgrades: golden files written by format 1 (tests/golden/state-v1) read as
format 2 through `MIGRATIONS` with nothing lost; only a command that writes upgrades the file
(the old bytes kept as `.backup`); formats or resource schemas from a newer exoform are refused."""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from support.workspace import Workspace
from exoform.engine.jsonfile import schema_issues
from exoform.engine.state import FORMAT_VERSION, MIGRATIONS, migrate, to_json
from exoform.engine.statefile import read_state_file

GOLDEN = Path(__file__).parent / "golden" / "state-v1"
CASES = ["applied", "interrupted", "destroyed"]
CONFIG = {
    "gateway": {"ip_ranges": ["203.0.113.0/24", "198.51.100.7"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
    "rules": {"enabled": True},
}


def test_every_old_format_has_a_migration() -> None:
    assert sorted(MIGRATIONS) == list(range(1, FORMAT_VERSION))


@pytest.mark.parametrize("name", CASES)
def test_format_1_golden_files_upgrade_on_read(name: str) -> None:
    raw = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert raw["format_version"] == 1
    upgraded, issues = migrate(copy.deepcopy(raw))
    assert issues == [] and schema_issues(upgraded, "state.schema.json") == []
    state = read_state_file(GOLDEN / f"{name}.json")
    data = json.loads(json.dumps(to_json(state)))
    assert data["format_version"] == FORMAT_VERSION and data["exoform_version"]
    data["exoform_version"] = "<version>"
    assert data == json.loads((GOLDEN / f"{name}.upgraded.json").read_text(encoding="utf-8"))
    assert (state.lineage, state.serial) == (raw["lineage"], raw["serial"])
    for resource, old in zip(state.resources, raw["resources"]):
        assert (str(resource.address), resource.guid, resource.exchange_name) == (
            old["address"], old["guid"], old["exchange_name"])
        assert list(resource.owned_entries) == old.get("owned_entries", [])


def _workspace_with(workspace: Workspace, name: str) -> Path:
    workspace.write_config(CONFIG, integration="contoso-mdces")
    shutil.copy(GOLDEN / f"{name}.tenant.json", workspace.tenant)
    state = workspace.root / "state" / "contoso-mdces.json"
    state.parent.mkdir(exist_ok=True)
    shutil.copy(GOLDEN / f"{name}.json", state)
    return state


def test_reading_commands_never_rewrite_an_old_file(workspace: Workspace) -> None:
    state = _workspace_with(workspace, "applied")
    before = state.read_bytes()
    for command in (["plan", "--detailed-exitcode"], ["show"], ["state", "list"], ["plan", "--destroy"]):
        code, out, err = workspace.run(*command)
        assert code in (0, 2), err
    # A format-1 install has nothing to change but its markers, which now name their object
    # (and on the inbound connector list the allow-list entries exoform added).
    steps = workspace.plan_json()["exoform"]["steps"]
    assert sorted((s["cmdlet"], tuple(sorted(s["parameters"]))) for s in steps) == sorted(
        [("Set-InboundConnector", ("Comment", "Identity")), ("Set-OutboundConnector", ("Comment", "Identity"))]
        + [("Set-TransportRule", ("Comments", "Identity"))] * (len(steps) - 2))
    assert len(steps) >= 4
    assert state.read_bytes() == before


def test_a_writing_command_upgrades_the_file_and_keeps_the_old_bytes(workspace: Workspace) -> None:
    state = _workspace_with(workspace, "interrupted")
    old = state.read_bytes()
    raw = json.loads(old)
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0, err
    new = json.loads(state.read_text())
    assert new["format_version"] == FORMAT_VERSION and new["lineage"] == raw["lineage"]
    assert new["serial"] > raw["serial"] and new["pending"] is None
    assert all(r["schema_version"] == 1 for r in new["resources"])
    assert (state.parent / "contoso-mdces.json.backup").read_bytes() == old
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_a_resource_from_a_newer_exoform_is_refused(workspace: Workspace) -> None:
    state = _workspace_with(workspace, "applied")
    data = to_json(read_state_file(state))
    data["resources"][2]["schema_version"] = 7
    state.write_text(json.dumps(data))
    before = state.read_bytes()
    code, _, err = workspace.run("apply", "--auto-approve")
    assert code == 1 and "resources[2].schema_version: is 7, newer than this exoform" in err
    assert str(state.relative_to(workspace.root)) in err and state.read_bytes() == before
