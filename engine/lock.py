"""An exclusive lock on a state file, held while a command that writes runs.

The OS lock (flock on `<state>.lock`) dies with its process, so a killed run never leaves a
dead end; the lock file also records who holds it (pid, host, command, since) for the error
another process gets, and an id for `force-unlock`. A record whose process is gone is stale.
"""
from __future__ import annotations

import errno
import getpass
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from exoform.engine import oslock
from exoform.engine.errors import LockError
from exoform.engine.jsonfile import refuse_link

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


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

    @property
    def on_this_host(self) -> bool:
        return self.host == socket.gethostname()

    def alive(self) -> bool | None:
        """Whether the holder process still exists; None when it runs on another host."""
        return process_alive(self.pid) if self.on_this_host else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError as error:
        return error.errno != errno.ESRCH
    return True


class LockHeld(LockError):
    """The lock is held by someone else right now; `holder` names them when known."""

    def __init__(self, message: str, holder: LockInfo | None = None) -> None:
        super().__init__(message)
        self.holder = holder


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


def _open_lock_file(path: Path, flags: int) -> int:
    """The lock file, never through a link (a planted link would let a lock truncate any file)."""
    refuse_link(path, "lock")
    try:
        return os.open(path, flags | _NOFOLLOW, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            refuse_link(path, "lock")
        raise


class StateLock:
    """Context manager: `with StateLock(path, "exoform apply"): ...`; `info` may be given (the
    holder record a backend built), else one is made for `command`."""

    def __init__(self, state_path: Path, command: str, info: LockInfo | None = None) -> None:
        self.path = lock_path(state_path)
        self.command = command
        self._fd: int | None = None
        self._given = info
        self.info: LockInfo | None = None

    def __enter__(self) -> "StateLock":
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for _ in range(10):
            fd = self._try_lock()
            if _same_file(fd, self.path):
                break
            os.close(fd)  # force-unlock replaced the file after we opened it: lock the new one
        else:
            raise LockError(f"could not lock {self.path}: it keeps being replaced")
        self._fd = fd
        self.info = self._given or new_info(self.command)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.info)).encode(), 0)
        os.fsync(fd)
        return self

    def _try_lock(self) -> int:
        fd = _open_lock_file(self.path, os.O_RDWR | os.O_CREAT)
        try:
            oslock.lock(fd)
        except oslock.Busy:
            holder = _read_info(fd)
            os.close(fd)
            raise LockHeld(locked_message(f"lock file {self.path}", holder), holder) from None
        return fd

    def verify(self) -> None:
        """Raise LockError if the lock was broken (`force-unlock --force`) while held."""
        if self._fd is None or self.info is None:
            return
        current = _read_path_info(self.path)
        if not _same_file(self._fd, self.path) or current is None or current.id != self.info.id:
            raise LockError(
                f"the state lock {self.path} was force-unlocked by someone else while this command "
                "ran; it stopped before writing the state again. Run `exoform plan` to see where "
                "things stand."
            )

    def __exit__(self, *exc: Any) -> None:
        if self._fd is None:
            return
        if _same_file(self._fd, self.path):
            os.ftruncate(self._fd, 0)
        oslock.unlock(self._fd)
        os.close(self._fd)
        self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, now = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def new_info(command: str) -> LockInfo:
    """A fresh holder record for this process running `command`."""
    return LockInfo(
        id=str(uuid.uuid4()),
        pid=os.getpid(),
        host=socket.gethostname(),
        user=_user(),
        command=command,
        since=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _user() -> str:
    """Who runs this: the OS account (USER may be unset in cron, CI or a service)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _read_info(fd: int) -> LockInfo | None:
    try:
        raw = os.pread(fd, 65536, 0)
        return LockInfo(**json.loads(raw.decode()))
    except (ValueError, TypeError, OSError):
        return None


def _read_path_info(path: Path) -> LockInfo | None:
    try:
        fd = _open_lock_file(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read_info(fd)
    finally:
        os.close(fd)


def locked_message(where: str, holder: LockInfo | None) -> str:
    """The error for a held lock: who holds it, where, its ID and what to do."""
    if holder is None:
        who = "another exoform process (it is just starting; its record is not written yet)"
    elif holder.alive() is False:
        who = (f"another exoform process (the record names {holder.describe()}, which has exited: "
               "that record is stale and its new holder has not written its own yet)")
    else:
        who = holder.describe()
    hint = ""
    if holder is not None and holder.alive() is not True:
        hint = (f" If that process is gone for good (e.g. a machine that crashed), clear the lock "
                f"with `exoform force-unlock {holder.id}`.")
    return (
        f"the state is locked by {who} ({where}, lock ID "
        f"{holder.id if holder else 'unknown'}). Wait for that command to finish (or pass "
        f"--lock-timeout to wait); exoform never runs two changes on one integration at once.{hint}"
    )


def read_lock_info(state_path: Path) -> LockInfo | None:
    """Who holds the lock now, or None when nobody does."""
    path = lock_path(state_path)
    if not path.exists():
        return None
    fd = _open_lock_file(path, os.O_RDWR)
    try:
        try:
            oslock.lock(fd)
        except oslock.Busy:
            return _read_info(fd)
        oslock.unlock(fd)
        return None
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Unlocked:
    """What `force_unlock` did: `held` says whether a live lock was broken."""

    holder: LockInfo
    held: bool


def force_unlock(state_path: Path, lock_id: str, *, force: bool = False) -> Unlocked:
    """Clear the lock record `lock_id` names. A stale record (its process gone) is simply
    cleared; a lock still held is broken by replacing the lock file — refused while its holder
    is alive on this host unless `force`. Raises LockError with the reason otherwise."""
    path = lock_path(state_path)
    record = _read_path_info(path)
    if record is None:
        raise LockError(f"{path} holds no lock record: there is nothing to unlock")
    if record.id != lock_id:
        raise LockError(f"lock ID {lock_id} does not match the lock on {state_path} "
                        f"(held as {record.id} by {record.describe()}); nothing was changed")
    held = read_lock_info(state_path) is not None
    if held and record.alive() and not force:
        raise LockError(f"the lock is held by {record.describe()}, which is still running on this "
                        "host; wait for it or stop it (force-unlock --force breaks the lock anyway, "
                        "at the risk of two commands changing the tenant at once)")
    if held:
        os.unlink(path)  # the holder keeps a lock on a file nobody else opens any more
    else:
        _clear(path)
    return Unlocked(record, held)


def _clear(path: Path) -> None:
    fd = _open_lock_file(path, os.O_RDWR)
    try:
        oslock.lock(fd)
        os.ftruncate(fd, 0)
        oslock.unlock(fd)
    except oslock.Busy:
        raise LockError(f"{path} was locked again just now; nothing was changed") from None
    finally:
        os.close(fd)
