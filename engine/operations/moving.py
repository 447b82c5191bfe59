"""Recovery commands that touch markers (Terraform's `state rm` and `state mv`): forget an
object, optionally taking exoform's marker off it, and rename an integration without destroy
and re-apply - the state moves to the new key and every `[exoform:OLD]` marker (with its
allow-list listing) becomes `[exoform:NEW]`. Each marker edit is a recorded, undoable call.
"""
from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from exoform.engine.blueprint import ALLOWLIST
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import ExoformError, ProviderError, StateError
from exoform.engine.model import Address, Kind, attrs_dict, freeze_attrs
from exoform.engine.operations.session import Session
from exoform.engine.operations.stores import sibling_store
from exoform.engine.ownership import COMMENT_FIELDS, comment_field, marker
from exoform.engine.provider import READ_TYPES, Provider
from exoform.engine.read import Obj, TenantRead, name_of
from exoform.engine.state import Pending, State
from exoform.engine.statefile import StateStore


@dataclass(frozen=True)
class CommentEdit:
    """One marker edit: the object's comment goes from `before` to `after`."""

    kind: Kind
    guid: str
    name: str
    before: str
    after: str
    address: Address | None = None  # the state record that describes the object

    def call(self, value: str) -> CmdletCall:
        field = comment_field(self.kind) or "Comment"
        return CmdletCall.of(f"Set-{self.kind.exchange_type}", {"Identity": self.guid, field: value})


@dataclass(frozen=True)
class Removed:
    addresses: tuple[Address, ...]
    unmarked: tuple[str, ...]  # Exchange names whose marker was taken off
    still_marked: tuple[Address, ...]  # forgotten, but the next plan adopts them by marker


@dataclass(frozen=True)
class Moved:
    old: str
    new: str
    renamed: tuple[str, ...]  # Exchange names whose marker now names the new integration
    source: str  # where the old state was
    target: str  # where the state is now


def remove_resources(session: Session, addresses: Sequence[Address], *, remove_marker: bool) -> Removed:
    """Forget `addresses` (the objects stay in the tenant); `remove_marker` also takes exoform's
    marker off them, so no later plan of this integration adopts them again."""
    with ExitStack() as stack:
        provider = stack.enter_context(session.connected()) if remove_marker else None
        store = stack.enter_context(session.locked("exoform state rm"))
        state = _settled(session.load_state(), store)
        if not state.persisted:
            raise StateError(f"no state at {store.where}: nothing has been applied for this integration yet")
        unknown = [str(a) for a in addresses if state.get(a) is None]
        if unknown:
            known = ", ".join(str(r.address) for r in state.resources) or "none"
            raise StateError(f"not in the state {store.where}: {', '.join(unknown)} (known: {known}); "
                             "nothing was changed")
        edits: list[CommentEdit] = []
        if provider is not None:
            edits = _unmarking(TenantRead(provider.read(READ_TYPES)), state, addresses, session.spec.integration)
            state = run_edits(provider, store, state, edits)
        for address in addresses:
            state = state.drop(address)
        store.save(state)
    unmarked = {edit.address for edit in edits if edit.address in addresses}
    still = tuple(a for a in addresses if a.kind in COMMENT_FIELDS and a not in unmarked)
    return Removed(tuple(addresses), tuple(edit.name for edit in edits), still)


def _settled(state: State, store: StateStore) -> State:
    if state.pending is not None:
        raise StateError(f"the state {store.where} records an interrupted call "
                         f"({state.pending.cmdlet} '{state.pending.identity}'); run `exoform plan` "
                         "and `exoform apply` (or destroy) to settle it first; nothing was changed")
    return state


def _unmarking(read: TenantRead, state: State, addresses: Sequence[Address], integration: str) -> list[CommentEdit]:
    """The edits taking exoform's marker off each object (for the allow list: the listing of
    its entries on the inbound connector)."""
    edits = []
    for address in addresses:
        record = state.get(address)
        if address == ALLOWLIST:
            edits += _unlisting(read, state, integration)
            continue
        obj = read.by_guid(address.kind, record.guid) if record and record.guid else None
        if obj is None or read.owner(address.kind, obj) != integration:
            continue  # gone, or not ours: nothing of ours to take off
        before = _comment(address.kind, obj)
        edits.append(CommentEdit(address.kind, str(obj["Guid"]), name_of(obj), before, "", address))
    return edits


def _unlisting(read: TenantRead, state: State, integration: str) -> list[CommentEdit]:
    for kind, obj in read.marked(integration, (Kind.INBOUND_CONNECTOR,)):
        before = _comment(kind, obj)
        after = marker(integration, name_of(obj))
        if before != after:
            record = next((r for r in state.resources if r.guid == str(obj["Guid"])), None)
            return [CommentEdit(kind, str(obj["Guid"]), name_of(obj), before, after,
                                record.address if record else None)]
    return []


def _comment(kind: Kind, obj: Obj) -> str:
    """The comment as the tenant holds it (not casefolded: it is written back)."""
    return str(obj.get(comment_field(kind) or "") or "")


