"""JSON files done safely: read with a clear error naming the file, validate against one of
`schemas/*.json` with errors naming the JSON path, and write atomically (temp file, fsync,
rename, fsync of the folder) so a crash leaves either the old or the new file, never half.
State, backup, lock and plan files are never reached through a symbolic link.
"""
from __future__ import annotations

import errno
import glob
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from exoform.engine.errors import InputError, Issue, StateWriteError
from exoform.engine.jsonread import MIB, JsonFile, parse_json_bytes
from exoform.engine.kinds import sensitive_attrs
from exoform.engine.messages import JsonPath, issues, json_path
from exoform.engine.model import Kind
from exoform.engine.schema_messages import SchemaDocument, schema_copy, schema_problems

__all__ = [
    "atomic_write_bytes", "atomic_write_json", "json_bytes", "json_path", "read_json",
    "read_regular", "refuse_link", "schema", "schema_issues", "sweep_temp_files",
]

# State files and saved plans are machine-written and small; this only stops a wrong file.
MAX_FILE_BYTES = 16 * MIB


# O_NOFOLLOW: the last part of the path must not be a link (POSIX; Windows has no such flag,
# there `refuse_link` checks before opening).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def file_kind(what: str) -> JsonFile:
    return JsonFile(noun=f"{what} file", max_bytes=MAX_FILE_BYTES,
                    content=f"fix or restore the {what} file", fix=f"fix or restore the {what} file")


def read_json(path: Path, what: str) -> Any:
    """Parse the `what` ("state", "saved plan") file at `path` strictly (see `jsonread`); any
    failure is an InputError naming the file and, for a duplicate key, its JSON path. A missing
    file or a symbolic link is an InputError too."""
    kind = file_kind(what)
    raw = read_regular(path, what)
    if raw is None:
        raise InputError(str(path), [Issue("", f"{kind.noun} not found")])
    return parse_json_bytes(raw, kind, str(path))


def refuse_link(path: Path, what: str) -> None:
    """InputError when `path` is a symbolic link: exoform never follows one for its own files,
    since whoever planted it would choose which file exoform reads or overwrites."""
    if path.is_symlink():
        raise InputError(str(path), [Issue("", (
            f"is a symbolic link; exoform does not follow links for {what} files (someone could "
            "point it at another file). Replace the link with the file itself"))])


def read_regular(path: Path, what: str) -> bytes | None:
    """The bytes of the `what` file at `path`, None when there is none; a link, a folder or an
    unreadable file is an InputError naming it."""
    refuse_link(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _BINARY)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            refuse_link(path, what)  # replaced by a link between the check and the open
        raise InputError(str(path), [Issue("", f"cannot read the {what} file: {error.strerror}")]) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(str(path), [Issue("", f"is not a regular file; pass the path of a {what} file")])
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(str(path), [Issue("", f"is larger than 16 MiB; fix or restore the {what} file")])
    return raw


def schema(name: str) -> dict[str, Any]:
    """A copy of `schemas/<name>`."""
    return schema_copy(name)


# Attribute values exoform never echoes (the tenant information in SetHeaderValue); the state
# and plan files hold them under the attribute's name at any depth.
SENSITIVE_KEYS = frozenset().union(*(sensitive_attrs(kind) for kind in Kind))


def holds_sensitive_value(path: JsonPath) -> bool:
    """`path` lies under a sensitive attribute's key (for schema messages)."""
    return any(part in SENSITIVE_KEYS for part in path)


def schema_issues(data: Any, schema_name: str) -> list[Issue]:
    """Every schema violation, sorted by path, worded by `schema_messages` (values truncated,
    sensitive ones not shown); the whole document's path is "(top level)"."""
    document = SchemaDocument(schema_name, "the file", sensitive=holds_sensitive_value)
    return issues(schema_problems(data, document), first_per_path=False, root="(top level)")


def json_bytes(data: Any) -> bytes:
    """The bytes exoform writes for a JSON document: pretty, key-sorted, UTF-8."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def atomic_write_json(path: Path, data: Any, *, mode: int = 0o600) -> None:
    """Write `data` as pretty, key-sorted JSON atomically, file mode `mode`."""
    atomic_write_bytes(path, json_bytes(data), mode=mode)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write `data` atomically; the file has mode `mode` from its first byte on. The rename
    replaces a link at `path` rather than writing through it. On Windows, which has no fchmod,
    the file gets the folder's inherited ACL instead (keep state under your own profile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def write_failure(path: Path, what: str, error: OSError) -> StateWriteError:
    """The typed error for a failed write of the `what` file (full disk, read-only folder)."""
    reason = {errno.ENOSPC: "no space left on the device", errno.EROFS: "the file system is read-only",
              errno.EACCES: "permission denied", errno.EDQUOT: "disk quota exceeded"}.get(
                  error.errno or 0, error.strerror or str(error))
    return StateWriteError(f"could not write the {what} file {path}: {reason}")


def sweep_temp_files(path: Path) -> list[Path]:
    """Remove temp files an interrupted `atomic_write_*` of `path` left (a process killed
    between writing and renaming). Only for a caller that holds the lock for `path`."""
    removed = []
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            stale.unlink()
            removed.append(stale)
        except FileNotFoundError:
            pass
    return removed


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
