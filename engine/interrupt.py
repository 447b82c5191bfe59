"""The interrupt flag: the CLI's signal handlers raise it (Ctrl-C, SIGTERM) and the apply
executor polls it only at safe points — before a step's pending record is written, never
between a tenant call and the state write that records it. No printing, no signal handling.
"""
from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field

#: Interrupts received while rolling back: the first only warns, the second stops the rollback.
STOP_DURING_ROLLBACK = 2


@dataclass
class Interrupts:
    """How many interrupts arrived, the first signal's number, and where the executor is."""

    count: int = 0
    signum: int | None = None
    rolling_back: bool = False
    _at_rollback: int = 0  # `count` when the rollback began
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def request(self, signum: int = signal.SIGINT) -> int:
        """Record one interrupt (called from a signal handler); returns the new count."""
        with self._lock:
            self.count += 1
            if self.signum is None:
                self.signum = signum
            return self.count

    @property
    def requested(self) -> bool:
        return self.count > 0

    @property
    def signal_name(self) -> str:
        if self.signum is None:
            return "interrupt"
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process stopped by a signal: 128 + its number."""
        return 128 + (self.signum or signal.SIGINT)

    def begin_rollback(self) -> None:
        self.rolling_back = True
        self._at_rollback = self.count

    @property
    def during_rollback(self) -> int:
        """Interrupts received since the rollback began."""
        return self.count - self._at_rollback if self.rolling_back else 0

    @property
    def stop_rollback(self) -> bool:
        return self.during_rollback >= STOP_DURING_ROLLBACK
