"""The state store: one state (a key of a backend) read and written as exoform's JSON -
schema-checked, migrated, refused when corrupt, newer, foreign or bound to another tenant (never
overwritten then), written with a conditional write under the command's lease, the serial
bumped only when the content changes. What a failed write leaves is kept in memory.
"""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from exoform.backends.base import Backend, Lease, Meta, StateKey, Stored, acquire_waiting
from exoform.backends.codec import PLAIN, Codec
from exoform.backends.local import LocalBackend
from exoform.engine.errors import UNWRITABLE_STATE, InputError, StateError
from exoform.engine.jsonfile import read_regular, schema_issues
from exoform.engine.lock import new_info
from exoform.engine.provider import TenantIdentity
from exoform.engine.state import State, from_json, migrate, to_json


def default_state_path(integration: str, folder: Path = Path(".")) -> Path:
    """`state/<integration>.json` in `folder` (the config's folder)."""
    return folder / "state" / f"{integration}.json"


class StateStore:
    """One state: `load` once, then `save` after every change. `locked` holds the backend's
    lease while a command that writes runs (a save outside it takes the lease for that write).
    `bind` names the tenant the command reaches: a state bound to another is refused."""

    def __init__(self, backend: Backend, key: StateKey, *, codec: Codec = PLAIN,
                 notice: Callable[[str], None] | None = None) -> None:
        self.backend = backend
        self.key = key
        self.codec = codec
        self.notice = notice
        self.identity: TenantIdentity | None = None
        self.lease: Lease | None = None
        self.unsaved: State | None = None  # the newest state a failed write could not store
        self._last: State | None = None
        self._version: str | None = None

    @classmethod
    def at(cls, path: Path | str, **kwargs: Any) -> "StateStore":
        """The local state file at `path`."""
        target = Path(path)
        return cls(LocalBackend(lambda key: target), StateKey("", ""), **kwargs)

    @property
    def where(self) -> str:
        return self.backend.where(self.key)

    @property
    def path(self) -> Path:
        """The file of a local state (messages and file checks)."""
        return Path(self.where)

    def exists(self) -> bool:
        return self.backend.read(self.key) is not None

    def bind(self, identity: TenantIdentity) -> None:
        """The tenant this command reaches; a per-tenant backend's key names it."""
        self.identity = identity
        if self.backend.per_tenant:
            self.key = StateKey(identity.tenant_id, self.key.integration)

    @contextmanager
    def locked(self, command: str, timeout: float = 0.0) -> Iterator[Lease]:
        """Hold the lock for `command`, waiting up to `timeout` seconds for it."""
        lease = acquire_waiting(self.backend, self.key, new_info(command), timeout)
        self.lease = lease
        try:
            yield lease
        finally:
            self.lease = None
            lease.release()

    def load(self, integration: str) -> State:
        """The state, or a new one (fresh lineage) when there is none."""
        stored = self.backend.read(self.key)
        if stored is None:
            self._last, self._version = State.new(integration), None
            return self._last
        state = self.decode(stored.data)
        if state.integration != integration:
            raise StateError(f"{self.where} belongs to integration '{state.integration}', not "
                             f"'{integration}'; pass the right --state file (it was left untouched)")
        self._check_tenant(state)
        self._last, self._version = state, stored.version
        return state

    def decode(self, data: bytes) -> State:
        try:
            return decode_state(data, self.where, self.codec)
        except InputError as error:
            if self.backend.kind == "local":  # its `.backup` may hold the version before
                raise with_backup_hint(error, Path(self.where)) from None
            raise

    def _check_tenant(self, state: State) -> None:
        bound, here = state.tenant, self.identity
        if bound is None or here is None:
            return
        if (bound.provider, bound.tenant_id) != (here.provider, here.tenant_id):
            raise StateError(
                f"the state {self.where} belongs to {bound.describe()}, but the config points at "
                f"{here.describe()}; nothing was changed. Use the config of that tenant, or give "
                "this tenant its own state (another folder, --state, or the backend's key)")

    def save(self, state: State, *, rewrite: bool = False) -> State:
        """Persist `state` if its content changed (or `rewrite`: re-encoded in place); returns it
        with the serial it was saved at. A failed write raises StateWriteError (WriteConflict or
        LockError: another writer, a lost lock) and keeps `state` as `unsaved`."""
        last = self._last
        state = self._bound(state)
        if (not rewrite and last is not None and last.persisted and state.same_content(last)
                and self._version is not None):
            self.unsaved = None
            return last
        serial = (last.serial + 1) if last is not None else state.serial
        state = dataclasses.replace(state, serial=max(serial, state.serial), persisted=True)
        data = self.codec.encode(to_json(state), "state")
        try:
            if self.lease is not None:
                version = self._write(data, state, self.lease)
            else:  # a write outside a command's lock takes the lock for this write only
                with self.locked("exoform (state write)") as lease:
                    version = self._write(data, state, lease)
        except UNWRITABLE_STATE:
            self.unsaved = state
            raise
        self._last, self._version, self.unsaved = state, version, None
        return state

    def _write(self, data: bytes, state: State, lease: Lease) -> str:
        return self.backend.write(self.key, data, Meta(state.lineage, state.serial),
                                  expected=self._version, lease=lease)

    def _bound(self, state: State) -> State:
        """A state is bound to the tenant on its first write (and an older unbound state on its
        next one, with a notice)."""
        if state.tenant is not None or self.identity is None:
            return state
        if self._last is not None and self._last.persisted and self.notice is not None:
            self.notice(f"the state {self.where} was not bound to a tenant yet (written by an "
                        f"older exoform); it is now bound to {self.identity.describe()}")
        return dataclasses.replace(state, tenant=self.identity)

    def read_as(self, state: State) -> None:
        """Take the version stored now as `state`, read by another store (another key or codec)
        on the same place: the next save replaces exactly that version."""
        stored = self.backend.read(self.key)
        self._last, self._version = state, stored.version if stored is not None else None

    def stored(self) -> Stored | None:
        return self.backend.read(self.key)

    def delete(self) -> None:
        """Remove the state (its history stays); only under this store's lock."""
        stored = self.backend.read(self.key)
        if self.lease is None:
            raise StateError(f"{self.where} is not locked by this command; nothing was removed")
        if stored is not None:
            self.backend.delete(self.key, expected=stored.version, lease=self.lease)


def decode_state(data: bytes, source: str, codec: Codec = PLAIN) -> State:
    """Parse, migrate and validate a state's bytes; raise InputError/StateError if unusable."""
    document = codec.decode(data, source, "state")
    if not isinstance(document, dict):
        raise StateError(f"{source} is not an exoform state file (expected a JSON object)")
    document, issues = migrate(document)
    issues = issues or schema_issues(document, "state.schema.json")
    if issues:
        raise InputError(source, issues)
    return from_json(document)


def read_state_file(path: Path, codec: Codec = PLAIN) -> State:
    """The state in the local file at `path` (StateError when there is none). A corrupt file's
    error names the `.backup` the last writer kept, when there is one."""
    path = Path(path)
    data = read_regular(path, "state")
    if data is None:
        raise StateError(f"no state at {path}")
    try:
        return decode_state(data, str(path), codec)
    except InputError as error:
        raise with_backup_hint(error, path) from None


def with_backup_hint(error: InputError, path: Path) -> InputError:
    backup = path.with_name(path.name + ".backup")
    if backup.is_file() and not path.name.endswith(".backup"):
        error.message += (f"\nThe version before the last write is kept in {backup}: check it "
                          f"(`exoform show {backup}`), then copy it over {path} to go back to it.")
        error.args = (error.message,)
    return error
