"""The gateway's ranges in the Default connection filter policy's IP allow list: a list exoform
shares with the admin and with other integrations. It is only ever edited with add/remove
(never overwritten). The entries an integration added are its own (in its state, and listed in
its inbound connector's marker, so a lost state or another integration can read them); an entry
goes only when no integration on the tenant still uses it, and never when it was the admin's.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Sequence

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.drift import AttributeDrift, DriftStatus, ResourceDrift
from exoform.engine.blueprint import ALLOWLIST as ALLOWLIST_ADDRESS
from exoform.engine.blueprint import INBOUND_CONNECTOR
from exoform.engine.kinds.base import (
    APPLY,
    DESTROY,
    DiffOptions,
    EntryView,
    KindHandler,
    Observation,
    ObserveContext,
    Observed,
    PhaseEdge,
    PlanContext,
    Result,
)
from exoform.engine.kinds.connector import InboundConnectorHandler
from exoform.engine.exchange import DEFAULT_POLICY, MAX_ALLOWLIST_ENTRIES
from exoform.engine.ipv4 import allowlist_entry_ok, span
from exoform.engine.kinds.schema import KindSpec, Norm, attr, normalize_ip
from exoform.engine.model import Action, Address, Kind, Resource, freeze_attrs
from exoform.engine.outcome import Leftover, LeftoverKind
from exoform.engine.ownership import listed_entries, marker
from exoform.engine.plan import Diagnostic, EntryEdit, Reason, ResourceChange, Severity, StepOp
from exoform.engine.read import TenantRead, values
from exoform.engine.state import State, StateResource

ALLOWLIST = KindSpec(
    Kind.CONNECTION_FILTER_ALLOWLIST,
    (attr("Name", Norm.NAME), attr("IPAllowList", Norm.IPSET)),
)
ALLOWLIST_LIMIT = MAX_ALLOWLIST_ENTRIES
_INBOUND = InboundConnectorHandler()  # re-plans its marker when the entries owned change
ENTRIES = "IPAllowList"


def allowlist_call(add: tuple[str, ...], remove: tuple[str, ...]) -> CmdletCall:
    """Add/remove edit of the Default policy's IPAllowList: never a whole-list overwrite."""
    return CmdletCall.of("Set-HostedConnectionFilterPolicy",
                         {"Identity": DEFAULT_POLICY, ENTRIES: ListEdit(add=add, remove=remove)})


