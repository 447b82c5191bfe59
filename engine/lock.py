"""An exclusive lock on a state file, held while a command that writes runs.

The OS lock (fcntl on `<state>.lock`) dies with its process, so a killed run never leaves a
dead end; the lock file also records who holds it (pid, host, command, since) for the error
another process gets, and an id for `force-unlock`.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from exoform.engine.errors import LockError


@dataclass(frozen=True)
class LockInfo:
    id: str
    pid: int
    host: str
    user: str
    command: str
    since: str

    def describe(self) -> str:
        return (
            f"pid {self.pid} on {self.host} ({self.user}, `{self.command}`) since {self.since}"
        )


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


class StateLock:
    """Context manager: `with StateLock(path, "exoform apply"): ...`."""

    def __init__(self, state_path: Path, command: str) -> None:
        self.path = lock_path(state_path)
        self.command = command
        self._fd: int | None = None
        self.info: LockInfo | None = None

    def __enter__(self) -> "StateLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_info(fd)
            os.close(fd)
            raise LockError(_locked_message(self.path, holder)) from None
        self._fd = fd
        self.info = _new_info(self.command)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.info)).encode(), 0)
        os.fsync(fd)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _new_info(command: str) -> LockInfo:
    return LockInfo(
        id=str(uuid.uuid4()),
        pid=os.getpid(),
        host=socket.gethostname(),
        user=os.environ.get("USER") or str(os.getuid()),
        command=command,
        since=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _read_info(fd: int) -> LockInfo | None:
    try:
        raw = os.pread(fd, 65536, 0)
        return LockInfo(**json.loads(raw.decode()))
    except (ValueError, TypeError, OSError):
        return None


def _locked_message(path: Path, holder: LockInfo | None) -> str:
    who = holder.describe() if holder else "another exoform process"
    return (
        f"the state is locked by {who} (lock file {path}). Wait for that command to finish; "
        "exoform never runs two changes on one integration at once."
    )


def read_lock_info(state_path: Path) -> LockInfo | None:
    """Who holds the lock now, or None when nobody does."""
    path = lock_path(state_path)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
