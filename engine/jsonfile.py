"""JSON files done safely: read with a clear error naming the file, validate against one of
`schemas/*.json` with errors naming the JSON path, and write atomically (temp file, fsync,
rename, fsync of the folder) so a crash leaves either the old or the new file, never half.
"""
from __future__ import annotations

import glob
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from exoform.engine.errors import Issue
from exoform.engine.jsonread import MIB, JsonFile, read_json_file
from exoform.engine.kinds import sensitive_attrs
from exoform.engine.messages import JsonPath, issues, json_path
from exoform.engine.model import Kind
from exoform.engine.schema_messages import SchemaDocument, schema_copy, schema_problems

__all__ = [
    "atomic_write_bytes", "atomic_write_json", "json_path", "read_json", "schema",
    "schema_issues", "sweep_temp_files",
]

# State files and saved plans are machine-written and small; this only stops a wrong file.
MAX_FILE_BYTES = 16 * MIB


def read_json(path: Path, what: str) -> Any:
    """Parse the `what` ("state", "saved plan") file at `path` strictly (see `jsonread`); any
    failure is an InputError naming the file and, for a duplicate key, its JSON path."""
    return read_json_file(path, JsonFile(
        noun=f"{what} file", max_bytes=MAX_FILE_BYTES, content=f"fix or restore the {what} file",
        fix=f"fix or restore the {what} file",
    ))


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


def atomic_write_json(path: Path, data: Any, *, mode: int = 0o600) -> None:
    """Write `data` as pretty, key-sorted JSON atomically, file mode `mode`."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write `data` atomically; the file has mode `mode` from its first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
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
