"""The throttling/slowness soak in CI (reduced): random 429/503/latency on ~30% of Admin API
calls; every apply converges or rolls back cleanly, retries stay within the policy's bounds.
The full soak is `python -m tests.chaos.soak` (see README)."""
from __future__ import annotations

from typing import Any

from exoform.engine.cmdlets import CmdletCall
from support.reporter import RecordingReporter
from exoform.providers.faults import FaultPlan
from exoform.providers.sandbox import SandboxProvider

from .soak import SOAK_POLICY, render, soak


def test_soak_under_random_throttling_and_slowness() -> None:
    figures, counts = soak(seed=20261127, runs=10)
    print("\n" + render(figures, counts, 0.0))
    assert figures.problems == [] and figures.unclean == 0 and figures.lost == 0
    assert figures.converged + figures.rolled_back_clean + figures.plans_failed >= figures.runs
    assert counts["throttle"] and counts["unavailable"] and counts["latency"]
    assert 0.2 <= (counts["throttle"] + counts["unavailable"] + counts["latency"]) / counts["calls"] <= 0.4
    assert figures.retries >= counts["throttle"] + counts["unavailable"] - 2
    assert figures.most_attempts <= SOAK_POLICY.max_attempts
    assert figures.worst_wait <= SOAK_POLICY.max_delay
    assert figures.worst_call_wait <= SOAK_POLICY.max_total_wait


def test_unavailable_fault_is_a_retried_503(tmp_path: Any) -> None:
    reporter = RecordingReporter()
    provider = SandboxProvider(tmp_path / "t.json", reporter=reporter,
                               faults=FaultPlan.parse("New-TransportRule#1:unavailable"))
    provider.invoke(CmdletCall.of("New-TransportRule", {"Name": "A"}))
    assert [e for e in reporter.events if e[0] == "retry"][0][1][3] == "HTTP 503 Transient"
    assert provider.calls == ["New-TransportRule", "New-TransportRule"]
