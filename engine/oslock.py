"""Exclusive advisory locks on an open file, the same on every platform: `flock` where POSIX
has it, `msvcrt.locking` on Windows (on the file's first byte, which stands for the file). Each
platform imports only its own module, so nothing POSIX-only stops exoform from starting on
Windows. A lock dies with its process (both platforms release it when the descriptor closes)."""
from __future__ import annotations

import os
import sys


class Busy(Exception):
    """Another process holds the lock (non-blocking attempt)."""


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def lock(fd: int, *, wait: bool = False) -> None:
        """Take the exclusive lock on `fd`; raise Busy when `wait` is false and it is held."""
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        except OSError:
            raise Busy() from None

    def unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def lock(fd: int, *, wait: bool = False) -> None:
        """Take the exclusive lock on `fd`; raise Busy when `wait` is false and it is held."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Busy() from None

    def unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
