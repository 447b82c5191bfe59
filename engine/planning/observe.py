"""Matching the tenant's objects to exoform's addresses, one handler per kind: every desired
address, every address the state records, the address of an interrupted run's pending call
(whose effect may be unrecorded), and what the tenant's markers say is this integration's.
Marked objects no address claims are exoform's orphans (removed) when the marker names them,
else strays (a copy or a renamed object: reported, never deleted by apply).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

from exoform.engine.blueprint import address_of

from exoform.engine.kinds import HANDLERS, handler
from exoform.engine.kinds.base import Conflict, ObserveContext, Observed
from exoform.engine.model import KIND_ORDER, Address, Kind, Resource
from exoform.engine.ownership import made_as, own
from exoform.engine.plan import Diagnostic, Severity
from exoform.engine.read import TenantRead, name_of
from exoform.engine.state import State


@dataclass(frozen=True)
class Stray:
    """An object carrying this integration's marker that matches no resource."""

    kind: Kind
    name: str
    obj: Any = field(default=None, compare=False, repr=False)

    def diagnostic(self) -> Diagnostic:
        made = made_as(self.kind, self.obj) if self.obj is not None else None
        why = (f"its marker names '{made}', so it is a copy or was renamed" if made
               else "its marker, written by an older exoform, does not name the object")
        return Diagnostic(
            Severity.WARNING, "stray_object",
            f"{self.kind.exchange_type} '{self.name}' carries this integration's marker but matches "
            f"no resource in config or state, and {why}; exoform leaves it alone (`exoform destroy` "
            "removes it) — remove it in the Exchange admin center if it is not needed.",
        )


@dataclass(frozen=True)
class Observations:
    observed: dict[Address, Observed]
    conflicts: list[Conflict] = field(default_factory=list)  # desired names we may not take
    strays: list[Stray] = field(default_factory=list)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [c.diagnostic() for c in self.conflicts] + [s.diagnostic() for s in self.strays]


def creating(state: State) -> dict[Address, str]:
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


def observe_all(read: TenantRead, desired: Sequence[Resource], state: State,
                adopt: bool = False, destroying: bool = False,
                described: Sequence[Resource] = ()) -> Observations:
    """Observed objects for every desired, recorded or interrupted address. With `adopt`, an
    unmarked object holding a desired name is taken over instead of being a conflict. When
    `destroying`, every other object carrying our marker gets an address too: the tenant's
    markers, not the state, say what exoform made (a lost or partial state removes it all);
    so do the shared lists the config `described` (the allow list's entries are listed in a
    marker too)."""
    wanted = {r.address: r for r in desired}
    ctx = ObserveContext(state.integration, state, adopt, creating(state))
    shared = {r.address for r in described if not HANDLERS[r.address.kind].marked} if destroying else set()
    implied = {a for kind_handler in HANDLERS.values() for a in kind_handler.implied(read, state.integration)}
    addresses = sorted(set(wanted) | {r.address for r in state.resources} | set(ctx.creating) | shared | implied)
    out = Observations({})
    claimed: set[str] = set()
    for address in addresses:
        seen = handler(address.kind).observe(read, address, wanted.get(address), ctx)
        out.observed[address] = seen.observed
        if seen.conflict is not None:
            out.conflicts.append(seen.conflict)
        if seen.claimed is not None:
            claimed.add(seen.claimed)
    for address, name in ctx.creating.items():
        _interrupted_twin(read, out, address, name, wanted.get(address), ctx, claimed)
    for address, want in wanted.items():
        _prefer_wanted(out, address, want)
    if not destroying and not state.resources:
        _renamed(read, out, wanted, claimed, ctx)
    strays = _strays(read, claimed, state.integration)
    for stray in strays:
        if destroying:  # the markers say what exoform made: a destroy removes it all
            taken = {a for a, seen in out.observed.items() if seen.actual is not None}
            address = address_of(stray.kind, stray.name, taken)
            out.observed[address] = handler(stray.kind).observe_object(address, stray.obj, ctx)
        elif own(stray.kind, stray.obj, state.integration):
            address = _orphan_address(stray, set(out.observed))
            out.observed[address] = handler(stray.kind).observe_object(address, stray.obj, ctx)
        else:
            out.strays.append(stray)
    return out


