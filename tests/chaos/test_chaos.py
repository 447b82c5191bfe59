"""The chaos harness in CI: a few dozen real `exoform` processes SIGKILLed at seeded moments
against the sandbox and the HTTPS emulator, each recovered and checked. The full run is
`python -m tests.chaos` (hundreds of runs; see README)."""
from __future__ import annotations

from .report import render, summary
from .run import run_chaos

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
