"""Matching the tenant's objects to exoform's addresses: by the Guid state recorded, else by
Exchange name when the object carries this integration's ownership marker. A desired name held
by an object exoform does not own is a conflict, never silently taken over — unless `adopt` is
asked for (`exoform import`, `--adopt`) and the object carries no marker at all.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from exoform.engine.kinds import managed_view, normalize_ip
from exoform.engine.model import Address, Kind, Resource
from exoform.engine.ownership import owner
from exoform.engine.plan import Diagnostic, Severity
from exoform.engine.state import State

DEFAULT_POLICY = "Default"


@dataclass(frozen=True)
class Observed:
    """What the tenant holds for one address."""

    address: Address
    actual: Resource | None
    priority: int | None = None
    adopted: bool = False  # ours by marker, not yet in state
    unmarked: bool = False  # adopted by name alone (--adopt): it carries no marker yet
    policy_entries: tuple[str, ...] = ()  # allowlist: the whole IPAllowList as read
    owned_entries: tuple[str, ...] = ()  # allowlist: entries exoform added


def observe(
    read: Mapping[str, Sequence[Mapping[str, Any]]],
    desired: Sequence[Resource],
    state: State,
    adopt: bool = False,
) -> tuple[dict[Address, Observed], list[Diagnostic]]:
    """Observed objects for every desired or state address, plus conflicts found. With `adopt`,
    an unmarked object holding a desired name is taken over instead of being a conflict."""
    wanted = {r.address: r for r in desired}
    interrupted = _interrupted(state)
    addresses = sorted(set(wanted) | {r.address for r in state.resources} | set(interrupted))
    observed: dict[Address, Observed] = {}
    diagnostics: list[Diagnostic] = []
    claimed: set[str] = set()
    for address in addresses:
        objects = read.get(address.kind.exchange_type, ())
        if address.kind is Kind.CONNECTION_FILTER_ALLOWLIST:
            observed[address] = _observe_allowlist(address, objects, state)
            continue
        found, problem = _match(address, objects, wanted.get(address), state, adopt)
        if found is None and problem is None and interrupted.get(address):
            found = _ours_by_name(address, objects, interrupted[address], state.integration)
        if problem:
            diagnostics.append(problem)
        if found is not None:
            claimed.add(str(found.get("Guid")))
        observed[address] = _observed(address, found, state)
        if found is not None and owner(address.kind, found) is None and state.get(address) is None:
            observed[address] = dataclasses.replace(observed[address], unmarked=True)
    diagnostics += _strays(read, claimed, state.integration)
    return observed, diagnostics


def _observed(address: Address, obj: Mapping[str, Any] | None, state: State) -> Observed:
    if obj is None:
        return Observed(address, None)
    resource = Resource(address, managed_view(address.kind, obj), guid=_guid(obj))
    priority = obj.get("Priority")
    return Observed(
        address,
        resource,
        priority=int(priority) if isinstance(priority, (int, str)) and str(priority).isdigit() else None,
        adopted=state.get(address) is None,
    )


def _guid(obj: Mapping[str, Any]) -> str | None:
    guid = obj.get("Guid")
    return str(guid) if guid else None


def _match(
    address: Address,
    objects: Sequence[Mapping[str, Any]],
    want: Resource | None,
    state: State,
    adopt: bool = False,
) -> tuple[Mapping[str, Any] | None, Diagnostic | None]:
    record = state.get(address)
    if record and record.guid:
        for obj in objects:
            if str(obj.get("Guid")) == record.guid:
                return obj, None
    integration = state.integration
    for name in _candidate_names(want, record):
        obj = _by_name(objects, name)
        if obj is None:
            continue
        if owner(address.kind, obj) == integration or (adopt and owner(address.kind, obj) is None):
            return obj, None
        return None, _conflict(address, obj, integration)
    return None, None


def _interrupted(state: State) -> dict[Address, str]:
    """The address of an interrupted run's pending call, with the name it was creating (New-):
    its effect may be unrecorded (an object, allow-list entries), so even a plan that wants
    nothing there must look, and find a created object by its name."""
    pending = state.pending
    if pending is None:
        return {}
    try:
        address = Address.parse(pending.address)
    except ValueError:
        return {}
    return {address: pending.identity if pending.cmdlet.startswith("New-") else ""}


def _ours_by_name(address: Address, objects: Sequence[Mapping[str, Any]], name: str,
                  integration: str) -> Mapping[str, Any] | None:
    obj = _by_name(objects, name)
    return obj if obj is not None and owner(address.kind, obj) == integration else None


def _candidate_names(want: Resource | None, record: Any) -> list[str]:
    names = []
    if record is not None:
        names.append(record.exchange_name)
    if want is not None and want.exchange_name.casefold() not in {n.casefold() for n in names}:
        names.append(want.exchange_name)
    return names


def _by_name(objects: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    folded = name.casefold()
    for obj in objects:
        if str(obj.get("Name", "")).casefold() == folded:
            return obj
    return None


def _conflict(address: Address, obj: Mapping[str, Any], integration: str) -> Diagnostic:
    other = owner(address.kind, obj)
    if other:
        advice = ("exoform never takes over another integration's object: set gateway.name_prefix "
                  "to another prefix, or destroy that integration first.")
    else:
        advice = ("To take it over (e.g. it comes from the vendor's wizard or an earlier manual "
                  "install), run `exoform import` or plan/apply with --adopt: exoform then updates it "
                  "to match the configuration. Otherwise set gateway.name_prefix to another prefix.")
    held = f"integration '{other}'" if other else "no exoform integration (created by hand?)"
    return Diagnostic(
        Severity.ERROR,
        "name_conflict",
        f"the tenant already has a {address.kind.exchange_type} named '{obj.get('Name')}', "
        f"owned by {held}. {advice}",
        str(address),
    )


def _observe_allowlist(
    address: Address, objects: Sequence[Mapping[str, Any]], state: State
) -> Observed:
    policy = _by_name(objects, DEFAULT_POLICY)
    if policy is None:
        return Observed(address, None)
    raw = policy.get("IPAllowList") or ()
    entries = tuple(sorted({normalize_ip(e) for e in ([raw] if isinstance(raw, str) else raw)}))
    record = state.get(address)
    owned = set(record.owned_entries) if record else set()
    pending = state.pending
    if pending and pending.address == str(address):
        # An interrupted edit: what it added is ours if it is there, what it removed is gone.
        owned |= set(pending.add) & set(entries)
        owned -= set(pending.remove) - set(entries)
    resource = Resource(address, (("IPAllowList", entries), ("Name", DEFAULT_POLICY)))
    return Observed(
        address,
        resource,
        policy_entries=entries,
        owned_entries=tuple(sorted(owned & set(entries))),
        adopted=False,
    )


def _strays(
    read: Mapping[str, Sequence[Mapping[str, Any]]], claimed: set[str], integration: str
) -> list[Diagnostic]:
    """Objects marked as this integration's that no address accounts for."""
    found = []
    for kind in (Kind.INBOUND_CONNECTOR, Kind.OUTBOUND_CONNECTOR, Kind.TRANSPORT_RULE):
        for obj in read.get(kind.exchange_type, ()):
            if owner(kind, obj) == integration and str(obj.get("Guid")) not in claimed:
                found.append(
                    Diagnostic(
                        Severity.WARNING,
                        "stray_object",
                        f"{kind.exchange_type} '{obj.get('Name')}' carries this integration's "
                        "marker but matches no resource in config or state (left by an earlier "
                        "run under another name prefix?); exoform leaves it alone — remove it "
                        "in the Exchange admin center if it is not needed.",
                    )
                )
    return found
