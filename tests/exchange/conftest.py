"""Fixtures for the Exchange Online provider tests: emulators started in-process over real
HTTPS, providers connected to them through real msal flows, and an isolated token cache."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from exoform.engine.reporter import Reporter
from support.reporter import RecordingReporter
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.emulator.server import Emulator
from exoform.providers.exchange import ExchangeOnlineProvider, make_provider
from exoform.providers.faults import FaultPlan
from exoform.providers.retry import RetryPolicy

# Retries in tests wait milliseconds; bounded like the real policy.
FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.5, max_total_wait=2.0)

StartEmulator = Callable[..., Emulator]
Connect = Callable[..., ExchangeOnlineProvider]


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private token cache folder; no stray faults or forced msal region."""
    cache = tmp_path / "token-cache"
    monkeypatch.setenv("EXOFORM_CACHE_DIR", str(cache))
    for name in ("EXOFORM_FAULTS", "MSAL_FORCE_REGION"):
        monkeypatch.delenv(name, raising=False)
    return cache


@pytest.fixture
def start_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[StartEmulator]:
    started: list[Emulator] = []

    def start(conditions: Conditions | None = None, *, faults: FaultPlan | None = None,
              tenant_file: Path | None = None) -> Emulator:
        emulator = Emulator(tenant_file, conditions, faults=faults or FaultPlan()).start()
        started.append(emulator)
        monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", emulator.client_secret)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> Emulator:
    return start_emulator()


@pytest.fixture
def connect() -> Iterator[Connect]:
    """`connect(emulator, method="secret", reporter=None, **options)` -> a provider."""
    providers: list[ExchangeOnlineProvider] = []

    def connect_(emulator: Emulator, method: str = "secret", reporter: Reporter | None = None,
                 *, token_cache: bool = True, faults: FaultPlan | None = None,
                 policy: RetryPolicy = FAST_RETRIES, prompt: Callable[[str], None] | None = None,
                 **options: Any) -> ExchangeOnlineProvider:
        kwargs: dict[str, Any] = {"token_cache": token_cache, "retry_policy": policy,
                                  "faults": faults or FaultPlan()}
        if prompt is not None:
            kwargs["device_code_prompt"] = prompt
        provider = make_provider(emulator.tenant_options(method, **options),
                                 reporter or RecordingReporter(), **kwargs)
        providers.append(provider)
        return provider

    yield connect_
    for provider in providers:
        provider.close()

