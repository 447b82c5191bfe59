"""The state-only operations: read the current state (for show and list), save a plan where it
cannot overwrite one of exoform's own files, and force-unlock a backend's lock.
"""
from __future__ import annotations

from pathlib import Path

from exoform.backends.local import backup_path
from exoform.engine.errors import ExoformError
from exoform.engine.lock import Unlocked, lock_path
from exoform.engine.operations.session import Session
from exoform.engine.plan import Plan
from exoform.engine.planfile import write_plan
from exoform.engine.state import State


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
    store = session.locate()
    return store.backend.force_unlock(store.key, lock_id, force=force)
