"""Throttling-aware limits for one tenant when many are worked on at once: at most N calls of
the tenant in flight, a 429's Retry-After (or a retry's back-off) pausing the tenant's other
calls too, and the 429/503 answers counted for the fleet report. Other tenants never wait.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from exoform.engine.fleet.report import Traffic

#: Calls of one tenant in flight at once (the legacy Exchange budget was 3 per credential).
DEFAULT_CALLS_PER_TENANT = 3


class TenantGate:
    """The call limits of one tenant, shared by every thread working on it."""

    def __init__(self, limit: int = DEFAULT_CALLS_PER_TENANT, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._slots = threading.BoundedSemaphore(max(1, limit))
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._not_before = 0.0
        self._calls = self._throttled = self._unavailable = 0
        self._paused = 0.0

    @contextmanager
    def call(self) -> Iterator[None]:
        """One call: wait out the tenant's pause, then hold one of its slots."""
        with self._slots:
            self._wait_pause()
            with self._lock:
                self._calls += 1
            yield

    def backoff(self, status: int | None, wait: float) -> None:
        """A call was answered `status` (429, 503) and is retried in `wait` seconds: the
        tenant's other calls pause for as long (Retry-After is for the caller, not one call)."""
        with self._lock:
            if status == 429:
                self._throttled += 1
            elif status == 503:
                self._unavailable += 1
            self._not_before = max(self._not_before, self._clock() + max(wait, 0.0))

    def counts(self) -> Traffic:
        """What this tenant's calls met, as the fleet report shows it."""
        with self._lock:
            return Traffic(self._calls, self._throttled, self._unavailable, round(self._paused, 3))

    def _wait_pause(self) -> None:
        while True:
            with self._lock:
                left = self._not_before - self._clock()
                if left <= 0:
                    return
                self._paused += left
            self._sleep(left)
