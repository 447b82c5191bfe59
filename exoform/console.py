"""The CLI's side of progress reporting and questions: a `Reporter` that prints each step,
retry and rollback as it happens, and the Terraform-style confirmation prompt."""
from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Any, Iterator, TextIO

from exoform.engine.operations import Reporter
from exoform.signals import notice
from exoform.text import safe


class ConsoleReporter(Reporter):
    """Prints progress to `stream` (stderr when stdout carries JSON)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def _say(self, text: str) -> None:
        try:
            print(text, file=self.stream, flush=True)
        except (OSError, ValueError):
            pass  # a closed pipe or terminal: progress is lost, the apply is not

    def step_started(self, step: Any, total: int) -> None:
        self._say(f"[{step.index + 1}/{total}] {step.address}: {safe(step.description)} ({step.call.name})...")

    def step_done(self, step: Any, total: int) -> None:
        self._say(f"[{step.index + 1}/{total}] {step.address}: done")

    def step_failed(self, step: Any, error: Exception) -> None:
        self._say(f"[{step.index + 1}] {step.address}: FAILED: {safe(error)}")

    def rollback_started(self, count: int) -> None:
        if count:
            self._say(f"Rolling back {count} completed step(s)...")

    def rollback_step(self, description: str, ok: bool, error: Exception | None = None) -> None:
        status = "done" if ok else f"FAILED: {safe(error)}"
        self._say(f"  {safe(description)}: {status}")

    def retry(self, cmdlet: str, attempt: int, wait: float, reason: str) -> None:
        self._say(f"  {cmdlet}: {reason}, retry {attempt} in {wait:.2f}s")

    def warning(self, message: str) -> None:
        self._say(f"Warning: {safe(message)}")

    def info(self, message: str) -> None:
        self._say(safe(message))

    def interrupt_received(self, interrupts: Any) -> None:
        """Runs inside a signal handler: one unbuffered write, never a (re-entrant) print."""
        data = notice(interrupts).encode("utf-8", "replace")
        try:
            os.write(self.stream.fileno(), data)
        except (AttributeError, OSError, ValueError):
            pass  # no file descriptor (captured output): the executor's report still follows


def confirm(question: str, stream: TextIO | None = None) -> bool:
    """Ask like Terraform: only the exact answer `yes` proceeds; no input means no."""
    out = stream or sys.stdout
    print(f"\n{question}\n  Only 'yes' will be accepted to approve.\n", file=out)
    print("  Enter a value: ", end="", file=out, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip() == "yes"


class _Tolerant(io.TextIOBase):
    """A stream whose writes never fail: once the pipe or terminal behind it is gone (`| head`,
    a dead `tee`, an SSH drop), output goes nowhere and the command carries on."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.stream.write(text)
            except (OSError, ValueError):
                self._break()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self._break()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return not self.broken and self.stream.isatty()

    def _break(self) -> None:
        self.broken = True
        try:  # later writes of the interpreter itself (its final flush) must not fail either
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass


@contextlib.contextmanager
def tolerant_output() -> Iterator[None]:
    """While the block runs, a broken stdout or stderr never raises (the result still counts)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tolerant(saved[0]), _Tolerant(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
