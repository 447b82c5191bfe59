"""The allow-list handler by hand on the tenant model: only add/remove edits, ownership of the
entries exoform added (never an admin's, even an equal one), undo, import with claimed entries,
drift when an entry of ours is removed, and the limits checked before any call."""
from __future__ import annotations

import ipaddress

from exoform.engine.blueprint import ALLOWLIST
from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.kinds import handler
from exoform.engine.kinds.allowlist import ALLOWLIST_LIMIT
from exoform.engine.kinds.base import DiffOptions, ObserveContext, PlanContext
from exoform.engine.model import Action
from exoform.engine.state import State
from support.kinds import INTEGRATION, change_for, desired, read_of, run, tenant, undo

ADMIN = ["192.0.2.0/24", "203.0.113.0/24"]  # the admin already lists one of our ranges


def policy(entries: list[str]) -> dict[str, object]:
    return {"HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default", "IPAllowList": entries}]}


def test_only_missing_entries_are_added_and_only_ours_become_owned() -> None:
    model, state = tenant(**policy(ADMIN)), State.new(INTEGRATION)
    change = change_for(model, ALLOWLIST, desired(ALLOWLIST), state)
    assert change is not None and change.action is Action.CREATE and change.edit is not None
    assert change.edit.add == ("198.51.100.7",) and change.edit.remove == ()
    state, done = run(model, change, state)
    (call, _), = done
    assert isinstance(call.args["IPAllowList"], ListEdit) and call.args["IPAllowList"].add == ("198.51.100.7",)
    assert state.get(ALLOWLIST).owned_entries == ("198.51.100.7",)  # type: ignore[union-attr]
    undo(model, change, done)
    assert read_of(model).default_policy()["IPAllowList"] == ADMIN  # type: ignore[index]


def test_destroy_removes_only_the_owned_entries() -> None:
    model, state = tenant(**policy(ADMIN)), State.new(INTEGRATION)
    state, _ = run(model, change_for(model, ALLOWLIST, desired(ALLOWLIST), state), state)
    change = change_for(model, ALLOWLIST, None, state)
    assert change is not None and change.action is Action.DELETE and change.edit.remove == ("198.51.100.7",)  # type: ignore[union-attr]
    state, _ = run(model, change, state)
    assert state.get(ALLOWLIST) is None
    assert read_of(model).default_policy()["IPAllowList"] == ADMIN  # type: ignore[index]


def test_import_claims_only_entries_present_and_drift_sees_ours_removed() -> None:
    model, state = tenant(**policy([*ADMIN, "198.51.100.7"])), State.new(INTEGRATION)
    kind = handler(ALLOWLIST.kind)
    change = change_for(model, ALLOWLIST, desired(ALLOWLIST), state)
    record = kind.import_record(change, ["198.51.100.7", "9.9.9.9"])  # type: ignore[arg-type]
    assert record is not None and record.owned_entries == ("198.51.100.7",)
    state = state.put(record)
    model.invoke(CmdletCall.of("Set-HostedConnectionFilterPolicy",
                               {"Identity": "Default", "IPAllowList": ListEdit(remove=("198.51.100.7",))}))
    seen = kind.observe(read_of(model), ALLOWLIST, None, ObserveContext(INTEGRATION, state)).observed
    drift = kind.drift(record, seen)
    assert drift is not None and drift.status.value == "entries_removed" and "198.51.100.7" in drift.detail


def test_the_entry_limit_is_checked_before_any_call() -> None:
    full = [str(ipaddress.IPv4Address("11.0.0.0") + i) for i in range(ALLOWLIST_LIMIT)]
    model, state = tenant(**policy(full)), State.new(INTEGRATION)
    kind = handler(ALLOWLIST.kind)
    seen = kind.observe(read_of(model), ALLOWLIST, desired(ALLOWLIST), ObserveContext(INTEGRATION, state)).observed
    change = kind.diff(ALLOWLIST, desired(ALLOWLIST), seen, None, DiffOptions())
    ctx = PlanContext(read_of(model), INTEGRATION, state, {ALLOWLIST: seen}, {ALLOWLIST: desired(ALLOWLIST)},
                      {ALLOWLIST: desired(ALLOWLIST)})
    codes = {d.code for d in kind.checks(ALLOWLIST, change, ctx)}
    assert codes == {"allowlist_full", "allowlist_cis"}
