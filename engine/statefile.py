"""Reading and writing the state file: schema-checked, migrated, refused when corrupt, newer or
foreign (never overwritten then), written atomically with the previous version kept as
`.backup`, the serial bumped only when the content changes.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from exoform.engine.errors import InputError, StateError
from exoform.engine.jsonfile import (
    atomic_write_bytes,
    atomic_write_json,
    read_json,
    schema_issues,
    sweep_temp_files,
)
from exoform.engine.state import State, from_json, migrate, to_json


def default_state_path(integration: str) -> Path:
    return Path("state") / f"{integration}.json"


class StateStore:
    """One state file. `load` once, then `save` after every change. A writer sets `guard` to
    its lock's check, which runs before every write."""

    def __init__(self, path: Path, guard: Callable[[], None] | None = None) -> None:
        self.path = Path(path)
        self.guard = guard
        self._last: State | None = None
        self._backed_up = False
        self._swept = False

    @property
    def backup_path(self) -> Path:
        return self.path.with_name(self.path.name + ".backup")

    def exists(self) -> bool:
        return self.path.exists()

    def load(self, integration: str) -> State:
        """The state, or a new one (fresh lineage) when the file does not exist."""
        if not self.path.exists():
            self._backed_up = True  # nothing was read, so there is nothing to keep
            self._last = State.new(integration)
            return self._last
        state = read_state_file(self.path)
        if state.integration != integration:
            raise StateError(
                f"{self.path} belongs to integration '{state.integration}', not "
                f"'{integration}'; pass the right --state file (it was left untouched)"
            )
        self._last = state
        return state

    def save(self, state: State) -> State:
        """Persist `state` if its content changed; returns it with the serial it was saved at."""
        last = self._last
        if last is not None and state.same_content(last) and self.path.exists():
            return last
        serial = (last.serial + 1) if last is not None else state.serial
        state = dataclasses.replace(state, serial=max(serial, state.serial), persisted=True)
        if self.guard is not None:
            self.guard()
        if not self._swept:  # temp files of a writer killed mid-write (we hold the lock now)
            sweep_temp_files(self.path)
            sweep_temp_files(self.backup_path)
            self._swept = True
        if not self._backed_up and self.path.exists():
            # Atomic and 0600 from the first byte: a plain copy is briefly world-readable.
            atomic_write_bytes(self.backup_path, self.path.read_bytes())
            self._backed_up = True
        atomic_write_json(self.path, to_json(state))
        self._last = state
        return state


def read_state_file(path: Path) -> State:
    """Parse, migrate and validate a state file; raise InputError/StateError if unusable. A
    corrupt file's error names the `.backup` the last writer kept, when there is one."""
    try:
        return _read_state_file(path)
    except InputError as error:
        backup = path.with_name(path.name + ".backup")
        if backup.is_file() and not path.name.endswith(".backup"):
            error.message += (f"\nThe version before the last write is kept in {backup}: check it "
                              f"(`exoform show {backup}`), then copy it over {path} to go back to it.")
            error.args = (error.message,)
        raise


def _read_state_file(path: Path) -> State:
    data = read_json(path, "state")
    if not isinstance(data, dict):
        raise StateError(f"{path} is not an exoform state file (expected a JSON object)")
    data, issues = migrate(data)
    issues = issues or schema_issues(data, "state.schema.json")
    if issues:
        raise InputError(str(path), issues)
    return from_json(data)
