"""The state file and its lock: lineage fixed at creation, serial bumped only on a content
change, atomic 0600 writes with the first-read version kept as `.backup`, the pending record,
and the lock telling a second writer who holds it (and dying with its holder)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from exoform.engine.errors import LockError
from exoform.engine.lock import StateLock, read_lock_info
from exoform.engine.model import Address, Kind, freeze_attrs
from exoform.engine.state import Pending, State, StateResource
from exoform.engine.statefile import StateStore, read_state_file

RULE = StateResource(Address(Kind.TRANSPORT_RULE, "spf"), "X - SPF", "g-1", freeze_attrs({"Name": "X - SPF"}))


def test_new_state_gets_a_lineage_that_never_changes(tmp_path: Path) -> None:
    store = StateStore.at(tmp_path / "s.json")
    state = store.load("demo")
    saved = store.save(state.put(RULE))
    store.save(saved.drop(RULE.address))
    saved = store.save(saved)
    assert not (tmp_path / "s.json.backup").exists()  # no state was read: nothing to back up
    assert saved.serial == 3 and saved.lineage == state.lineage
    again = StateStore.at(tmp_path / "s.json").load("demo")
    assert again == saved
    assert StateStore.at(tmp_path / "other.json").load("demo").lineage != state.lineage


def test_serial_moves_only_when_content_changes(tmp_path: Path) -> None:
    store = StateStore.at(tmp_path / "s.json")
    state = store.save(store.load("demo").put(RULE))
    assert store.save(state).serial == state.serial
    pending = Pending(0, "transport_rule.spf", "create", "New-TransportRule", "X - SPF", "2026-01-01T00:00:00+00:00")
    with_pending = store.save(state.with_pending(pending))
    assert with_pending.serial == state.serial + 1
    assert read_state_file(store.path).pending == pending
    assert store.save(with_pending.with_pending(None)).serial == state.serial + 2


def test_writes_are_0600_and_keep_the_first_read_version_as_backup(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    first = StateStore.at(path)
    first.save(first.load("demo").put(RULE))
    original = path.read_text()
    store = StateStore.at(path)
    state = store.load("demo")
    store.save(state.drop(RULE.address))
    store.save(store.load("demo").put(RULE))
    assert (tmp_path / "s.json.backup").read_text() == original
    for file in (path, tmp_path / "s.json.backup"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_state_round_trips_through_json(tmp_path: Path) -> None:
    store = StateStore.at(tmp_path / "s.json")
    allow = StateResource(Address(Kind.CONNECTION_FILTER_ALLOWLIST, "default"), "Default", None,
                          freeze_attrs({"IPAllowList": ["1.1.1.1"], "Name": "Default"}), owned_entries=("1.1.1.1",))
    state = store.save(store.load("demo").put(RULE).put(allow))
    assert read_state_file(store.path) == state
    data = json.loads(store.path.read_text())
    assert [r["address"] for r in data["resources"]] == ["connection_filter_allowlist.default", "transport_rule.spf"]


def test_lock_names_its_holder_and_is_released(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    assert read_lock_info(path) is None
    with StateLock(path, "exoform apply") as lock:
        info = read_lock_info(path)
        assert info is not None and info.pid == os.getpid() and info.id == lock.info.id  # type: ignore[union-attr]
        with pytest.raises(LockError, match=rf"locked by pid {os.getpid()} on .*`exoform apply`.* since "):
            with StateLock(path, "exoform destroy"):
                pass
    assert read_lock_info(path) is None
    with StateLock(path, "exoform apply"):
        pass


def test_a_killed_holder_never_leaves_a_dead_end(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    code = ("import os, sys; from pathlib import Path; from exoform.engine.lock import StateLock\n"
            f"StateLock(Path({str(path)!r}), 'exoform apply').__enter__(); os._exit(137)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 137
    assert read_lock_info(path) is None  # the OS released the lock with the process
    with StateLock(path, "exoform apply"):
        pass
