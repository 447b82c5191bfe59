"""Shared fixtures: the scratch workspace where the CLI runs (support.workspace), the same
workspace reached through the exchange_online provider and one shared HTTPS emulator, the
hypothesis profiles and the --update-goldens flag."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, TypeVar

import pytest
from hypothesis import HealthCheck, settings

from exoform.providers.emulator.server import Emulator
from exoform.providers.faults import FaultPlan
from support import servers
from support.workspace import Workspace

T = TypeVar("T")

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("full", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
    # Each test is a new tenant under the emulator's one tenant id: the last test's write
    # journal (what it created) does not describe this one. Tokens stay shared.
    for journal in shared_token_cache.glob("exoform-writes-*.json"):
        journal.unlink()
    monkeypatch.setenv("EXOFORM_CACHE_DIR", str(shared_token_cache))
    monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", shared_emulator.client_secret)
    monkeypatch.delenv("MSAL_FORCE_REGION", raising=False)
    workspace.emulator = shared_emulator
    yield workspace
    shared_emulator.serve_tenant(None)


def _server(start: Callable[[], ContextManager[T]]) -> Iterator[T]:
    try:
        with start() as server:
            yield server
    except servers.Missing as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[servers.Postgres]:
    """A throw-away PostgreSQL cluster for the whole run (skipped when not installed)."""
    yield from _server(servers.postgres)


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[servers.Azurite]:
    """Azurite's blob service for the whole run (skipped when not installed)."""
    yield from _server(servers.azurite)
