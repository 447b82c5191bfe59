"""How each completed tenant call changes the state: a create records the new object (Guid,
attributes as applied), an update merges what was sent, a delete forgets the object, an
allowlist edit adds or drops the entries exoform owns.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.model import Kind, freeze_attrs
from exoform.engine.plan import ResourceChange
from exoform.engine.state import State, StateResource


def record_call(
    state: State, change: ResourceChange, call: CmdletCall, result: list[dict[str, Any]]
) -> State:
    """The state after `call` (made for `change`) succeeded with `result`."""
    address = change.address
    if address.kind is Kind.CONNECTION_FILTER_ALLOWLIST:
        return _record_allowlist(state, change, call.args["IPAllowList"])
    verb = call.verb
    if verb == "Remove":
        return state.drop(address)
    if verb == "New":
        return state.put(_created(change, call, result))
    base = _current(state, change)
    attrs = dict(base.attributes)
    if verb in ("Enable", "Disable"):
        attrs["State"] = "Enabled" if verb == "Enable" else "Disabled"
    else:
        for key, value in call.args.items():
            if key in attrs or key in change.after_dict:
                attrs[key] = value if not isinstance(value, list) else tuple(value)
    attrs.pop("Identity", None)
    attrs.pop("Priority", None)
    return state.put(_with(base, attributes=freeze_attrs(attrs)))


def _created(change: ResourceChange, call: CmdletCall, result: list[dict[str, Any]]) -> StateResource:
    created = result[0] if result else {}
    attrs = dict(call.args)
    attrs.pop("Priority", None)
    enabled = attrs.pop("Enabled", None)
    if change.address.kind is Kind.TRANSPORT_RULE:
        attrs["State"] = "Enabled" if enabled in (True, None) else "Disabled"
    elif enabled is not None:
        attrs["Enabled"] = enabled
    full = {k: None for k in (change.after_dict or change.before_dict)}
    full.update(attrs)
    return StateResource(
        address=change.address,
        exchange_name=str(attrs.get("Name", change.exchange_name)),
        guid=str(created["Guid"]) if created.get("Guid") else None,
        attributes=freeze_attrs(full),
        dependencies=change.dependencies,
    )


def _current(state: State, change: ResourceChange) -> StateResource:
    """The state record to update; an adopted object starts from what was read."""
    existing = state.get(change.address)
    if existing is not None:
        return existing
    return sync_record(change)


def sync_record(change: ResourceChange) -> StateResource:
    """The state record of an object that exists as `change.before` describes (no call)."""
    attrs = change.before if change.before is not None else change.after
    return StateResource(
        address=change.address,
        exchange_name=change.exchange_name,
        guid=change.guid,
        attributes=attrs or (),
        dependencies=change.dependencies,
        owned_entries=change.owned_before,
    )


def _with(base: StateResource, **fields: Any) -> StateResource:
    return dataclasses.replace(base, **fields)


def _record_allowlist(state: State, change: ResourceChange, edit: ListEdit) -> State:
    existing = state.get(change.address)
    owned = set(existing.owned_entries if existing else change.owned_before)
    owned = (owned | set(edit.add)) - set(edit.remove)
    if change.after is None and not owned:
        return state.drop(change.address)
    entries = change.after_dict.get("IPAllowList") or ()
    record = StateResource(
        address=change.address,
        exchange_name="Default",
        guid=None,
        attributes=freeze_attrs({"Name": "Default", "IPAllowList": entries}),
        owned_entries=tuple(sorted(owned)),
    )
    return state.put(record)
