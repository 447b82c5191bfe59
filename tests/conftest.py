"""Shared fixtures: a scratch workspace where the CLI runs (config, state and sandbox tenant
files under tmp), helpers to drive `exoform` in-process through its real entry point, and the
same workspace reached through the exchange_online provider and one shared HTTPS emulator."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, settings

from exoform.cli import main
from exoform.engine.cmdlets import from_wire
from exoform.engine.reporter import Reporter
from exoform.providers.emulator.server import Emulator
from exoform.providers.faults import FaultPlan
from exoform.providers.sandbox import SandboxProvider

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("full", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent

from harness import canonical_tenant  # noqa: E402  (re-exported for the tests)


@dataclass
class Workspace:
    root: Path
    capsys: Any
    # Set by `emulated_workspace`: configs then name the exchange_online provider pointing at
    # this emulator, which serves `tenant` (the same file the sandbox variant uses).
    emulator: Emulator | None = None

    @property
    def tenant(self) -> Path:
        return self.root / "tenant.json"

    @property
    def config(self) -> Path:
        return self.root / "exoform.json"

    @property
    def state(self) -> Path:
        return self.root / "state" / "scenario.json"

    def write_tenant(self, document: dict[str, Any] | None) -> str:
        text = canonical_tenant(document)
        self.tenant.write_text(text, encoding="utf-8")
        return text

    def write_config(self, config: dict[str, Any], integration: str = "scenario") -> None:
        full = {"integration": integration, "tenant": self.tenant_block()}
        full.update(config)
        self.config.write_text(json.dumps(full, indent=2), encoding="utf-8")

    def tenant_block(self) -> dict[str, Any]:
        if self.emulator is None:
            return {"provider": "sandbox", "sandbox_file": "tenant.json"}
        return self.emulator.tenant_options("secret")

    def run(self, *argv: str) -> tuple[int, str, str]:
        """Run the CLI in-process; returns (exit code, stdout, stderr)."""
        self.capsys.readouterr()
        code = main([*argv])
        out, err = self.capsys.readouterr()
        return code, out, err

    def plan_json(self, *extra: str) -> dict[str, Any]:
        code, out, err = self.run("plan", "--json", *extra)
        assert code == 0, err
        return json.loads(out)

    def outside(self, cmdlet: str, parameters: dict[str, Any], tenant: Path | None = None) -> list[dict[str, Any]]:
        """A change made by an admin outside exoform: straight to the tenant file, or through
        the emulator's Admin API in a session of its own (as an admin's PowerShell would)."""
        if tenant is None and self.emulator is not None:
            from exoform.providers.exchange import make_provider

            admin = make_provider(self.emulator.tenant_options("secret"), Reporter(), faults=FaultPlan())
            try:
                return admin.invoke(from_wire(cmdlet, parameters))
            finally:
                admin.close()
        provider = SandboxProvider(tenant or self.tenant, faults=FaultPlan())
        return provider.invoke(from_wire(cmdlet, parameters))

    def document(self) -> dict[str, Any]:
        return json.loads(self.tenant.read_text(encoding="utf-8"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true",
                     help="rewrite tests/golden/* from the current output instead of comparing")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Workspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXOFORM_FAULTS", raising=False)
    return Workspace(tmp_path, capsys)


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[Emulator]:
    """One emulator for the run (a CA, certificates and one sign-in instead of one per test);
    `emulated_workspace` points it at each test's tenant file and clears its faults."""
    with Emulator(faults=FaultPlan()) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def shared_token_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The token cache of every command run against `shared_emulator` (never ~/.cache)."""
    return tmp_path_factory.mktemp("token-cache")


@pytest.fixture
def emulated_workspace(workspace: Workspace, shared_emulator: Emulator, shared_token_cache: Path,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """The workspace with an exchange_online tenant: the shared emulator serving `tenant.json`."""
    shared_emulator.serve_tenant(workspace.tenant, FaultPlan())
    monkeypatch.setenv("EXOFORM_CACHE_DIR", str(shared_token_cache))
    monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", shared_emulator.client_secret)
    monkeypatch.delenv("MSAL_FORCE_REGION", raising=False)
    workspace.emulator = shared_emulator
    yield workspace
    shared_emulator.serve_tenant(None)
