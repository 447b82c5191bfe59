"""The CLI's side of progress reporting and questions: a `Reporter` that prints each step, retry
and rollback, logs every tenant call and draws a progress line on a terminal; the Terraform-style
confirmation prompt (on stderr); colour for plans on a terminal; a closed pipe ended quietly."""
from __future__ import annotations

import logging
import contextlib
import io
import os
import re
import sys
from typing import Any, Iterator, TextIO

from exoform.engine.operations import CallRecord, Reporter
from exoform.logs import log
from exoform.signals import notice
from exoform.text import safe

_COLORS = {"+": "32", "~": "33", "-": "31", "-/+": "35"}  # green, yellow, red, magenta
_SYMBOL = re.compile(r"^(\s*)(-/\+|\+|~|-)(\s)")


def color_wanted(no_color: bool, stream: TextIO) -> bool:
    """Colour only on a terminal, never with --no-color, NO_COLOR or EXOFORM_NO_COLOR set."""
    if no_color or os.environ.get("NO_COLOR") or os.environ.get("EXOFORM_NO_COLOR", "") not in ("", "0"):
        return False
    return _isatty(stream) and os.environ.get("TERM") != "dumb"


def paint(text: str) -> str:
    """A rendered plan with `+` green, `~` yellow, `-` red (the symbol at a line's start)."""
    def line(raw: str) -> str:
        match = _SYMBOL.match(raw)
        if not match:
            return raw
        return f"\x1b[{_COLORS[match.group(2)]}m{raw}\x1b[0m"
    return "\n".join(line(raw) for raw in text.split("\n"))


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class ConsoleReporter(Reporter):
    """Prints progress to `stream` (stderr when stdout carries JSON); a transient progress line
    on stderr when it is a terminal; every tenant call to the log."""

    def __init__(self, stream: TextIO | None = None, *, progress: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.progress = _isatty(sys.stderr) if progress is None else progress
        self._line = ""

    def _say(self, text: str) -> None:
        self._clear()
        try:
            print(text, file=self.stream, flush=True)
        except (OSError, ValueError):
            pass  # a closed pipe must never stop an apply between a call and its state record

    def _draw(self, text: str) -> None:
        if not self.progress:
            return
        try:
            sys.stderr.write("\r\x1b[K" + text[:120])
            sys.stderr.flush()
        except (OSError, ValueError):
            self.progress = False
        self._line = text

    def _clear(self) -> None:
        if self._line:
            self._line = ""
            self._draw("")
            self._line = ""

    def activity(self, text: str | None) -> None:
        self._draw(f"{text}..." if text else "")
        if not text:
            self._line = ""

    def tenant_call(self, record: CallRecord) -> None:
        level = logging.WARNING if record.error else logging.INFO
        log(level, f"{record.cmdlet} {record.identity}".strip(), provider=record.provider,
            cmdlet=record.cmdlet, object=record.identity, duration_ms=round(record.duration_ms, 1),
            status=record.status, attempt=record.attempt, client_request_id=record.request_id or None,
            error=record.error or None)
        if self.progress and self._line.startswith("Reading"):
            self._draw(f"Reading the tenant: {record.cmdlet} ({record.duration_ms / 1000:.1f}s)")

    def step_started(self, step: Any, total: int) -> None:
        self._say(f"[{step.index + 1}/{total}] {step.address}: {safe(step.description)} ({step.call.name})...")
        log(logging.INFO, "step started", step=step.index + 1, total=total, address=str(step.address),
            cmdlet=step.call.name)
        self._draw(f"[{step.index + 1}/{total}] {step.call.name} {safe(step.call.identity)}")

    def step_done(self, step: Any, total: int) -> None:
        self._say(f"[{step.index + 1}/{total}] {step.address}: done")

    def step_failed(self, step: Any, error: Exception) -> None:
        self._say(f"[{step.index + 1}] {step.address}: FAILED: {safe(error)}")
        log(logging.ERROR, "step failed", step=step.index + 1, address=str(step.address), error=str(error))

    def rollback_started(self, count: int) -> None:
        if count:
            self._say(f"Rolling back {count} completed step(s)...")
            log(logging.WARNING, "rollback started", steps=count)

    def rollback_step(self, description: str, ok: bool, error: Exception | None = None) -> None:
        status = "done" if ok else f"FAILED: {safe(error)}"
        self._say(f"  {safe(description)}: {status}")

    def retry(self, cmdlet: str, attempt: int, wait: float, reason: str) -> None:
        self._say(f"  {cmdlet}: {reason}, retry {attempt} in {wait:.2f}s")
        log(logging.WARNING, "retry", cmdlet=cmdlet, attempt=attempt, wait_s=round(wait, 3), reason=reason)

    def warning(self, message: str) -> None:
        self._say(f"Warning: {safe(message)}")
        log(logging.WARNING, message)

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
    """Ask like Terraform: only the exact answer `yes` proceeds; no input means no. The question
    goes to stderr, so stdout carries only the command's output (JSON included)."""
    out = stream or sys.stderr
    try:
        print(f"\n{question}\n  Only 'yes' will be accepted to approve.\n", file=out)
        print("  Enter a value: ", end="", file=out, flush=True)
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip() == "yes"


def output_closed() -> int:
    """stdout was closed by the reader (`exoform show | head -1`): end quietly. Pointing stdout
    at devnull stops Python's exit-time flush from failing again with a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass
    return 1
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
