"""Recovery commands through the CLI on the sandbox and the emulator: `state rm` (with and
without the marker), `state mv` renaming an integration without destroy or re-apply (an
interrupted move finishes on a re-run), `--lock-timeout`, and `import PLANFILE` refusing a stale
or foreign plan; each ends with the tenant exactly as before."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from exoform.engine.lock import StateLock
from support.workspace import Workspace

CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
ADMIN = {"HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default", "IPAllowList": ["192.0.2.0/24"]}]}


@pytest.fixture(params=["workspace", "emulated_workspace"], ids=["sandbox", "emulator"])
def ws(request: pytest.FixtureRequest) -> Workspace:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def _applied(ws: Workspace, integration: str = "scenario") -> str:
    original = ws.write_tenant(ADMIN)
    ws.write_config(CONFIG, integration=integration)
    code, _, err = ws.run("apply", "--auto-approve")
    assert code == 0, err
    return original


def _comments(ws: Workspace) -> list[str]:
    document = ws.document()
    return sorted(str(o.get("Comment") or o.get("Comments") or "")
                  for kind in ("InboundConnector", "OutboundConnector", "TransportRule") for o in document[kind])


def test_state_rm_forgets_and_the_marker_brings_it_back(ws: Workspace) -> None:
    original = _applied(ws)
    code, out, err = ws.run("state", "rm", "transport_rule.spf")
    assert code == 0, err
    assert "The next plan adopts them again" in out
    assert "transport_rule.spf" not in ws.run("state", "list")[1]
    code, out, _ = ws.run("plan")
    assert "adopted: found with this integration's marker" in out
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert "transport_rule.spf" in ws.run("state", "list")[1]
    code, _, err = ws.run("state", "rm", "transport_rule.nope")
    assert code == 1 and "not in the state" in err
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def test_state_rm_remove_marker_lets_the_object_go_for_good(ws: Workspace) -> None:
    original = _applied(ws)
    code, out, err = ws.run("state", "rm", "--remove-marker", "transport_rule.spf")
    assert code == 0, err
    assert "Took exoform's marker off: OPSWAT MDCES - SPF" in out
    spf = next(r for r in ws.document()["TransportRule"] if r["Name"] == "OPSWAT MDCES - SPF")
    assert "[exoform:" not in str(spf.get("Comments") or "")
    code, out, _ = ws.run("plan")
    assert code == 1 and "owned by no exoform" in out  # exoform no longer claims it
    code, out, err = ws.run("destroy", "--auto-approve")
    assert code == 0, err
    left = ws.document()["TransportRule"]
    assert [r["Name"] for r in left] == ["OPSWAT MDCES - SPF"]  # let go: destroy never touches it
    ws.outside("Remove-TransportRule", {"Identity": "OPSWAT MDCES - SPF", "Confirm": False})
    assert ws.tenant.read_text() == original


def test_state_mv_renames_an_integration_without_destroy_or_reapply(ws: Workspace) -> None:
    original = _applied(ws, "old-name")
    before = ws.document()
    code, out, err = ws.run("state", "mv", "old-name", "new-name")
    assert code == 0, err
    assert "re-marked 5 object(s) [exoform:new-name]" in out and 'set "integration": "new-name"' in out
    assert all("[exoform:new-name]" in c and "old-name" not in c for c in _comments(ws))
    assert "Allow-list entries exoform added: 203.0.113.0/24" in " ".join(_comments(ws))
    assert not (ws.root / "state" / "old-name.json").exists()
    moved = json.loads((ws.root / "state" / "new-name.json").read_text())
    assert moved["integration"] == "new-name" and moved["pending"] is None
    ws.write_config(CONFIG, integration="new-name")
    code, out, _ = ws.run("plan", "--detailed-exitcode")
    assert code == 0, out  # nothing to destroy, nothing to re-apply
    after = ws.document()
    for kind in ("InboundConnector", "OutboundConnector", "TransportRule"):  # the same objects
        assert [o["Guid"] for o in after[kind]] == [o["Guid"] for o in before[kind]]
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def test_state_mv_refuses_a_name_another_integration_uses(ws: Workspace) -> None:
    _applied(ws, "one")
    ws.write_config({**CONFIG, "gateway": {**CONFIG["gateway"], "name_prefix": "GW2"}}, integration="two",
                    path=ws.root / "two.json")
    assert ws.run("apply", "-c", "two.json", "--auto-approve")[0] == 0
    before = ws.document()
    code, _, err = ws.run("state", "mv", "one", "two")
    assert code == 1 and ("already exists" in err or "already carry the marker" in err), err
    assert ws.document() == before


def test_an_interrupted_state_mv_finishes_on_a_rerun(workspace: Workspace) -> None:
    original = _applied(workspace, "old-name")
    env = {"EXOFORM_FAULTS": "Set-TransportRule#2:crash"}
    done = subprocess.run([sys.executable, "-m", "exoform", "state", "mv", "old-name", "new-name"],
                          cwd=workspace.root, env={**_env(), **env}, capture_output=True, text=True)
    assert done.returncode == 137, done.stdout + done.stderr
    assert any("old-name" in c for c in _comments(workspace)) and any("new-name" in c for c in _comments(workspace))
    code, out, err = workspace.run("state", "mv", "old-name", "new-name")
    assert code == 0, err
    assert all("[exoform:new-name]" in c for c in _comments(workspace))
    workspace.write_config(CONFIG, integration="new-name")
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0
    assert workspace.run("destroy", "--auto-approve")[0] == 0
    assert workspace.tenant.read_text() == original


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "EXOFORM_FAULTS"}


def test_lock_timeout_waits_for_the_lock(ws: Workspace) -> None:
    original = ws.write_tenant(None)
    ws.write_config(CONFIG)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from exoform.engine.lock import StateLock\n"
        f"lock = StateLock(Path({str(ws.state)!r}), 'exoform apply').__enter__()\n"
        "print('held', flush=True); time.sleep(1.5)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    code, _, err = ws.run("apply", "--auto-approve")
    assert code == 1 and "the state is locked by" in err and "--lock-timeout" in err
    started = time.monotonic()
    code, _, err = ws.run("apply", "--auto-approve", "--lock-timeout", "20s")
    assert code == 0, err
    assert time.monotonic() - started >= 0.5
    holder.wait(timeout=10)
    with StateLock(ws.state, "exoform apply"):
        code, _, err = ws.run("destroy", "--auto-approve", "--lock-timeout", "300ms")
        assert code == 1 and "waited 0.3s" in err
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original
    code, _, err = ws.run("plan", "--lock-timeout", "soon")  # a usage error: exit 1, with the usage
    assert code == 1 and "not a duration" in err and "usage: exoform plan" in err


def test_import_planfile_refuses_a_stale_or_foreign_plan(ws: Workspace) -> None:
    original = ws.write_tenant(ADMIN)
    ws.write_config(CONFIG)
    assert ws.run("plan", "--out", "install.plan")[0] == 0
    # Another config (other ranges) and another tenant must not claim anything with this plan.
    other = ws.root / "other.json"
    other.write_text(json.dumps({"integration": "scenario", **CONFIG, "tenant": {"provider": "sandbox",
                                 "sandbox_file": "elsewhere.json"}}))
    code, _, err = ws.run("import", "-c", str(other), "install.plan")
    assert code == 1 and "was made for integration 'scenario' on" in err, err
    ws.write_config({**CONFIG, "rules": {"enabled": True}})  # the config changed since the plan
    code, _, err = ws.run("import", "install.plan")
    assert code == 1 and "is stale" in err, err
    ws.write_config(CONFIG)
    assert ws.run("apply", "--auto-approve")[0] == 0  # the state changed since the plan
    before = ws.state.read_bytes()
    code, _, err = ws.run("import", "install.plan")
    assert code == 1 and "is stale: it was made before any state existed" in err, err
    assert ws.state.read_bytes() == before
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.tenant.read_text() == original


def test_state_mv_asks_to_name_a_default_sandbox_tenant_first(workspace: Workspace) -> None:
    workspace.root.joinpath("exoform.json").write_text(json.dumps({"integration": "old-name", **CONFIG}))
    assert workspace.run("apply", "--auto-approve")[0] == 0  # the tenant is state/old-name.tenant.json
    before = workspace.root.joinpath("state", "old-name.tenant.json").read_text()
    code, _, err = workspace.run("state", "mv", "old-name", "new-name")
    assert code == 1 and '"sandbox_file": "state/old-name.tenant.json"' in err and "nothing was changed" in err
    assert workspace.root.joinpath("state", "old-name.tenant.json").read_text() == before
    assert workspace.run("destroy", "--auto-approve")[0] == 0
