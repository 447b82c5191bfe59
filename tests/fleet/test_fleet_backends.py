"""A fleet whose state lives in a shared backend (a real PostgreSQL and Azurite, started by the
test session as for the backend tests): `--shard K/N` runners in folders that share nothing but
the manifest cover the fleet once, any other runner then sees every tenant's state, each
tenant's key is the one a single-tenant run of its config uses, and no state file is written."""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from exoform.engine.fleet import Shard
from support.fleet import FleetSpace, results
from support.servers import CONTAINER, Azurite, Postgres

WRITES = ("New-InboundConnector", "New-OutboundConnector", "New-TransportRule")


def _shared_backend(kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The manifest's `defaults.backend` of `kind`, on a key space of this test's own."""
    unique = "fleet" + uuid.uuid4().hex[:10]
    if kind == "postgres":
        pg: Postgres = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("FLEET_STATE_PG", pg.conninfo)
        return {"type": "postgres", "conn_str_env": "FLEET_STATE_PG", "schema": unique, "lock_seconds": 5}
    server: Azurite = request.getfixturevalue("azurite_server")
    monkeypatch.setenv("FLEET_STATE_AZURE", server.connection_string)
    return {"type": "azurerm", "container": CONTAINER, "key_prefix": unique, "lease_seconds": 15,
            "auth": {"method": "connection_string", "connection_string_env": "FLEET_STATE_AZURE"}}


def _runner(fleet: FleetSpace, folder: str) -> Path:
    """A CI job's checkout: the manifest alone, in a folder of its own."""
    (fleet.root / folder).mkdir()
    return Path(shutil.copy(fleet.manifest, fleet.root / folder / "fleet.json"))


def _report(fleet: FleetSpace, manifest: Path, *argv: str, codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    code, out, err = fleet.space.run("fleet", argv[0], "-f", str(manifest), *argv[1:], "--json")
    assert code in codes and "Traceback" not in err, (code, out, err)
    return dict(json.loads(out))


@pytest.mark.parametrize("kind", ["postgres", "azurerm"])
def test_shard_runners_with_a_shared_backend_cover_the_fleet_once(
        kind: str, emulated_fleet: Any, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = _shared_backend(kind, request, monkeypatch)
    fleet = emulated_fleet()
    fleet.write(defaults={"backend": backend})
    runners = [_runner(fleet, f"runner-{k}") for k in (1, 2)]
    applied: list[str] = []
    for k, manifest in enumerate(runners, start=1):
        report = _report(fleet, manifest, "apply", "--auto-approve", "--shard", f"{k}/2")
        assert set(results(report).values()) <= {"applied"}
        assert [r["tenant"] for r in report["tenants"]] == [n for n in fleet.waves if Shard(k, 2).holds(n)]
        applied += [r["tenant"] for r in report["tenants"]]
    assert sorted(applied) == sorted(fleet.waves)
    for name in fleet.waves:  # each tenant changed by exactly one runner, once
        calls = fleet.emulator.stats(name).invoke_calls
        assert [calls.get(cmdlet, 0) for cmdlet in WRITES] == [1, 1, 3], (name, calls)

    # A third runner (another job, no shard) finds every tenant's state in the backend.
    third = _runner(fleet, "runner-3")
    replan = _report(fleet, third, "plan", "--detailed-exitcode")
    assert results(replan) == dict.fromkeys(fleet.waves, "no_changes")
    assert not list(fleet.root.rglob("*.state.json")) and not (fleet.root / ".exoform").exists()

    # Each tenant's key is the one a single-tenant run of its config reaches: no changes there either.
    single = {**json.loads(fleet.manifest.read_text(encoding="utf-8"))["defaults"],
              "integration": "test-fleet", "tenant": {**fleet.defaults_tenant(),
                                                            "tenant_id": fleet.emulator.tenant_id("alpha")}}
    single["tenant"]["authority"] = single["tenant"]["authority"].replace("{tenant_id}", single["tenant"]["tenant_id"])
    single["gateway"] = {**single["gateway"], "tenant_info": "fleet-tenant-info-value"}
    config = fleet.space.write_config(single, path=fleet.root / "runner-3" / "alpha.json")
    code, out, err = fleet.space.run("plan", "-c", str(config), "--detailed-exitcode")
    assert code == 0 and "No changes" in out, out + err
