"""Ctrl-C and SIGTERM during apply/destroy: handlers that raise the engine's interrupt flag
(the executor stops at its next safe point and rolls back), the notice printed at once for
each signal, and the closing report. Exit code: 128 + the signal's number (130 for Ctrl-C).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from exoform.engine.apply import ApplyResult
from exoform.engine.interrupt import Interrupts
from exoform.engine.plan import Plan
from exoform.engine.reporter import Reporter
from exoform.render import outcome_lines

SIGNALS = (signal.SIGINT, signal.SIGTERM)
RECOVER = ("run `exoform plan` to see what is left, then `exoform apply` (or `exoform destroy`) "
           "to converge; the state's pending record names any call that was in flight")


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


def render_interrupted(plan: Plan, result: ApplyResult) -> str:
    """The closing report of an apply or destroy stopped by a signal."""
    total = len(plan.steps)
    index = result.failed_step if result.failed_step is not None else total
    where = f"before step {index + 1} of {total}" if index < total else "after its last step"
    verb = "Destroy" if plan.operation == "destroy" else "Apply"
    lines = [f"{verb} interrupted by {result.interrupted}: stopped {where}."]
    lines += outcome_lines(result, RECOVER)
    return "\n".join(lines)


def exit_code(result: ApplyResult) -> int:
    name = result.interrupted or "SIGINT"
    return 128 + int(getattr(signal.Signals, name, signal.SIGINT))
