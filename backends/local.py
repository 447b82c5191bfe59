"""The local backend: one JSON file per state (today's files), written atomically with the
version first read kept as `.backup`, locked by `flock` on `<state>.lock` (the lock dies with
its process). Files are never reached through a link; a folder other users may write is refused.
"""
from __future__ import annotations

import hashlib
import os
import stat
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from exoform.backends.base import Lease, LockInfo, Meta, StateKey, Stored, Unlocked, Version, peek_meta
from exoform.engine.errors import InputError, StateError, StateWriteError, WriteConflict
from exoform.engine.jsonfile import (
    atomic_write_bytes,
    read_regular,
    refuse_link,
    sweep_temp_files,
    write_failure,
)
from exoform.engine.lock import StateLock, force_unlock, read_lock_info

UNSAFE_FLAG = "--allow-unsafe-state-folder"


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".backup")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class LocalLease:
    """The flock on `<state>.lock`."""

    lock: StateLock
    holder: LockInfo

    def check(self) -> None:
        self.lock.verify()

    def release(self) -> None:
        self.lock.__exit__(None, None, None)


class LocalBackend:
    """States as files; `locate` maps a key to its file (one file for the CLI's config)."""

    kind = "local"
    per_tenant = False

    def __init__(self, locate: Callable[[StateKey], Path], *, allow_unsafe: bool = False,
                 warn: Callable[[str], None] | None = None) -> None:
        self.locate = locate
        self.allow_unsafe = allow_unsafe
        self.warn = warn
        self._checked: set[Path] = set()
        # The first write of this backend's life keeps the version it first read as `.backup`
        # (a state that did not exist has nothing to keep); temp files are swept then too.
        self._backed_up: set[Path] = set()

    def where(self, key: StateKey) -> str:
        return str(self.locate(key))

    def _path(self, key: StateKey) -> Path:
        path = self.locate(key)
        self._check_folder(path.parent)
        return path

    def read(self, key: StateKey) -> Stored | None:
        path = self._path(key)
        data = read_regular(path, "state")
        if data is None:
            self._backed_up.add(path)
            return None
        return Stored(data, digest(data))

    def write(self, key: StateKey, data: bytes, meta: Meta, *, expected: str | None,
              lease: Lease) -> str:
        path = self._path(key)
        self._conditions(path, expected, lease)
        try:
            if path not in self._backed_up:
                self._keep_backup(path)
            atomic_write_bytes(path, data)
        except OSError as error:
            raise write_failure(path, "state", error) from None
        except InputError as error:  # a link planted since the command started: a failed write
            raise StateWriteError(str(error)) from None
        return digest(data)

    def _conditions(self, path: Path, expected: str | None, lease: Lease) -> None:
        lease.check()
        current = read_regular(path, "state")
        if current is None and expected is not None:
            raise WriteConflict(f"{path} was deleted while this command held its lock; nothing was "
                                "written")
        if (digest(current) if current is not None else None) != expected:
            raise WriteConflict(f"{path} changed since this command read it (another writer); "
                                "nothing was overwritten. Run the command again")

    def _keep_backup(self, path: Path) -> None:
        sweep_temp_files(path)  # of a writer killed mid-write (we hold the lock now)
        sweep_temp_files(backup_path(path))
        current = read_regular(path, "state")
        refuse_link(backup_path(path), "backup")
        if current is not None:
            # Atomic and 0600 from the first byte: a plain copy is briefly world-readable.
            atomic_write_bytes(backup_path(path), current)
        self._backed_up.add(path)

    def delete(self, key: StateKey, *, expected: str, lease: Lease) -> None:
        path = self._path(key)
        self._conditions(path, expected, lease)
        try:
            path.unlink()
        except OSError as error:
            raise write_failure(path, "state", error) from None

    def acquire(self, key: StateKey, holder: LockInfo) -> Lease:
        path = self._path(key)
        lock = StateLock(path, holder.command, holder)
        try:
            lock.__enter__()
        except OSError as error:
            raise write_failure(lock.path, "lock", error) from None
        return LocalLease(lock, holder)

    def holder(self, key: StateKey) -> LockInfo | None:
        return read_lock_info(self._path(key))

    def force_unlock(self, key: StateKey, lock_id: str, *, force: bool) -> Unlocked:
        return force_unlock(self._path(key), lock_id, force=force)

    def history(self, key: StateKey) -> tuple[Version, ...]:
        path = self._path(key)
        found = []
        for label, file in ((".backup", backup_path(path)), ("current", path)):
            data = read_regular(file, "state")
            meta = peek_meta(data) if data is not None else None
            if meta is not None:
                written = datetime.fromtimestamp(file.stat().st_mtime, timezone.utc)
                found.append(Version(meta.serial, meta.lineage,
                                     written.isoformat(timespec="seconds"), label))
        return tuple(found)

    def read_version(self, key: StateKey, serial: int) -> bytes | None:
        path = self._path(key)
        for file in (path, backup_path(path)):
            data = read_regular(file, "state")
            meta = peek_meta(data) if data is not None else None
            if meta is not None and meta.serial == serial:
                return data
        return None

    def close(self) -> None:
        pass

    def _check_folder(self, folder: Path) -> None:
        """Refuse (or, when allowed, warn about) a folder other users may write: they could
        plant a link or swap in a forged state there."""
        if folder in self._checked:
            return
        problem = unsafe_folder(folder)
        if problem and not self.allow_unsafe:
            raise StateError(f"{problem}; make it yours alone (`chmod go-w {folder}`), move the "
                             f"state elsewhere, or pass {UNSAFE_FLAG} to go on with a warning")
        if problem and self.warn is not None:
            self.warn(f"{problem}; other users could replace the state ({UNSAFE_FLAG} given)")
        self._checked.add(folder)


def unsafe_folder(folder: Path) -> str | None:
    """Why `folder` is unsafe for state, or None. POSIX only: Windows guards files by ACLs."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        return None
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return None  # exoform creates it, 0700
    except OSError as error:
        raise StateError(f"cannot inspect the state folder {folder}: {error.strerror}") from None
    if info.st_uid not in (os.getuid(), 0):
        return f"the state folder {folder} belongs to another user (uid {info.st_uid})"
    if info.st_mode & stat.S_IWOTH:
        return f"the state folder {folder} is writable by every user (mode {stat.filemode(info.st_mode)})"
    if info.st_mode & stat.S_IWGRP and not _private_group(info.st_gid):
        return (f"the state folder {folder} is writable by its group (mode "
                f"{stat.filemode(info.st_mode)}) and that group has other members")
    return None


def _private_group(gid: int) -> bool:
    """A group only the current user is in (the user-private groups of Debian and Fedora)."""
    import grp  # POSIX-only modules: imported here so exoform still starts on Windows
    import pwd

    try:
        group, user = grp.getgrgid(gid), pwd.getpwuid(os.getuid())
    except KeyError:
        return False
    return group.gr_name == user.pw_name and set(group.gr_mem) <= {user.pw_name}