def run_edits(provider: Provider, store: StateStore, state: State, edits: Sequence[CommentEdit]) -> State:
    """Make each edit (a pending record before it, the result in state after it); on a failure
    undo the ones made, in reverse, and raise."""
    done: list[CommentEdit] = []
    for index, edit in enumerate(edits):
        call = edit.call(edit.after)
        state = store.save(state.with_pending(Pending(
            step=index, address=str(edit.address or ""), operation="update", cmdlet=call.name,
            identity=edit.guid, started=datetime.now(timezone.utc).isoformat(timespec="seconds"))))
        try:
            provider.invoke(call)
        except ProviderError as error:
            state = store.save(state.with_pending(None))
            left = _undo(provider, store, state, done)
            raise ExoformError(f"{error}; {left}") from None
        done.append(edit)
        state = store.save(_recorded(state, edit, edit.after).with_pending(None))
    return state


def _undo(provider: Provider, store: StateStore, state: State, done: list[CommentEdit]) -> str:
    failed = []
    for edit in reversed(done):
        try:
            provider.invoke(edit.call(edit.before))
            state = store.save(_recorded(state, edit, edit.before))
        except ProviderError:
            failed.append(edit.name)
    if failed:
        return (f"undoing the earlier edits failed for {', '.join(failed)}: run the command again "
                "to finish it")
    return f"the {len(done)} edit(s) made before it were undone; nothing was changed"


def _recorded(state: State, edit: CommentEdit, value: str) -> State:
    record = state.get(edit.address) if edit.address else None
    field = comment_field(edit.kind)
    if record is None or field is None:
        return state
    attributes = {**attrs_dict(record.attributes), field: value}
    return state.put(dataclasses.replace(record, attributes=freeze_attrs(attributes)))


def move_integration(session: Session, old: str, new: str) -> Moved:
    """Rename integration `old` to `new` on the config's tenant: the state moves to `new`'s key
    and every object marked `old` is re-marked `new` (a re-run finishes an interrupted move)."""
    if session.spec.integration not in (old, new):
        raise StateError(f"{session.spec.source} configures integration '{session.spec.integration}', "
                         f"neither '{old}' nor '{new}'; use the config of the integration to move")
    if old == new:
        raise StateError("the old and new names are the same; nothing to move")
    _check_default_sandbox(session)
    with ExitStack() as stack:
        provider = stack.enter_context(session.connected())
        source, target = sibling_store(session, old), sibling_store(session, new)
        for where, store in sorted({s.where: s for s in (source, target)}.items()):  # no deadlock
            stack.enter_context(store.locked(f"exoform state mv {old} {new}", session.lock_timeout))
        state, resumed = _moving_state(source, target, old, new)
        edits = _remarking(TenantRead(provider.read(READ_TYPES)), state, old, new, resumed=resumed)
        run_edits(provider, target, target.save(state), edits)
        if source.where != target.where:
            source.delete()
    return Moved(old, new, tuple(edit.name for edit in edits), source.where, target.where)


def _check_default_sandbox(session: Session) -> None:
    """The default sandbox tenant is named after the integration: renamed, the config would
    reach another (empty) tenant file. It must be named explicitly first."""
    spec = session.spec
    default = Path(spec.base_dir) / "state" / f"{spec.integration}.tenant.json"
    if spec.tenant.provider == "sandbox" and Path(str(spec.tenant.options.get("sandbox_file"))) == default:
        raise StateError(f"the sandbox tenant of this config is the default file {default}, which is "
                         "named after the integration; name it in the config first "
                         f'("tenant": {{"provider": "sandbox", "sandbox_file": "state/{default.name}"}}) '
                         "so the renamed integration keeps its tenant; nothing was changed")


def _moving_state(source: StateStore, target: StateStore, old: str, new: str) -> tuple[State, bool]:
    """The state under its new name, and whether an interrupted move is being finished (the
    target holds the same lineage already); any other state at the target is refused."""
    at_target = target.stored()
    if source.where == target.where:  # one file (--state, a backend path): renamed in place
        if at_target is None:
            raise StateError(f"no state for integration '{old}' at {source.where}; nothing to move")
        state = target.decode(at_target.data)
        target.load(state.integration)
        if state.integration not in (old, new):
            raise StateError(f"{target.where} belongs to integration '{state.integration}'; nothing to move")
        return dataclasses.replace(_settled(state, target), integration=new), state.integration == new
    if at_target is not None:
        moved = target.load(new)
        if source.stored() is not None and moved.lineage != source.load(old).lineage:
            raise StateError(f"a different state for '{new}' already exists at {target.where}; "
                             "nothing was changed (remove it or choose another name)")
        # An interrupted move: its pending marker edit is settled by reading the markers again.
        return moved.with_pending(None), True
    if source.stored() is None:
        raise StateError(f"no state for integration '{old}' at {source.where}; nothing to move")
    return dataclasses.replace(_settled(source.load(old), source), integration=new), False


def _remarking(read: TenantRead, state: State, old: str, new: str, *, resumed: bool) -> list[CommentEdit]:
    if not resumed and any(True for _ in read.marked(new, tuple(COMMENT_FIELDS))):
        raise StateError(f"objects in the tenant already carry the marker of an integration named "
                         f"'{new}'; choose another name (nothing was changed)")
    by_guid = {r.guid: r.address for r in state.resources if r.guid}
    edits = []
    for kind, obj in read.marked(old, tuple(COMMENT_FIELDS)):
        before = _comment(kind, obj)
        after = before.replace(f"[exoform:{old}]", f"[exoform:{new}]")
        guid = str(obj["Guid"])
        edits.append(CommentEdit(kind, guid, name_of(obj), before, after, by_guid.get(guid)))
    return sorted(edits, key=lambda e: (e.kind.value, e.name.casefold()))
