"""Ctrl-C, SIGTERM and SIGHUP during apply/destroy: handlers that raise the engine's interrupt flag
(the executor stops at its next safe point and rolls back), the notice printed at once for
each signal, and the exit code: 128 + the signal's number (130 for Ctrl-C).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from exoform.engine.operations import ApplyResult, Interrupts, Reporter
from exoform.views.apply import RECOVER

SIGNALS = (signal.SIGINT, signal.SIGTERM) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())


@contextmanager
def handling_interrupts(reporter: Reporter) -> Iterator[Interrupts]:
    """While the block runs, SIGINT/SIGTERM only raise the flag (and the reporter says so)."""
    flag = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        flag.request(signum)
        reporter.interrupt_received(flag)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def terminating_cleanly() -> Iterator[None]:
    """Outside an apply's own handling, SIGTERM and SIGHUP end the command as Ctrl-C does: by an
    exception through every `finally`, so a held lease or lock row is released at once (a CI
    cancel) instead of lapsing later."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS if signum != signal.SIGINT}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def notice(flag: Interrupts) -> str:
    """What to tell the user the moment a signal arrives."""
    name = flag.signal_name if flag.count == 1 else "Another interrupt"
    if flag.rolling_back and flag.during_rollback == 1:
        return (f"\n{name} received while rolling back. Stopping now would leave a partial change "
                "in the tenant, so the rollback goes on. Press Ctrl-C once more to stop after the "
                f"call in progress anyway; afterwards {RECOVER}.\n")
    if flag.rolling_back and flag.during_rollback > 1:
        return (f"\n{name} received: the rollback stops after the call in progress and the "
                f"tenant keeps a partial change; {RECOVER}.\n")
    if flag.count == 1:
        return (f"\n{name} received: exoform stops after the tenant call in progress (never "
                "between a call and its state record), then rolls back the completed steps "
                "unless --no-rollback was given.\n")
    return f"\n{name} received: still finishing the call in progress; exoform stops right after it.\n"


def exit_code(result: ApplyResult) -> int:
    name = result.interrupted or "SIGINT"
    return 128 + int(getattr(signal.Signals, name, signal.SIGINT))
