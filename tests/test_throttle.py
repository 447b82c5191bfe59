"""The per-tenant call gate of a fleet run: at most N calls of a tenant in flight, a 429's wait
pausing the tenant's next calls, the 429/503 answers counted; and the retry loop using it."""
from __future__ import annotations

import threading
import time

import pytest

from exoform.engine.errors import ServerError, Throttled
from exoform.engine.reporter import Reporter
from exoform.providers.retry import RetryPolicy, call_with_retry
from exoform.providers.throttle import TenantGate


def test_the_gate_caps_calls_in_flight_and_pauses_the_tenant_after_a_429() -> None:
    gate = TenantGate(2)
    in_flight, peak, lock = [0], [0], threading.Lock()

    def call() -> None:
        with gate.call():
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            time.sleep(0.02)
            with lock:
                in_flight[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2
    gate.backoff(429, 0.2)
    gate.backoff(503, 0.0)
    started = time.monotonic()
    with gate.call():
        assert time.monotonic() - started >= 0.19
    counts = gate.counts()
    assert (counts.calls, counts.throttled, counts.unavailable) == (7, 1, 1) and counts.paused > 0


def test_the_retry_loop_counts_answers_and_pauses_through_the_gate() -> None:
    gate = TenantGate(3)
    attempts = iter([Throttled("slow down", retry_after=0.05, status=429), None])

    def call() -> str:
        error = next(attempts)
        if error is not None:
            raise error
        return "done"

    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=1.0, max_total_wait=1.0)
    assert call_with_retry(call, cmdlet="Get-TransportRule", policy=policy, reporter=Reporter(), gate=gate) == "done"
    assert (gate.counts().calls, gate.counts().throttled) == (2, 1)
    with pytest.raises(ServerError):  # not retried, still counted as a call
        call_with_retry(lambda: (_ for _ in ()).throw(ServerError("no", status=500)), cmdlet="Set-X",
                        policy=policy, reporter=Reporter(), gate=gate)
    assert gate.counts().calls == 3
