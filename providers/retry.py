"""Bounded retries for throttled and transient tenant calls, shared by every provider.

429 waits `Retry-After` (fractional allowed) when given; otherwise exponential backoff with full
jitter. Both the attempt count and the total waiting time are bounded; each retry is reported.
With a tenant's `Gate` (a fleet run), every attempt holds one of the tenant's call slots and a
retry's wait pauses the tenant's other calls as well.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from contextlib import AbstractContextManager
from typing import Callable, Protocol, TypeVar

from exoform.engine.errors import ProviderError, Throttled
from exoform.engine.reporter import Reporter

T = TypeVar("T")


class Gate(Protocol):
    """What the retry loop needs of `providers.throttle.TenantGate`."""

    def call(self) -> AbstractContextManager[None]: ...

    def backoff(self, status: int | None, wait: float) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_total_wait: float = 120.0

    def delay(self, attempt: int, error: ProviderError, rng: random.Random) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if isinstance(error, Throttled) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(ceiling / 2, ceiling)


def call_with_retry(
    fn: Callable[[], T],
    *,
    cmdlet: str,
    policy: RetryPolicy,
    reporter: Reporter,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    gate: Gate | None = None,
) -> T:
    """Run `fn`, retrying `ProviderError`s whose `retryable` is true within the policy's bounds.

    The last error is re-raised unchanged when the bounds are reached.
    """
    rng = rng or random.Random()
    waited = 0.0
    attempt = 1
    while True:
        try:
            if gate is None:
                return fn()
            with gate.call():
                return fn()
        except ProviderError as error:
            wait = policy.delay(attempt, error, rng) if error.retryable else 0.0
            retry = error.retryable and attempt < policy.max_attempts and waited + wait <= policy.max_total_wait
            if gate is not None:
                gate.backoff(error.status, wait if retry else 0.0)
            if not retry:
                raise
            reason = type(error).__name__ if error.status is None else f"HTTP {error.status} {type(error).__name__}"
            reporter.retry(cmdlet, attempt, wait, reason)
            sleep(wait)
            waited += wait
            attempt += 1
