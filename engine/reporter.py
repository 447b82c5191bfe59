"""Progress hooks: the engine reports what it does through a `Reporter` whose hooks do nothing
by default. The CLI subclasses it to print; tests subclass it to record (tests/support)."""
from __future__ import annotations

from typing import Any


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

    def warning(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def interrupt_received(self, interrupts: Any) -> None:
        """Called by the CLI's signal handler, at once: it must not block or take locks."""
        pass
