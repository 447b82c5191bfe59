"""Bounded retries for throttled and transient tenant calls, shared by every provider.

429 waits `Retry-After` (fractional allowed) when given; otherwise exponential backoff with full
jitter. Both the attempt count and the total waiting time are bounded; each retry is reported.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from exoform.engine.errors import ProviderError, Throttled
from exoform.engine.reporter import Reporter

T = TypeVar("T")


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
) -> T:
    """Run `fn`, retrying `ProviderError`s whose `retryable` is true within the policy's bounds.

    The last error is re-raised unchanged when the bounds are reached.
    """
    rng = rng or random.Random()
    waited = 0.0
    attempt = 1
    while True:
        try:
            return fn()
        except ProviderError as error:
            if not error.retryable or attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt, error, rng)
            if waited + wait > policy.max_total_wait:
                raise
            reason = type(error).__name__ if error.status is None else f"HTTP {error.status} {type(error).__name__}"
            reporter.retry(cmdlet, attempt, wait, reason)
            sleep(wait)
            waited += wait
            attempt += 1
