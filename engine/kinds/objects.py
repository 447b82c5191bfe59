"""Behaviour shared by exoform's named objects (connectors and transport rules): matched by the
Guid state recorded, else by Exchange name when the object carries this integration's marker;
created with New-, updated with Set- (coupled parameters travel together), removed with
Remove-; every call recorded in state and undone from the before-image.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.drift import AttributeDrift, DriftStatus, ResourceDrift
from exoform.engine.kinds.base import (
    APPLY,
    DESTROY,
    Conflict,
    DiffOptions,
    KindHandler,
    Observation,
    ObserveContext,
    Observed,
    Result,
)
from exoform.engine.model import Action, Address, Resource, attrs_dict, freeze_attrs, json_value
from exoform.engine.outcome import Leftover, LeftoverKind
from exoform.engine.plan import Reason, ResourceChange, StepOp
from exoform.engine.ownership import owner
from exoform.engine.read import Obj, TenantRead, name_of, priority_of
from exoform.engine.state import State, StateResource

# Parameters that must be sent together when either changes.
COUPLED = (
    {"SetHeaderName", "SetHeaderValue"},
    {"ExceptIfHeaderContainsMessageHeader", "ExceptIfHeaderContainsWords"},
    {"IsTransportRuleScoped", "RecipientDomains"},
    {"UseMXRecord", "SmartHosts"},
)


def call_value(value: Any) -> Any:
    return json_value(value) if isinstance(value, tuple) else value


class ObjectHandler(KindHandler):
    """A kind whose objects are named, marked with exoform's comment and fully owned."""

    # ---- observe ------------------------------------------------------------------------

    def observe(self, read: TenantRead, address: Address, want: Resource | None,
                ctx: ObserveContext) -> Observation:
        record = ctx.state.get(address)
        found, problem = self._match(read, address, want, record, ctx)
        if found is None and problem is None and ctx.creating.get(address):
            found = self._ours_by_name(read, ctx.creating[address], ctx.integration)
        seen = self._observed(address, found, record, ctx.integration)
        if found is not None and read.owner(self.kind, found) is None and record is None:
            seen = dataclasses.replace(seen, unmarked=True)
        claimed = str(found.get("Guid")) if found is not None else None
        return Observation(seen, problem, claimed)

    def observe_object(self, address: Address, obj: Any, ctx: ObserveContext) -> Observed:
        return dataclasses.replace(self._observed(address, obj, None, ctx.integration), by_marker=True)

    def _match(self, read: TenantRead, address: Address, want: Resource | None,
               record: StateResource | None, ctx: ObserveContext) -> tuple[Obj | None, Conflict | None]:
        if record and record.guid:
            obj = read.by_guid(self.kind, record.guid)
            if obj is not None:
                return self._recorded(read, address, obj, want, record, ctx)
        for name in _candidate_names(want, record):
            obj = read.by_name(self.kind, name)
            if obj is None:
                continue
            holder = read.owner(self.kind, obj)
            if holder == ctx.integration or (ctx.adopt and holder is None):
                return obj, None
            return None, Conflict(address, name_of(obj), holder)
        return None, None

    def _recorded(self, read: TenantRead, address: Address, obj: Obj, want: Resource | None,
                  record: StateResource, ctx: ObserveContext) -> tuple[Obj | None, Conflict | None]:
        """The object the recorded Guid names - unless it is not ours: another integration's, or
        an unmarked object under a name neither the record nor the config gives (a forged or
        foreign state must never steer exoform onto an admin's object)."""
        holder = read.owner(self.kind, obj)
        names = {record.exchange_name.casefold()} | ({want.exchange_name.casefold()} if want else set())
        if holder == ctx.integration or (holder is None and name_of(obj).casefold() in names):
            return obj, None
        return None, Conflict(address, name_of(obj), holder, by_record=True)

    def _ours_by_name(self, read: TenantRead, name: str, integration: str) -> Obj | None:
        obj = read.by_name(self.kind, name)
        return obj if obj is not None and read.owner(self.kind, obj) == integration else None

    def _observed(self, address: Address, obj: Obj | None, record: StateResource | None,
                  integration: str) -> Observed:
        if obj is None:
            return Observed(address, None)
        guid = str(obj["Guid"]) if obj.get("Guid") else None
        resource = Resource(address, self.schema.managed_view(obj), guid=guid)
        return Observed(address, resource, priority=priority_of(obj), adopted=record is None,
                        marked=owner(self.kind, obj) == integration)

    # ---- diff ---------------------------------------------------------------------------

    def diff(self, address: Address, want: Resource | None, seen: Observed,
             record: StateResource | None, options: DiffOptions) -> ResourceChange | None:
        have = seen.actual
        if want is None:
            if have is None:
                return None
            return self._change(Action.DELETE, have, None, (), Reason.NOT_IN_CONFIG, seen)
        if have is None:
            reason = Reason.DELETED_OUTSIDE if record else Reason.NOT_IN_TENANT
            return self._change(Action.CREATE, None, want, (), reason, seen)
        before, after = attrs_dict(have.attributes), attrs_dict(want.attributes)
        after, changed = self.adjust(before, after, self.schema.changed(before, after), options)
        for name in set(changed) & self.schema.owned - set(after):
            after[name] = self.schema.default_of(name)  # cleared: shown and sent as its default
        want = Resource(address, freeze_attrs(after), want.dependencies)
        forced = tuple(a for a in changed if a in self.schema.force_new)
        if forced:
            replace = Action.CREATE_THEN_DELETE if self.schema.create_before_destroy else Action.REPLACE
            change = self._change(replace, have, want, changed, Reason.CANNOT_UPDATE, seen)
            return dataclasses.replace(change, requires_replace=forced)
        if changed:
            reason = Reason.DRIFTED if record and self._drifted(record, have) else Reason.CONFIG_CHANGED
            if seen.unmarked:
                reason = Reason.ADOPTED_BY_NAME
            return self._change(Action.UPDATE, have, want, changed, reason, seen)
        reason = Reason.ADOPTED_BY_MARKER if seen.adopted else Reason.UP_TO_DATE
        return self._change(Action.NOOP, have, want, (), reason, seen)

    def adjust(self, before: dict[str, Any], after: dict[str, Any], changed: tuple[str, ...],
               options: DiffOptions) -> tuple[dict[str, Any], tuple[str, ...]]:
        """A kind's say in what the desired attributes become (rules keep admin enabling)."""
        return after, changed

    def _drifted(self, record: StateResource, have: Resource) -> bool:
        """The tenant no longer matches what exoform last applied."""
        return bool(self.schema.changed(dict(record.attributes), dict(have.attributes)))

    def _change(self, action: Action, have: Resource | None, want: Resource | None,
                changed: tuple[str, ...], reason: Reason, seen: Observed) -> ResourceChange:
        name = (want or have).exchange_name  # type: ignore[union-attr]
        return ResourceChange(
            address=seen.address, action=action, exchange_name=name,
            before=have.attributes if have else None,
            after=want.attributes if want else None,
            changed=changed, dependencies=want.dependencies if want else (), reason=reason,
            guid=have.guid if have else None, before_priority=seen.priority,
            adopted=seen.adopted and have is not None,
        )

    # ---- lowering -----------------------------------------------------------------------

    def lower(self, phase: str, change: ResourceChange) -> list[tuple[StepOp, CmdletCall]]:
        identity = self.identity(change)
        if phase == DESTROY:
            return [(StepOp.DELETE, self.remove_call(identity))]
        if phase != APPLY:
            return []
        if change.action.creates:
            return [(StepOp.CREATE, self.new_call(change.after_dict))]
        call = self.set_call(identity, change.after_dict, change.changed)
        return [(StepOp.UPDATE, call)] if call is not None else []

    def identity(self, change: ResourceChange) -> str:
        return change.guid or str(change.before_dict.get("Name", change.exchange_name))

    def new_call(self, attrs: Mapping[str, Any], priority: int | None = None) -> CmdletCall:
        """`New-<Type>` creating the object with every set attribute."""
        params = {k: call_value(v) for k, v in attrs.items() if v is not None and v != ()}
        return CmdletCall.of(f"New-{self.kind.exchange_type}", params)

    def set_call(self, identity: str, attrs: Mapping[str, Any], changed: tuple[str, ...],
                 priority: int | None = None) -> CmdletCall | None:
        """`Set-<Type>` with the changed attributes (None clears), or None if nothing to send."""
        names = self.settable(set(changed), attrs)
        params: dict[str, Any] = {name: call_value(attrs[name] if name in attrs else self.schema.default_of(name))
                                  for name in sorted(names)}
        if params == {} and priority is None:
            return None
        if priority is not None:
            params["Priority"] = priority
        params["Identity"] = identity
        return CmdletCall.of(f"Set-{self.kind.exchange_type}", params)

    def settable(self, names: set[str], attrs: Mapping[str, Any]) -> set[str]:
        """The parameters a Set- must carry for these changed attributes."""
        for group in COUPLED:
            if names & group:
                names |= group & set(attrs)
        return names

    def remove_call(self, identity: str) -> CmdletCall:
        return CmdletCall.of(f"Remove-{self.kind.exchange_type}", {"Identity": identity, "Confirm": False})

    # ---- applying -------------------------------------------------------------------------

    def record(self, state: State, change: ResourceChange, call: CmdletCall,
               result: Result) -> State:
        verb = call.verb
        if verb == "Remove":
            return self._forget(state, change, call)
        if verb == "New":
            state = state.put(self._created(change, call, result))
            if change.action is Action.CREATE_THEN_DELETE and change.before is not None:
                # The old object stays until this change removes it: keep it in state, so a
                # run stopped in between still removes it (and rules can be re-pointed first).
                state = state.put(StateResource(change.address.deposed(), self.identity_name(change),
                                                change.guid, change.before))
            return state
        base = state.get(change.address) or self.sync_record(change)
        attrs = self.recorded(dict(base.attributes), change, call)
        attrs.pop("Identity", None)
        attrs.pop("Priority", None)
        name = str(attrs.get("Name") or base.exchange_name)  # a Set- may rename in place
        return state.put(dataclasses.replace(base, exchange_name=name, attributes=freeze_attrs(attrs)))

    def _forget(self, state: State, change: ResourceChange, call: CmdletCall) -> State:
        """The address's record goes with the object removed - unless it records the
        replacement created before the old object was removed (then the old one's deposed
        record goes)."""
        if change.address.is_deposed:
            return state.drop(change.address)
        record = state.get(change.address)
        removed = str(call.args.get("Identity", "")).casefold()
        if record is not None and record.guid and removed not in (record.guid.casefold(),
                                                                   record.exchange_name.casefold()):
            return state.drop(change.address.deposed())
        return state.drop(change.address)

    def identity_name(self, change: ResourceChange) -> str:
        return str(change.before_dict.get("Name") or change.exchange_name)

    def recorded(self, attrs: dict[str, Any], change: ResourceChange, call: CmdletCall) -> dict[str, Any]:
        """The record's attributes after a Set- (or another in-place call) succeeded."""
        for key, value in call.args.items():
            if key in attrs or key in change.after_dict:
                attrs[key] = tuple(value) if isinstance(value, list) else value
        return attrs

    def created_attrs(self, args: dict[str, Any]) -> dict[str, Any]:
        """The attributes a New- call gave the object, as the state keeps them."""
        args.pop("Priority", None)
        return args

    def _created(self, change: ResourceChange, call: CmdletCall, result: Result) -> StateResource:
        created = result[0] if result else {}
        attrs = self.created_attrs(dict(call.args))
        full = {k: None for k in (change.after_dict or change.before_dict)}
        full.update(attrs)
        return StateResource(
            address=change.address, exchange_name=str(attrs.get("Name", change.exchange_name)),
            guid=str(created["Guid"]) if created.get("Guid") else None,
            attributes=freeze_attrs(full), dependencies=change.dependencies,
        )

    def inverse(self, change: ResourceChange, call: CmdletCall, result: Result) -> CmdletCall:
        """The call that undoes `call` (which succeeded with `result`), restoring `before`."""
        args = call.args
        if call.verb == "New":
            created = result[0] if result else {}
            return self.remove_call(str(created.get("Guid") or args["Name"]))
        if call.verb == "Remove":
            return self.new_call(change.before_dict, change.before_priority)
        changed = tuple(k for k in args if k not in ("Identity", "Priority"))
        priority = change.before_priority if "Priority" in args else None
        restored = self.set_call(str(args["Identity"]), change.before_dict, changed, priority)
        assert restored is not None  # a Set always carries at least one parameter
        return restored

    # ---- drift ------------------------------------------------------------------------------

    def drift(self, record: StateResource, seen: Observed) -> ResourceDrift | None:
        address, name = str(record.address), record.exchange_name
        if seen.actual is None:
            return ResourceDrift(address, name, DriftStatus.DELETED, detail="deleted outside exoform")
        last, now = attrs_dict(record.attributes), attrs_dict(seen.actual.attributes)
        changed = self.schema.changed(last, now)
        if not changed:
            return None
        hidden = self.schema.sensitive
        attributes = tuple(AttributeDrift(a, last.get(a), now.get(a), a in hidden) for a in changed)
        return ResourceDrift(address, name, DriftStatus.CHANGED, attributes, detail="changed outside exoform")

    # ---- rollback verification ------------------------------------------------------------

    def picture(self, read: TenantRead) -> Any:
        """Objects keyed by their case-folded name (Exchange's comparison), each with the name as
        the tenant spells it, so a leftover names the object as an admin sees it."""
        return {name_of(o).casefold(): (name_of(o), self.schema.normalize(o)) for o in read.objects(self.kind)}

    def compare(self, before: Any, after: Any) -> list[Leftover]:
        found = []
        noun = self.kind.exchange_type
        for key in sorted(set(before) | set(after)):
            name = (before.get(key) or after[key])[0]
            if key not in after:
                found.append(Leftover(LeftoverKind.MISSING, noun, name))
            elif key not in before:
                found.append(Leftover(LeftoverKind.STILL_PRESENT, noun, after[key][0]))
            elif before[key][1] != after[key][1]:
                old, new = before[key][1], after[key][1]
                found.append(Leftover(LeftoverKind.DIFFERS, noun, name, tuple(sorted(k for k in old if old[k] != new.get(k)))))
        return found


def _candidate_names(want: Resource | None, record: StateResource | None) -> list[str]:
    names = []
    if record is not None:
        names.append(record.exchange_name)
    if want is not None and want.exchange_name.casefold() not in {n.casefold() for n in names}:
        names.append(want.exchange_name)
    return names