def _attrs(entries: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    return freeze_attrs({"Name": DEFAULT_POLICY, ENTRIES: tuple(entries)})


def _entries(attrs: dict[str, Any]) -> set[str]:
    value = attrs.get(ENTRIES)
    return {str(v) for v in value} if isinstance(value, tuple) else set()


class AllowListHandler(KindHandler):
    schema = ALLOWLIST
    marked = False

    def observe(self, read: TenantRead, address: Address, want: Resource | None,
                ctx: ObserveContext) -> Observation:
        policy = read.default_policy()
        if policy is None:
            return Observation(Observed(address, None))
        entries = tuple(sorted({normalize_ip(e) for e in values(policy, ENTRIES)}))
        present = set(entries)
        record = ctx.state.get(address)
        owned = set(record.owned_entries) if record else set()
        pending = ctx.state.pending
        if pending and pending.address == str(address):
            # An interrupted edit: what it added is ours if it is there, what it removed is gone.
            owned |= set(pending.add) & present
            owned -= set(pending.remove) - present
        listed = _listed(read)
        owned |= listed.get(ctx.integration, set()) & present  # a lost state reads its marker
        shared = set().union(*(e for i, e in listed.items() if i != ctx.integration)) & present
        view = EntryView(entries, tuple(sorted(owned & present)), tuple(sorted(shared)),
                         tuple(sorted(e for e in present if _used(e, _others_ranges(read, ctx.integration)))))
        return Observation(Observed(address, Resource(address, _attrs(entries)), entries=view))

    def implied(self, read: TenantRead, integration: str) -> tuple[Address, ...]:
        """Entries the integration's inbound connector lists that are still in the list."""
        policy = read.default_policy()
        present = {normalize_ip(e) for e in values(policy, ENTRIES)} if policy is not None else set()
        return (ALLOWLIST_ADDRESS,) if _listed(read).get(integration, set()) & present else ()

    def diff(self, address: Address, want: Resource | None, seen: Observed,
             record: StateResource | None, options: DiffOptions) -> ResourceChange | None:
        if seen.actual is None or seen.entries is None:
            return None  # no Default policy: `checks` reports it when the entries are wanted
        view = seen.entries
        present = set(view.present)
        wanted = {normalize_ip(e) for e in _entries(dict(want.attributes))} if want else set()
        # An entry another integration added and this one wants too is exoform's: co-owned, so
        # whichever integration goes last removes it.
        owned = set(view.owned) | (wanted & set(view.shared))
        add = sorted(wanted - present)
        remove = sorted((owned & present) - wanted - set(view.needed))
        before = sorted(present & (wanted | owned))
        after = sorted((set(before) - set(remove)) | set(add))
        if want is None:
            if record is None and not owned:  # (owned without a record: an interrupted first add)
                return None
            action, reason = Action.DELETE, Reason.ENTRIES_REMOVED
        elif record is None:
            action, reason = Action.CREATE, Reason.ENTRIES_MERGED
        else:
            action, reason = (Action.UPDATE, Reason.ENTRIES_DIFFER) if add or remove else (Action.NOOP, Reason.UP_TO_DATE)
        return ResourceChange(
            address=address, action=action, exchange_name=DEFAULT_POLICY,
            before=_attrs(before) if record or owned else None,
            after=_attrs(after) if want else None,
            changed=(ENTRIES,) if (add or remove) else (), dependencies=(), reason=reason,
            edit=EntryEdit(tuple(add), tuple(remove), tuple(sorted(owned))),
        )

    def checks(self, address: Address, change: ResourceChange | None,
               ctx: PlanContext) -> list[Diagnostic]:
        seen, where = ctx.observed[address], str(address)
        if seen.actual is None and address in ctx.desired:
            return [Diagnostic(
                Severity.ERROR, "no_default_policy",
                "the tenant has no 'Default' connection filter policy to add the gateway's IP ranges "
                "to; set allowlist.connection_filter to false or restore the policy.", where)]
        found = _unowned(address, change, ctx)
        if change is None or change.edit is None:
            return found
        edit = change.edit
        found += [_cis_warning(where, len(edit.add))] if edit.add else []
        bad = [e for e in edit.add if not allowlist_entry_ok(e)]
        if bad:
            found.append(Diagnostic(
                Severity.ERROR, "allowlist_entry",
                f"IPAllowList takes IPv4 addresses and CIDR ranges /24 to /32 only; {', '.join(bad)} "
                "cannot be added (split wider ranges into /24 blocks).", where))
        present = len(seen.entries.present) if seen.entries else 0
        total = present + len(edit.add) - len(edit.remove)
        if total > ALLOWLIST_LIMIT:
            found.append(Diagnostic(
                Severity.ERROR, "allowlist_full",
                f"the Default policy's IPAllowList would hold {total} entries, over Exchange's limit "
                f"of {ALLOWLIST_LIMIT}; remove unused entries or set allowlist.connection_filter to false.",
                where))
        return found + _kept_for_others(where, change, seen)

    def arrange(self, changes: Mapping[Address, ResourceChange],
                ctx: PlanContext) -> dict[Address, ResourceChange]:
        """The inbound connector's marker lists the entries this integration owns after the
        plan, so the tenant itself says which entries are exoform's."""
        out = dict(changes)
        target = changes.get(INBOUND_CONNECTOR)
        want = ctx.desired.get(INBOUND_CONNECTOR)
        if target is None or target.after is None or want is None:
            return out
        owned = _owned_after(changes.get(ALLOWLIST_ADDRESS))
        attrs = dict(want.attributes, Comment=marker(ctx.integration, want.exchange_name, owned))
        relisted = Resource(want.address, freeze_attrs(attrs), want.dependencies, want.guid)
        seen = ctx.observed[INBOUND_CONNECTOR]
        change = _INBOUND.diff(
            INBOUND_CONNECTOR, relisted, seen, ctx.state.get(INBOUND_CONNECTOR), ctx.options)
        if change is not None:
            out[INBOUND_CONNECTOR] = change
        return out

    def restore(self, change: ResourceChange) -> ResourceChange:
        return change if change.edit is not None else dataclasses.replace(change, edit=EntryEdit())

    def phases(self, change: ResourceChange) -> list[str]:
        """An edit that both adds and removes runs as two calls, the removal first, so that
        the inbound connector's listing can change in between (see `ordering`)."""
        edit = change.edit or EntryEdit()
        if change.action in (Action.CREATE, Action.UPDATE) and edit.add and edit.remove:
            return [DESTROY, APPLY]  # (a create removes too: a lost state's listed entries)
        return super().phases(change)

    def lower(self, phase: str, change: ResourceChange) -> list[tuple[StepOp, CmdletCall]]:
        edit = change.edit or EntryEdit()
        split = len(self.phases(change)) == 2
        add = edit.add if phase == APPLY else ()
        remove = edit.remove if phase == DESTROY or not split else ()
        if not add and not remove:
            return []
        if phase == DESTROY:
            op = StepOp.DELETE
        else:
            op = StepOp.CREATE if change.action is Action.CREATE else StepOp.UPDATE
        return [(op, allowlist_call(add, remove))]

    def ordering(self, changes: Mapping[Address, ResourceChange]) -> list[PhaseEdge]:
        """The inbound connector's marker lists the entries this integration owns, so an entry
        is removed while still listed and added once listed: a state lost between the two
        calls never leaves an entry of ours listed nowhere (unowned, never removed)."""
        change, inbound = changes.get(ALLOWLIST_ADDRESS), changes.get(INBOUND_CONNECTOR)
        if change is None or inbound is None:
            return []
        edit = change.edit or EntryEdit()
        removal = DESTROY if DESTROY in self.phases(change) else APPLY
        edges: list[PhaseEdge] = [((APPLY, INBOUND_CONNECTOR), (APPLY, ALLOWLIST_ADDRESS))] if edit.add else []
        if edit.remove:  # before the connector's relisting, or its removal
            edges += [((removal, ALLOWLIST_ADDRESS), (phase, INBOUND_CONNECTOR)) for phase in (APPLY, DESTROY)]
        return edges

    def describe(self, op: StepOp, change: ResourceChange) -> str:
        return f"{op.value} exoform's entries in the Default connection filter allow list"

    def pending_entries(self, call: CmdletCall) -> tuple[tuple[str, ...], tuple[str, ...]]:
        edit = call.args.get(ENTRIES)
        return (edit.add, edit.remove) if isinstance(edit, ListEdit) else ((), ())

    def record(self, state: State, change: ResourceChange, call: CmdletCall,
               result: Result) -> State:
        edit = call.args[ENTRIES]
        existing = state.get(change.address)
        owned = set(existing.owned_entries if existing else (change.edit or EntryEdit()).owned_before)
        owned = (owned | set(edit.add)) - set(edit.remove)
        if change.after is None and not owned:
            return state.drop(change.address)
        entries = sorted(_entries(change.after_dict))
        return state.put(StateResource(change.address, DEFAULT_POLICY, None, _attrs(entries),
                                       owned_entries=tuple(sorted(owned))))

    def inverse(self, change: ResourceChange, call: CmdletCall, result: Result) -> CmdletCall:
        edit = call.args[ENTRIES]
        return CmdletCall.of(call.name, {**call.args, ENTRIES: edit.inverse()})

    def sync_record(self, change: ResourceChange) -> StateResource:
        owned = change.edit.owned_before if change.edit else ()
        return dataclasses.replace(super().sync_record(change), owned_entries=owned)

    def settle(self, state: State, change: ResourceChange) -> State:
        """Keep what an interrupted run told about entries it added (the plan's owned_before),
        or they would be forgotten and never removed."""
        if change.before is None:
            return state
        owned = (change.edit or EntryEdit()).owned_before
        record = state.get(change.address)
        if set(record.owned_entries if record else ()) == set(owned):
            return state
        base = record or self.sync_record(change)
        return state.put(dataclasses.replace(base, owned_entries=tuple(sorted(owned))))

    def import_record(self, change: ResourceChange, claim: Sequence[str]) -> StateResource | None:
        """Our view of the Default allow list now: the relevant entries present, and which are
        ours (those state already owned, plus the claimed ones that are present)."""
        edit = change.edit or EntryEdit()
        before, after = _entries(change.before_dict), _entries(change.after_dict)
        present = before | (after - set(edit.add))
        owned = set(edit.owned_before) | (set(claim) & present)
        if change.after is None and not owned:
            return None
        return StateResource(change.address, DEFAULT_POLICY, None, _attrs(sorted(present)),
                             owned_entries=tuple(sorted(owned)))

    def drift(self, record: StateResource, seen: Observed) -> ResourceDrift | None:
        address, name = str(record.address), record.exchange_name
        if seen.actual is None:
            return ResourceDrift(address, name, DriftStatus.DELETED, detail="deleted outside exoform")
        present = set(seen.entries.present) if seen.entries else set()
        gone = tuple(sorted(set(record.owned_entries) - present))
        if not gone:
            return None
        kept = tuple(e for e in record.owned_entries if e not in gone)
        return ResourceDrift(address, name, DriftStatus.ENTRIES_REMOVED,
                             (AttributeDrift(ENTRIES, record.owned_entries, kept),),
                             detail=f"entries exoform added were removed: {', '.join(gone)}")

    def picture(self, read: TenantRead) -> Any:
        policies = read.objects(self.kind)
        return sorted({normalize_ip(e) for p in policies for e in values(p, ENTRIES)})

    def compare(self, before: Any, after: Any) -> list[Leftover]:
        added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
        found = []
        if added:
            found.append(Leftover(LeftoverKind.ENTRIES_PRESENT, self.kind.exchange_type, items=tuple(added)))
        if removed:
            found.append(Leftover(LeftoverKind.ENTRIES_MISSING, self.kind.exchange_type, items=tuple(removed)))
        return found


def _owned_after(change: ResourceChange | None) -> tuple[str, ...]:
    if change is None or change.edit is None or change.after is None:
        return ()
    edit = change.edit
    kept = (set(edit.owned_before) | set(edit.add)) - set(edit.remove)
    return tuple(by_address(kept & _entries(change.after_dict)))


def by_address(entries: Iterable[str]) -> list[str]:
    """Entries in address order (not as text: 9.9.9.9 before 10.0.0.0)."""
    return sorted(entries, key=lambda e: (span(e) or (1 << 33, 0), e))


def _listed(read: TenantRead) -> dict[str, set[str]]:
    """integration -> the entries its inbound connector's marker says it added."""
    out: dict[str, set[str]] = {}
    for obj in read.objects(Kind.INBOUND_CONNECTOR):
        holder = read.owner(Kind.INBOUND_CONNECTOR, obj)
        if holder:
            out.setdefault(holder, set()).update(normalize_ip(e) for e in listed_entries(Kind.INBOUND_CONNECTOR, obj))
    return out


# Where an integration's objects name the gateway's ranges: the inbound connector it accepts
# returning mail on, and its rules' sender-IP conditions and exceptions.
_USES = ((Kind.INBOUND_CONNECTOR, ("SenderIPAddresses",)),
         (Kind.TRANSPORT_RULE, ("SenderIpRanges", "ExceptIfSenderIpRanges")))


def _others_ranges(read: TenantRead, integration: str) -> list[tuple[int, int]]:
    """Address bounds of every range another exoform integration's marked objects use."""
    spans = []
    for kind, fields in _USES:
        for obj in read.objects(kind):
            holder = read.owner(kind, obj)
            if holder and holder != integration:
                spans += [b for f in fields for b in (span(v) for v in values(obj, f)) if b]
    return spans


def _used(entry: str, spans: Sequence[tuple[int, int]]) -> bool:
    bounds = span(entry)
    return bool(bounds) and any(s[0] <= bounds[0] and bounds[1] <= s[1] for s in spans)  # type: ignore[index]


def _unowned(address: Address, change: ResourceChange | None, ctx: PlanContext) -> list[Diagnostic]:
    """After a lost state (or when destroying), entries equal to the gateway's ranges that no
    state and no marker says exoform added: reported with how to claim or remove them, never
    removed silently (they may as well be the admin's own)."""
    seen, described = ctx.observed[address], ctx.described.get(address)
    if seen.entries is None or described is None or (ctx.state.persisted and address in ctx.desired):
        return []
    mine = set(change.edit.owned_before) if change and change.edit else set(seen.entries.owned)
    ranges = {normalize_ip(e) for e in _entries(dict(described.attributes))}
    loose = by_address((ranges & set(seen.entries.present)) - mine - set(seen.entries.shared))
    if not loose:
        return []
    listed = ", ".join(loose)
    removal = "; ".join(f"Set-HostedConnectionFilterPolicy -Identity Default -IPAllowList @{{Remove='{e}'}}"
                        for e in loose)
    return [Diagnostic(
        Severity.WARNING, "unowned_entries",
        f"the Default allow list holds {listed}, the gateway's range(s), but neither this "
        "integration's state nor any exoform marker says exoform added them (a lost state, or the "
        "admin's own entries), so exoform leaves them. If exoform added them, claim them with "
        f"`exoform import {' '.join('--claim-entry ' + e for e in loose)}` (then destroy removes them), "
        f"or remove them in PowerShell: {removal}.",
        str(address))]


def _kept_for_others(where: str, change: ResourceChange, seen: Observed) -> list[Diagnostic]:
    if seen.entries is None or change.edit is None:
        return []
    owned = set(change.edit.owned_before) & set(seen.entries.present)
    kept = by_address((owned - set(change.edit.remove) - _entries(change.after_dict)) & set(seen.entries.needed))
    if not kept:
        return []
    return [Diagnostic(
        Severity.INFO, "entries_kept_for_others",
        f"allow-list entries {', '.join(kept)} stay: another exoform integration on this tenant still "
        "uses them (it removes them when it goes, or keeps them for the next).", where)]


def _cis_warning(address: str, count: int) -> Diagnostic:
    return Diagnostic(
        Severity.WARNING, "allowlist_cis",
        f"exoform adds {count} entr{'y' if count == 1 else 'ies'} to the "
        "Default connection filter policy's IP allow list. CIS Microsoft 365 benchmark 2.1.12 "
        "('ensure the connection filter IP allow list is not used') requires that list to be empty, "
        "and tools enforcing it (CIPP, Maester, ORCA-style audits) will flag or remove the entries, "
        "after which the gateway's mail is spam-filtered again. If this tenant follows such a "
        "baseline, use \"allowlist\": {\"enhanced_filtering\": true, \"connection_filter\": false} "
        "instead (Enhanced Filtering skips the gateway's addresses on exoform's inbound connector).",
        address,
    )
