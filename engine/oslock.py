"""Exclusive advisory locks on an open file, the same on every platform: `flock` where POSIX
has it, `msvcrt.locking` on Windows. The platform module is imported when a lock is taken, never
at import time, so nothing POSIX-only stops exoform from starting on Windows. A lock dies with
the process that holds it (both platforms release it when the descriptor closes)."""
from __future__ import annotations

import os
import sys


class Busy(Exception):
    """Another process holds the lock (non-blocking attempt)."""


def lock(fd: int, *, wait: bool = False) -> None:
    """Take the exclusive lock on `fd`; raise Busy when `wait` is false and it is held."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        _lock_windows(fd, wait)
        return
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        raise Busy() from None


def unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def _lock_windows(fd: int, wait: bool) -> None:  # pragma: no cover - Windows only
    assert sys.platform == "win32"  # (tells the type checker which platform this is)
    import msvcrt

    os.lseek(fd, 0, os.SEEK_SET)  # Windows locks a byte range: the first byte stands for the file
    try:
        msvcrt.locking(fd, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
    except OSError:
        raise Busy() from None