def _orphan_address(stray: Stray, taken: set[Address]) -> Address:
    """Where an orphan of exoform's goes: the address its name's suffix gives, or (that one in
    use: a replacement stopped half-way under a lost state) that address's deposed twin."""
    base = address_of(stray.kind, stray.name, set())
    if base not in taken:
        return base
    return base.deposed() if base.deposed() not in taken else address_of(stray.kind, stray.name, taken)


def _renamed(read: TenantRead, out: Observations, wanted: dict[Address, Resource], claimed: set[str],
             ctx: ObserveContext) -> None:
    """Without a state (a lost one), a desired object missing under its name may still be in the
    tenant under another name: renamed in the admin center, or made under an earlier name
    prefix. The one marked object of its kind that is it (see `_taken_as`) is taken as it, and
    the plan renames it in place."""
    for address, want in wanted.items():
        seen = out.observed.get(address)
        if seen is None or seen.actual is not None or not handler(address.kind).marked:
            continue
        found = _taken_as(read, address.kind, want.exchange_name, claimed, ctx.integration)
        if found is not None:
            out.observed[address] = handler(address.kind).observe_object(address, found, ctx)
            claimed.add(str(found.get("Guid")))


def _taken_as(read: TenantRead, kind: Kind, name: str, claimed: set[str], integration: str) -> Any:
    """The unclaimed marked object to take as `name`: the one whose marker says exoform made it
    under that very name; else the one exoform made under another prefix (same " - SPF"
    suffix, marker naming it); else the one with that suffix at all (an older marker)."""
    found = [obj for _, obj in read.marked(integration, [kind]) if str(obj.get("Guid")) not in claimed]
    named = [obj for obj in found if (made_as(kind, obj) or "").casefold() == name.casefold()]
    suffix = _suffix(name)
    suffixed = [obj for obj in found if suffix and _suffix(name_of(obj)) == suffix]
    made = [obj for obj in suffixed if own(kind, obj, integration)]
    return next((group[0] for group in (named, made, suffixed) if len(group) == 1), None)


def _suffix(name: str) -> str:
    return name.rsplit(" - ", 1)[1].casefold() if " - " in name else ""


def _interrupted_twin(read: TenantRead, out: Observations, address: Address, name: str,
                      want: Resource | None, ctx: ObserveContext, claimed: set[str]) -> None:
    """An object an interrupted run created at `address` while the state still records another
    one there (a replacement made new-first): both are ours. The one the config wants is the
    address's; the other is its deposed twin, which the plan removes."""
    kind_handler = handler(address.kind)
    obj = read.by_name(address.kind, name) if name and kind_handler.marked else None
    seen = out.observed.get(address)
    if obj is None or read.owner(address.kind, obj) != ctx.integration or str(obj.get("Guid")) in claimed \
            or seen is None or seen.actual is None or seen.actual.guid is None:
        return
    known = read.by_guid(address.kind, seen.actual.guid)
    twin = address.deposed()
    if want is not None and want.exchange_name.casefold() == name.casefold() and known is not None:
        out.observed[address] = kind_handler.observe_object(address, obj, ctx)
        out.observed[twin] = kind_handler.observe_object(twin, known, ctx)
    else:
        out.observed[twin] = kind_handler.observe_object(twin, obj, ctx)
    claimed.add(str(obj.get("Guid")))
    out.observed[address] = dataclasses.replace(out.observed[address], by_marker=False)


def _prefer_wanted(out: Observations, address: Address, want: Resource) -> None:
    """Of an address's object and its deposed twin (a replacement stopped half-way), the one
    with the name the config wants is the address's; the other is the one to remove."""
    twin = address.deposed()
    main, other = out.observed.get(address), out.observed.get(twin)
    if main is None or other is None or main.actual is None or other.actual is None:
        return
    wanted_name = want.exchange_name.casefold()
    if other.actual.exchange_name.casefold() != wanted_name or main.actual.exchange_name.casefold() == wanted_name:
        return
    out.observed[address] = _moved(other, address)
    out.observed[twin] = _moved(main, twin)


def _moved(seen: Observed, address: Address) -> Observed:
    actual = dataclasses.replace(seen.actual, address=address) if seen.actual else None
    return dataclasses.replace(seen, address=address, actual=actual)


def _strays(read: TenantRead, claimed: set[str], integration: str) -> list[Stray]:
    kinds = [k for k in KIND_ORDER if HANDLERS[k].marked]
    return [Stray(kind, name_of(obj), obj) for kind, obj in read.marked(integration, kinds)
            if str(obj.get("Guid")) not in claimed]
