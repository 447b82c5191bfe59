"""The chaos harness in CI: a few dozen real `exoform` processes SIGKILLed at seeded moments
against the sandbox and the HTTPS emulator, each recovered and checked; the same with the state
deleted mid-run, and with the state in a real PostgreSQL and Azurite. The full runs are
`python -m tests.chaos [--lose-state] [--backend azurerm|postgres]` (see README)."""
from __future__ import annotations

from typing import Any

import pytest

from .report import render, summary
from .run import run_chaos
from .runner import AZURE_ENV, POSTGRES_ENV, Outcome

CI_SEED = 20261127
CI_RUNS = 24


def test_kill_minus_nine_at_random_moments_then_recover() -> None:
    outcomes = run_chaos(CI_SEED, CI_RUNS, ("sandbox", "emulator"), workers=2, latency_ms=25,
                         time_limit=120)
    print("\n" + render(outcomes, 0.0))
    figures = summary(outcomes)
    assert figures["runs with problems"] == 0, render(outcomes, 0.0)
    assert figures["unmanaged objects lost"] == 0
    assert figures["runs"] >= CI_RUNS - 2  # a scenario may only be skipped if it cannot be planned
    assert figures["recoveries converged"] == figures["runs"]
    assert figures["killed mid-run"] >= figures["runs"] * 3 // 4
    positions = {o.point.position for o in outcomes if o.point}
    assert {"in call, took effect", "in call, not yet in effect"} <= positions, positions


def _assert_sound(outcomes: list[Outcome], minimum: int) -> dict[str, Any]:
    print("\n" + render(outcomes, 0.0))
    figures = summary(outcomes)
    assert figures["runs with problems"] == 0, render(outcomes, 0.0)
    assert figures["unmanaged objects lost"] == 0 and figures["left behind"] == 0
    assert figures["runs"] >= minimum
    assert figures["recoveries converged"] == figures["runs"]
    return figures


def test_the_state_deleted_at_a_random_moment_then_recover() -> None:
    """Every kind, change and revert included: a replacement stopped half-way under a lost
    state leaves both names, and the markers (which name their object) let the recovery remove
    the old one."""
    outcomes = run_chaos(CI_SEED + 1, 16, ("sandbox", "emulator"), workers=2,
                         latency_ms=25, time_limit=150, lose_state=True)
    figures = _assert_sound(outcomes, 14)
    assert figures["states lost mid-run"] >= figures["runs"] // 2
    assert {o.kind for o in outcomes} >= {"change", "revert"}


@pytest.mark.parametrize("backend, runs", [("postgres", 6), ("azurerm", 2)])
def test_kill_minus_nine_with_the_state_in_a_remote_backend(
        backend: str, runs: int, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend == "postgres":
        monkeypatch.setenv(POSTGRES_ENV, request.getfixturevalue("postgres_server").conninfo)
    else:
        monkeypatch.setenv(AZURE_ENV, request.getfixturevalue("azurite_server").connection_string)
    outcomes = run_chaos(CI_SEED + 2, runs, ("sandbox", "emulator"), workers=2, latency_ms=25,
                         time_limit=240, backend=backend)
    _assert_sound(outcomes, runs)
