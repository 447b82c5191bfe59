"""Fixtures of the fleet tests: three tenants (canary, early, broad) as sandbox tenant files,
reached through the sandbox or through a multi-tenant HTTPS emulator serving those files, with
the tenant information of each taken from the environment and a private token cache."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from exoform.providers.emulator.conditions import Conditions
from exoform.providers.emulator.fleet import FleetEmulator, TenantSetup
from support.fleet import FleetSpace
from support.workspace import Workspace

WAVES = {"alpha": "canary", "bravo": "early", "charlie": "broad"}

StartFleet = Callable[..., FleetSpace]


@pytest.fixture
def fleet(workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FleetSpace:
    monkeypatch.setenv("FLEET_TENANT_INFO", "fleet-tenant-info-value")
    monkeypatch.setenv("EXOFORM_CACHE_DIR", str(tmp_path / "token-cache"))
    monkeypatch.delenv("EXOFORM_FLEET_FAULTS", raising=False)
    space = FleetSpace(workspace, dict(WAVES))
    space.write_tenants()
    return space


@pytest.fixture
def emulated_fleet(fleet: FleetSpace, monkeypatch: pytest.MonkeyPatch) -> Iterator[StartFleet]:
    """`emulated_fleet(setups={name: TenantSetup(...)}, conditions=...)` -> the fleet, reached
    through an emulator serving its tenant files (one per test: setups are fixed at start)."""
    started: list[FleetEmulator] = []

    def start(setups: dict[str, TenantSetup] | None = None, conditions: Conditions | None = None,
              **kw: Any) -> FleetSpace:
        emulator = FleetEmulator(fleet.root / "tenants", conditions, setups=setups, **kw).start()
        started.append(emulator)
        monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", emulator.client_secret)
        fleet.emulator = emulator
        fleet.write()
        return fleet

    yield start
    for emulator in started:
        emulator.stop()
