"""Progress hooks: the engine reports what it does through a `Reporter` whose hooks do nothing
by default. The CLI subclasses it to print, log and draw a progress line; tests subclass it to
record (tests/support). `CallRecord` is what a provider tells about each tenant call it sent."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CallRecord:
    """One attempt at a tenant call, for the log: never parameters (they hold the tenant
    information), only what support needs to find the call."""

    provider: str  # "exchange_online" | "sandbox"
    cmdlet: str
    identity: str  # the object's name or Guid ("" for a Get- of every object)
    duration_ms: float
    attempt: int  # 1 for the first try; retries (and a 401 token refresh) count up
    status: int | None = None  # the HTTP status (None: no HTTP answer, or the sandbox)
    request_id: str = ""  # the client-request-id Microsoft support asks for
    error: str = ""  # the typed error's class name when the attempt failed


class Reporter:
    """No-op progress hooks. Every hook must be cheap and must never raise."""

    def refresh_started(self, exchange_type: str) -> None:
        pass

    def refresh_done(self, exchange_type: str, count: int) -> None:
        pass

    def step_started(self, step: Any, total: int) -> None:
        pass

    def step_done(self, step: Any, total: int) -> None:
        pass

    def step_failed(self, step: Any, error: Exception) -> None:
        pass

    def rollback_started(self, count: int) -> None:
        pass

    def rollback_step(self, description: str, ok: bool, error: Exception | None = None) -> None:
        pass

    def retry(self, cmdlet: str, attempt: int, wait: float, reason: str) -> None:
        pass

    def tenant_call(self, record: CallRecord) -> None:
        """After every attempt at a tenant call (providers call it; the CLI logs it)."""
        pass

    def activity(self, text: str | None) -> None:
        """What is going on now, for a progress line (None: it is over)."""
        pass

    def warning(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def interrupt_received(self, interrupts: Any) -> None:
        """Called by the CLI's signal handler, at once: it must not block or take locks."""
        pass
