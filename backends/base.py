"""The one interface every state backend implements, per state key (a tenant and an
integration): read with a version, conditional write, a lease with holder info that lapses
when its holder dies, force-unlock, history. Backends keep bytes; `StateStore` parses them.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from exoform.engine.errors import LockError
from exoform.engine.lock import LockHeld, LockInfo, Unlocked

__all__ = ["Backend", "Lease", "LockHeld", "LockInfo", "Meta", "RenewedLease", "StateKey", "Stored",
           "Unlocked", "Version", "acquire_waiting", "peek_meta"]


@dataclass(frozen=True)
class StateKey:
    """Which state: one integration on one tenant (the tenant's stable id). Keys never share a
    lock, so a fleet runs many tenants at once on one backend."""

    tenant: str
    integration: str

    @property
    def name(self) -> str:
        return f"{self.tenant}/{self.integration}" if self.tenant else self.integration


@dataclass(frozen=True)
class Stored:
    """A state as stored: its bytes (JSON, or an encryption envelope) and the opaque version a
    conditional write must name (a blob's ETag, a row version, a file's digest)."""

    data: bytes
    version: str


@dataclass(frozen=True)
class Meta:
    """What a write records beside the bytes, readable without the encryption key."""

    lineage: str
    serial: int


@dataclass(frozen=True)
class Version:
    """One entry of a state's history."""

    serial: int
    lineage: str
    written_at: str
    label: str = ""  # where it is kept ("current", ".backup", a blob name)


class Lease(Protocol):
    """A held lock on one key. `check` raises LockError once it is lost (expired, broken)."""

    holder: LockInfo

    def check(self) -> None: ...

    def release(self) -> None: ...


class RenewedLease:
    """A finite lease kept alive by a daemon thread renewing it every `interval` seconds while a
    command runs: a holder that dies stops renewing and the lease lapses by itself. Once a
    renewal fails the lease is lost and `check` raises before the next write."""

    what = "lease"

    def __init__(self, holder: LockInfo, interval: float) -> None:
        self.holder = holder
        self.interval = interval
        self.lost = ""
        self._stop = threading.Event()

    def renew(self) -> None:
        """Extend the lease at the server; raise when it is gone."""
        raise NotImplementedError

    def end(self) -> None:
        """Give the lease up at the server."""
        raise NotImplementedError

    def start(self) -> None:
        threading.Thread(target=self._loop, name=f"exoform-{self.what}", daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.renew()
            except Exception as error:  # any failure: the lease may have lapsed, stop writing
                self.lost = str(error) or type(error).__name__
                return

    def check(self) -> None:
        if self.lost:
            raise LockError(f"the state's {self.what} was lost ({self.lost}): someone force-unlocked "
                            "it or it lapsed; this command stopped before writing again. Run "
                            "`exoform plan` to see where things stand.")

    def release(self) -> None:
        self._stop.set()
        try:
            self.end()
        except Exception:  # lost or unreachable already: it lapses by itself
            pass


class Backend(Protocol):
    """Where states live. Every method is per key and safe to call from several threads."""

    #: "local", "azurerm", "postgres"
    kind: str
    #: True when keys name the tenant (remote backends); a local file is chosen by path instead.
    per_tenant: bool

    def where(self, key: StateKey) -> str:
        """Where the state of `key` lives, for messages (a path, a URL, schema.table/key)."""
        ...

    def read(self, key: StateKey) -> Stored | None:
        """The current state, or None when there is none."""
        ...

    def write(self, key: StateKey, data: bytes, meta: Meta, *, expected: str | None,
              lease: Lease) -> str:
        """Replace the state if its version is still `expected` (None: there must be none) and
        `lease` still holds; returns the new version. WriteConflict, LockError or
        StateWriteError otherwise, and then nothing was written."""
        ...

    def delete(self, key: StateKey, *, expected: str, lease: Lease) -> None:
        """Remove the current state (its history stays) under the same conditions as `write`."""
        ...

    def acquire(self, key: StateKey, holder: LockInfo) -> Lease:
        """Take the lock now or raise LockHeld naming its holder."""
        ...

    def holder(self, key: StateKey) -> LockInfo | None:
        """Who holds the lock now (None when nobody does)."""
        ...

    def force_unlock(self, key: StateKey, lock_id: str, *, force: bool) -> Unlocked:
        """Break the lock `lock_id` names (LockError when the ID does not match)."""
        ...

    def history(self, key: StateKey) -> tuple[Version, ...]:
        """Every version kept, oldest first."""
        ...

    def read_version(self, key: StateKey, serial: int) -> bytes | None:
        """The bytes of the version with `serial`, None when it is not kept."""
        ...

    def close(self) -> None:
        """Release clients and connections."""
        ...


def peek_meta(data: bytes) -> Meta | None:
    """The lineage and serial of stored bytes (a state or an envelope keeps both in clear)."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
        return Meta(str(document["lineage"]), int(document["serial"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def acquire_waiting(backend: Backend, key: StateKey, holder: LockInfo, timeout: float, *,
                    sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> Lease:
    """`backend.acquire`, retried until `timeout` seconds have passed (0: one attempt), the same
    for every backend (Terraform's -lock-timeout)."""
    deadline = clock() + timeout
    delay = 0.1
    while True:
        try:
            return backend.acquire(key, holder)
        except LockHeld as held:
            left = deadline - clock()
            if left <= 0:
                if timeout > 0:
                    raise LockHeld(f"{held.message} (waited {timeout:g}s, --lock-timeout)",
                                   held.holder) from None
                raise
            sleep(min(delay, left))
            delay = min(delay * 1.5, 2.0)
