"""Where a config's state lives and how it is opened: the backend its `backend` block names
(default: local files next to the config), the encryption codec, and the move of a state (and
default sandbox tenant) left at the old cwd-relative default `state/<integration>.json`.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from exoform.backends.base import StateKey
from exoform.backends.codec import Codec, codec_for
from exoform.backends.local import backup_path
from exoform.backends.registry import open_backend
from exoform.engine.errors import StateError
from exoform.engine.jsonfile import refuse_link
from exoform.engine.lock import StateLock, lock_path
from exoform.engine.spec import IntegrationSpec
from exoform.engine.statefile import StateStore, default_state_path

if TYPE_CHECKING:
    from exoform.engine.operations.session import Session

Notice = Callable[[str], None]


def codec_of(spec: IntegrationSpec) -> Codec:
    return codec_for(spec.encryption_key_env or None)


def local_state_path(spec: IntegrationSpec, given: str | None) -> Path:
    """`--state`, else the backend's `path`, else `state/<integration>.json` next to the config."""
    if given:
        return Path(given)
    if spec.backend.options.get("path"):
        return Path(spec.backend.options["path"])
    return default_state_path(spec.integration, Path(spec.base_dir))


def open_store(spec: IntegrationSpec, given: str | None, notice: Notice, *,
               allow_unsafe: bool = False, integration: str | None = None) -> StateStore:
    """The state store of `spec` (`given`: the --state file, local backend only), or of another
    `integration` on the same backend and in the same folder."""
    if given and spec.backend.type != "local":
        raise StateError(f"--state names a local state file, but {spec.source} keeps its state in "
                         f"the {spec.backend.type} backend; remove --state (or the backend block)")
    name = integration or spec.integration
    path = local_state_path(dataclasses.replace(spec, integration=name), given)
    if spec.backend.type == "local" and not given and not spec.backend.options.get("path") and name == spec.integration:
        adopt_old_default(spec, path, notice)
    backend = open_backend(spec.backend, local_path=path, allow_unsafe=allow_unsafe, warn=notice)
    return StateStore(backend, StateKey("", name), codec=codec_of(spec), notice=notice)


def adopt_old_default(spec: IntegrationSpec, new: Path, notice: Notice) -> None:
    """A state (and default sandbox tenant) that an older exoform kept at `state/` of the current
    folder is moved next to the config, with a notice; never silently ignored."""
    old = default_state_path(spec.integration)
    pairs = [(old, new)]
    tenant = Path(str(spec.tenant.options.get("sandbox_file", "")))
    if spec.tenant.provider == "sandbox" and tenant == new.with_name(f"{spec.integration}.tenant.json"):
        pairs.append((old.with_name(tenant.name), tenant))  # the default sandbox tenant moves too
    if not old.exists() or _same_place(old, new):
        return
    for source, target in pairs:
        if source.exists() and target.exists() and not _same_place(source, target):
            raise StateError(f"there are two states for integration '{spec.integration}': {source} "
                             f"(the old default, in the current folder) and {target} (next to the "
                             "config); keep the right one and remove the other (nothing was changed)")
    with StateLock(old, "exoform (moving the state next to its config)"):
        for source, target in pairs:
            _move(source, target, notice)


def _move(source: Path, target: Path, notice: Notice) -> None:
    if not source.exists():
        return
    refuse_link(source, "state")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.replace(source, target)
    if backup_path(source).exists():
        os.replace(backup_path(source), backup_path(target))
    lock = lock_path(source)
    if lock.exists() and source.name.endswith(".tenant.json"):
        lock.unlink()
    notice(f"moved {source} to {target}: exoform now keeps this file next to its config")


def _same_place(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def sibling_store(session: "Session", integration: str) -> StateStore:
    """The store of `integration` beside the session's (same backend kind, folder, tenant and
    codec): `state mv` moves a state between the two."""
    if integration == session.spec.integration:
        return session.store
    here = session.store
    if here.backend.per_tenant:
        store = StateStore(here.backend, StateKey(here.key.tenant, integration), codec=here.codec,
                           notice=here.notice)
    else:
        given = str(here.path) if here.path != local_state_path(session.spec, None) else None
        store = open_store(session.spec, given, here.notice or _quiet, integration=integration,
                           allow_unsafe=getattr(here.backend, "allow_unsafe", False))
    if session.identity is not None:
        store.bind(session.identity)
    return store


def _quiet(text: str) -> None:
    pass
