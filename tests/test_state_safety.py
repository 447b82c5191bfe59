"""The state's files stay safe when a writer dies at any byte: the `.backup` is written
atomically and owner-only from its first byte, temp files a killed writer left are swept
by the next writer (it holds the lock), and a broken lock stops the writer."""
from __future__ import annotations

import builtins
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from exoform.engine.errors import LockError
from exoform.engine.lock import lock_path
from exoform.engine.model import Address, Kind, freeze_attrs
from exoform.engine.state import StateResource
from exoform.engine.statefile import StateStore

RULE = StateResource(Address(Kind.TRANSPORT_RULE, "spf"), "X - SPF", "g-1", freeze_attrs({"Name": "X - SPF"}))


def _saved(path: Path) -> None:
    store = StateStore.at(path)
    store.save(store.load("demo").put(RULE))


def test_no_state_file_is_ever_created_readable_by_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the .backup was a shutil.copy2 — created 0644, filled, then chmod-ed: a
    crash in between left the state's content (tenant_info) readable by every local user."""
    path = tmp_path / "s.json"
    _saved(path)
    real_open, real_os_open = builtins.open, os.open
    created: list[tuple[str, int]] = []

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if str(file).startswith(str(tmp_path)) and any(c in mode for c in "wax+"):
            created.append((str(file), 0o666))  # open() creates files 0666 & ~umask
        return real_open(file, mode, *args, **kw)

    def guarded_os_open(file: Any, flags: int, mode: int = 0o777, *args: Any, **kw: Any) -> int:
        if str(file).startswith(str(tmp_path)) and flags & os.O_CREAT:
            created.append((str(file), mode))
        return real_os_open(file, flags, mode, *args, **kw)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    store = StateStore.at(path)
    store.save(store.load("demo").drop(RULE.address))
    assert created and all(mode & 0o077 == 0 for _, mode in created), created
    for file in tmp_path.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_temp_files_of_a_killed_writer_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    _saved(path)
    stale = [tmp_path / ".s.json.abc123.tmp", tmp_path / ".s.json.backup.x9.tmp"]
    for file in stale:
        file.write_text("{half a state")
    other = tmp_path / ".t.json.zz.tmp"  # another file's temp: not ours to touch
    other.write_text("x")
    store = StateStore.at(path)
    state = store.load("demo")
    assert all(f.exists() for f in stale)  # reading never removes anything
    store.save(state.drop(RULE.address))
    assert not any(f.exists() for f in stale) and other.exists()


def test_a_broken_lock_stops_the_write(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    _saved(path)
    before = path.read_text()
    store = StateStore.at(path)
    with store.locked("exoform apply"):
        state = store.load("demo")
        lock_path(path).unlink()  # what `force-unlock --force` does to a held lock
        with pytest.raises(LockError, match="force-unlocked"):
            store.save(state.drop(RULE.address))
    assert path.read_text() == before
