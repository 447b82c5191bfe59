"""The state-only operations: read the current state (show, list, history, pull), push a state
file, save a plan where it cannot overwrite one of exoform's own files, force-unlock.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from exoform.backends.base import Version, peek_meta
from exoform.backends.codec import PLAIN, is_envelope
from exoform.backends.local import backup_path
from exoform.engine.errors import ExoformError, LockError, StateError
from exoform.engine.jsonfile import atomic_write_json, read_regular, refuse_link, write_failure
from exoform.engine.lock import Unlocked, lock_path
from exoform.engine.operations.session import Session
from exoform.engine.plan import Plan
from exoform.engine.planfile import write_plan
from exoform.engine.state import State, to_json
from exoform.engine.statefile import decode_state

__all__ = ["Pushed", "Version", "current_state", "force_unlock", "history", "protected_files", "pull",
           "pulled", "push", "save_plan"]


def current_state(session: Session) -> State:
    """The state as stored (an error when there is none yet)."""
    store = session.locate()
    state = store.load(session.spec.integration)
    if not state.persisted:
        raise ExoformError(f"no state at {store.where}: nothing has been applied for this integration yet")
    return state


def protected_files(session: Session) -> dict[Path, str]:
    """exoform's own files of this config that a saved plan must never replace."""
    files = {Path(session.spec.source): "the config file"}
    if session.store.backend.kind == "local":
        state = session.store.path
        files.update({state: "the state file", backup_path(state): "the state's backup",
                      lock_path(state): "the state's lock file"})
    if session.spec.tenant.provider == "sandbox":
        tenant = Path(session.spec.tenant.options["sandbox_file"])
        files.update({tenant: "the sandbox tenant file", lock_path(tenant): "the sandbox tenant's lock file"})
    return files


def save_plan(session: Session, plan: Plan, path: Path) -> None:
    """Write `plan` to `path`, refusing a folder and any of exoform's own files."""
    if path.is_dir():
        raise ExoformError(f"--out {path} is a folder; give the path of the plan file to write, "
                           f"e.g. {path / 'change.plan'}")
    target = path.resolve()
    for protected, what in protected_files(session).items():
        if protected.resolve() == target:
            raise ExoformError(f"--out {path} is {what}; a saved plan must not replace it. Choose "
                               "another file name (e.g. change.plan); nothing was written")
    write_plan(path, plan, session.codec)


def force_unlock(session: Session, lock_id: str, *, force: bool) -> Unlocked:
    """Break the lock `lock_id` names: refused while its holder still runs on this host unless
    `force` (the same rule for every backend)."""
    store = session.locate()
    holder = store.backend.holder(store.key)
    if holder is not None and holder.id == lock_id and holder.alive() and not force:
        raise LockError(f"the lock is held by {holder.describe()}, which is still running on this "
                        "host; wait for it or stop it (force-unlock --force breaks the lock anyway, "
                        "at the risk of two commands changing the tenant at once)")
    return store.backend.force_unlock(store.key, lock_id, force=force)


def history(session: Session) -> tuple[Version, ...]:
    store = session.locate()
    return store.backend.history(store.key)


def pulled(session: Session, serial: int | None = None) -> State:
    """The current state, or the version with `serial` from the history."""
    store = session.locate()
    if serial is None:
        return current_state(session)
    data = store.backend.read_version(store.key, serial)
    if data is None:
        kept = ", ".join(str(v.serial) for v in store.backend.history(store.key)) or "none"
        raise ExoformError(f"{store.where} keeps no version with serial {serial} (kept: {kept})")
    return store.decode(data)


def pull(session: Session, target: Path, serial: int | None = None) -> State:
    """Write the state (decrypted: a file for people and tools) to `target`, 0600."""
    state = pulled(session, serial)
    if target.is_dir():
        raise ExoformError(f"{target} is a folder; give the path of the file to write")
    for protected, what in protected_files(session).items():
        if protected.resolve() == target.resolve():
            raise ExoformError(f"{target} is {what}; choose another file (nothing was written)")
    refuse_link(target, "state")
    try:
        atomic_write_json(target, to_json(state))
    except OSError as error:
        raise write_failure(target, "state", error) from None
    return state


@dataclass(frozen=True)
class Pushed:
    state: State
    replaced: State | None  # what the backend held before


def push(session: Session, source: Path, *, force: bool) -> Pushed:
    """Replace the stored state with the file at `source`: refused for another integration or
    tenant, and (unless `force`) for another lineage or an older serial. The serial still only
    goes forward."""
    with session.connected(), session.locked("exoform state push") as store:
        current = store.load(session.spec.integration)
        data = read_regular(source, "state")
        if data is None:
            raise ExoformError(f"{source} not found")
        # A pulled file is plain; an encrypted one must carry this config's key.
        pushed = decode_state(data, str(source), store.codec if peek_meta(data) and
                              is_envelope(json.loads(data)) else PLAIN)
        _check_push(session, store.where, current, pushed, force)
        saved = store.save(dataclasses.replace(pushed, tenant=pushed.tenant or session.identity))
    return Pushed(saved, current if current.persisted else None)


def _check_push(session: Session, where: str, current: State, pushed: State, force: bool) -> None:
    if pushed.integration != session.spec.integration:
        raise StateError(f"the file is the state of integration '{pushed.integration}', not "
                         f"'{session.spec.integration}'; nothing was pushed")
    identity = session.identity
    if pushed.tenant and identity and (pushed.tenant.provider, pushed.tenant.tenant_id) != (identity.provider, identity.tenant_id):
        raise StateError(f"the file belongs to {pushed.tenant.describe()}, not {identity.describe()}; "
                         "nothing was pushed")
    if not current.persisted or force:
        return
    if pushed.lineage != current.lineage:
        raise StateError(f"the file has lineage {pushed.lineage}, but {where} has {current.lineage}: "
                         "it is another state. Nothing was pushed (--force replaces it anyway)")
    if pushed.serial < current.serial:
        raise StateError(f"the file has serial {pushed.serial}, older than {where} ({current.serial}). "
                         "Nothing was pushed (--force replaces it anyway)")
