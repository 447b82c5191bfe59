"""Where a fleet tenant's state lives: the ONE place that decides it. The tenant's merged `backend`
block picks the backend exactly as it does for a single config. A remote backend (azurerm,
postgres) is shared: each tenant's key is its tenant id from sign-in plus its integration, the key
a single-tenant run of the same config uses; a local backend keeps a file per tenant name.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from exoform.backends.base import Backend, StateKey
from exoform.backends.registry import open_backend
from exoform.engine.operations.stores import codec_of, local_state_path
from exoform.engine.spec import BackendSpec, IntegrationSpec
from exoform.engine.statefile import StateStore

if TYPE_CHECKING:
    from exoform.engine.fleet.manifest import Manifest, Member

STATE_FOLDER = Path(".exoform") / "fleet"
Notice = Callable[[str], None]


def local_path(base_dir: Path, fleet: str, name: str, spec: IntegrationSpec) -> Path:
    """A local tenant's state file: its backend's own `path`, else
    `<manifest dir>/.exoform/fleet/<fleet>/<tenant>.state.json`."""
    return local_state_path(spec, None if spec.backend.options.get("path") else
                            str(base_dir / STATE_FOLDER / fleet / f"{name}.state.json"))


def tenant_state_path(manifest: Manifest, member: Member) -> Path:
    return local_path(manifest.base_dir, manifest.name, member.name, member.spec)


def shared_local_files(base_dir: Path, fleet: str,
                       members: Sequence[tuple[str, str, IntegrationSpec]]) -> list[tuple[str, str]]:
    """(member label, problem) for local tenants whose states would be one file: each tenant
    needs its own (e.g. `"path": "states/{name}.json"` in defaults.backend)."""
    seen: dict[Path, str] = {}
    found = []
    for label, name, spec in members:
        if spec.backend.type != "local":
            continue
        path = local_path(base_dir, fleet, name, spec).resolve()
        if path in seen:
            found.append((label, f"keeps its state in {path} like {seen[path]}; give each tenant its own "
                                 "file, e.g. \"path\": \"states/{name}.json\" in defaults.backend"))
        seen.setdefault(path, label)
    return found


class FleetStores:
    """The state stores of one fleet run. A remote backend is opened once per distinct block
    (and per process: a forked worker opens its own connections) and shared by its tenants,
    whose keys never share a lock, so many tenants run at once on one backend."""

    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest
        self._lock = threading.Lock()
        self._shared: dict[tuple[int, str], Backend] = {}

    def store(self, member: Member, notice: Notice) -> StateStore:
        spec = member.spec
        if spec.backend.type == "local":
            path = tenant_state_path(self._manifest, member)
            backend = open_backend(spec.backend, local_path=path, warn=notice)
        else:
            backend = self._backend(spec.backend)
        # A remote key gets its tenant when the session binds the tenant's identity.
        return StateStore(backend, StateKey("", spec.integration), codec=codec_of(spec), notice=notice)

    def _backend(self, spec: BackendSpec) -> Backend:
        key = (os.getpid(), _block_key(spec.type, spec.options))
        with self._lock:
            if key not in self._shared:
                self._shared[key] = open_backend(spec, local_path=Path(os.devnull))
            return self._shared[key]

    def close(self) -> None:
        """Release the clients and connections this process opened."""
        with self._lock:
            opened = [b for (pid, _), b in self._shared.items() if pid == os.getpid()]
            self._shared.clear()
        for backend in opened:
            backend.close()


def _block_key(kind: str, options: Mapping[str, object]) -> str:
    return kind + json.dumps(dict(options), sort_keys=True, default=str)


def tenant_store(manifest: Manifest, member: Member, notice: Notice | None = None) -> StateStore:
    """One tenant's store outside a run (its own backend client; close it with `.backend.close()`)."""
    return FleetStores(manifest).store(member, notice or (lambda text: None))
