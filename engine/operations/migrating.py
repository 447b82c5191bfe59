"""`state migrate`: after a config's `backend` (or `encryption`) block changed, copy the state
from where the previous config kept it to where this one does - same integration and tenant,
lineage kept, never over a different or newer state, verified by reading it back. The old copy
stays where it was; key rotation is a migrate between two keys on one backend.
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from exoform.engine.errors import StateError
from exoform.engine.operations.session import Session
from exoform.engine.state import State
from exoform.engine.statefile import StateStore


@dataclass(frozen=True)
class Migrated:
    state: State
    source: str
    target: str
    copied: bool  # False: the target already held this very state


def migrate(session: Session, previous: Session) -> Migrated:
    """Copy `previous`'s state (the config as it was) into `session`'s backend."""
    if previous.spec.integration != session.spec.integration:
        raise StateError(f"{previous.spec.source} configures integration '{previous.spec.integration}', "
                         f"not '{session.spec.integration}'; migrate moves one integration's state")
    with ExitStack() as stack:
        stack.enter_context(session.connected())
        identity = session.identity
        if identity is not None:
            previous.store.bind(identity)
            previous.identity = identity
        source, target = previous.store, session.store
        for _, store in sorted({s.where: s for s in (source, target)}.items()):
            stack.enter_context(store.locked("exoform state migrate", session.lock_timeout))
        state = source.load(session.spec.integration)
        if not state.persisted:
            raise StateError(f"there is no state at {source.where} (the previous config's); nothing to migrate")
        if source.where == target.where and source.codec.key_id == target.codec.key_id:
            raise StateError(f"{previous.spec.source} and {session.spec.source} keep the state in the "
                             f"same place ({target.where}) the same way; nothing to migrate")
        copied = _copy(state, source, target)
    return Migrated(state, source.where, target.where, copied)


def _copy(state: State, source: StateStore, target: StateStore) -> bool:
    same_place = source.where == target.where
    existing = target.load(state.integration) if not same_place else None
    if existing is not None and existing.persisted:
        if existing.lineage != state.lineage:
            raise StateError(f"{target.where} holds a different state (lineage {existing.lineage}, not "
                             f"{state.lineage}); refusing to overwrite it (nothing was changed)")
        if existing.serial > state.serial:
            raise StateError(f"{target.where} holds a newer version of this state (serial "
                             f"{existing.serial} > {state.serial}); refusing to overwrite it")
        if existing.same_content(state) and existing.serial == state.serial:
            return False
    if same_place:  # re-encoded in place: the conditional write replaces the version read
        target.read_as(state)
    written = target.save(state, rewrite=same_place)
    _verify(target, written)
    return True


def _verify(target: StateStore, written: State) -> None:
    stored = target.stored()
    back = target.decode(stored.data) if stored is not None else None
    if back is None or not back.same_content(written) or back.lineage != written.lineage:
        raise StateError(f"the state written to {target.where} did not read back the same; the old "
                         "copy was left as it was")


def previous_session(session: Session, config: Path) -> Session:
    """A session on the previous config, with the same reporter and providers."""
    return Session.open(config, session.reporter, session.providers, token_cache=session.token_cache,
                        prompt=session.prompt, lock_timeout=session.lock_timeout)
