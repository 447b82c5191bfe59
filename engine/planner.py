"""Planning: desired resources + the tenant as read + the state -> an ordered `Plan`.

Pure (no I/O, no clock): observe (match objects to addresses), diff each resource, cascade
replacements to rules that route through a replaced connector, fix our rules' order, then
schedule the work as a dependency graph and turn it into cmdlet calls.
"""
from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from exoform.engine import calls
from exoform.engine.blueprint import RULE_ORDER, blueprint
from exoform.engine.conflicts import accept_risks, find_conflicts
from exoform.engine.enabling import enabling_checks
from exoform.engine.diff import DiffOptions, diff_resource
from exoform.engine.kinds import references, rule_enabled
from exoform.engine.model import Action, Address, Kind, Resource
from exoform.engine.observe import Observed, observe
from exoform.engine.order import APPLY, ENABLE, Node, edges, kind_rank, schedule
from exoform.engine.placement import Placement, out_of_order
from exoform.engine.plan import Diagnostic, Plan, ResourceChange, Severity, Step, StepOp
from exoform.engine.spec import IntegrationSpec
from exoform.engine.state import State

ALLOWLIST_LIMIT = 1273


@dataclass(frozen=True)
class PlanRequest:
    integration: str
    desired: tuple[Resource, ...]  # empty for a destroy plan
    read: Mapping[str, Sequence[Mapping[str, Any]]]
    state: State
    operation: str = "apply"
    placement_top: bool = True
    keep_admin_enabled_rules: bool = True
    config_digest: str = ""
    provider: str = ""
    tenant: str = ""
    adopt: bool = False  # take over unmarked objects that hold our names (import, --adopt)
    accepted_risks: tuple[str, ...] = ()  # finding IDs acknowledged with --accept-risk

    @classmethod
    def for_spec(
        cls,
        spec: IntegrationSpec,
        read: Mapping[str, Sequence[Mapping[str, Any]]],
        state: State,
        operation: str = "apply",
        tenant: str = "",
        adopt: bool = False,
        accepted_risks: tuple[str, ...] = (),
    ) -> "PlanRequest":
        """The request for `spec` (a destroy plan wants nothing)."""
        return cls(
            integration=spec.integration,
            desired=blueprint(spec) if operation == "apply" else (),
            read=read,
            state=state,
            operation=operation,
            placement_top=spec.placement == "top",
            keep_admin_enabled_rules=not spec.rules_enabled_explicit,
            config_digest=spec.digest,
            provider=spec.tenant.provider,
            tenant=tenant,
            adopt=adopt,
            accepted_risks=accepted_risks,
        )


def make_plan(request: PlanRequest) -> Plan:
    observed, diagnostics = observe(request.read, request.desired, request.state, request.adopt)
    wanted = {r.address: r for r in request.desired}
    options = DiffOptions(keep_admin_enabled_rules=request.keep_admin_enabled_rules)
    changes: dict[Address, ResourceChange] = {}
    for address, seen in sorted(observed.items()):
        change = diff_resource(address, wanted.get(address), seen, request.state.get(address), options)
        if change is not None:
            if request.operation == "destroy" and change.action is Action.DELETE:
                change = dataclasses.replace(change, reason="exoform destroy")
            changes[address] = change
    diagnostics += _checks(request, observed, changes)
    diagnostics += enabling_checks(changes, observed)
    diagnostics += find_conflicts(request.read, request.desired, changes, request.integration, request.placement_top)
    changes = _cascade_replacements(changes)
    changes = _fix_rule_order(changes, request.read)
    steps = _steps(changes, request)
    changes = _show_moves(changes, steps)
    forget = tuple(
        r.address for r in request.state.resources if r.address not in changes
    )
    return Plan(
        integration=request.integration,
        operation=request.operation,
        changes=tuple(changes[a] for a in sorted(changes)),
        steps=tuple(steps),
        diagnostics=tuple(accept_risks(diagnostics, request.accepted_risks)),
        forget=forget,
        state_lineage=request.state.lineage,
        state_serial=request.state.serial,
        config_digest=request.config_digest,
        provider=request.provider,
        tenant=request.tenant,
        adopt=request.adopt,
        accepted_risks=request.accepted_risks,
    )


def _checks(
    request: PlanRequest, observed: Mapping[Address, Observed], changes: Mapping[Address, ResourceChange]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    pending = request.state.pending
    if pending is not None:
        found.append(Diagnostic(
            Severity.WARNING, "interrupted_apply",
            f"the previous run was interrupted during step {pending.step + 1} ({pending.cmdlet} "
            f"'{pending.identity}', started {pending.started}); exoform re-read the tenant and "
            "plans from what is really there (objects it had created are adopted by their marker).",
            pending.address,
        ))
    found += _rule_limit(request, changes)
    for address, seen in observed.items():
        if address.kind is Kind.CONNECTION_FILTER_ALLOWLIST:
            found += _allowlist_checks(address, seen, changes.get(address), address in {r.address for r in request.desired})
        change = changes.get(address)
        if change and change.address.kind is Kind.TRANSPORT_RULE and change.before and change.after:
            if change.before_dict.get("State") == "Enabled" and _wanted_disabled(request, address):
                found.append(Diagnostic(
                    Severity.INFO, "rule_enabled_outside",
                    f"'{change.exchange_name}' was enabled outside exoform and stays enabled; set "
                    "rules.enabled to true in the config to record that (or to false to disable it).",
                    str(address),
                ))
    return found


RULE_LIMIT = 300  # Exchange Online's transport rules per organization


def _rule_limit(request: PlanRequest, changes: Mapping[Address, ResourceChange]) -> list[Diagnostic]:
    rules = [c for c in changes.values() if c.address.kind is Kind.TRANSPORT_RULE]
    total = len(request.read.get("TransportRule", ())) + sum(c.action is Action.CREATE for c in rules) \
        - sum(c.action is Action.DELETE for c in rules)
    if total <= RULE_LIMIT:
        return []
    return [Diagnostic(
        Severity.ERROR, "too_many_rules",
        f"the tenant would have {total} transport rules; Exchange Online allows at most {RULE_LIMIT}. "
        "Remove unused rules in the Exchange admin center first.",
    )]


def _wanted_disabled(request: PlanRequest, address: Address) -> bool:
    for resource in request.desired:
        if resource.address == address:
            return str(resource.get("State")) == "Disabled"
    return False


def _allowlist_checks(
    address: Address, seen: Observed, change: ResourceChange | None, wanted: bool
) -> list[Diagnostic]:
    if seen.actual is None and wanted:
        return [Diagnostic(
            Severity.ERROR, "no_default_policy",
            "the tenant has no 'Default' connection filter policy to add the gateway's IP ranges "
            "to; set allowlist.connection_filter to false or restore the policy.",
            str(address),
        )]
    if change is None:
        return []
    found = [_cis_warning(address, change)] if change.list_add else []
    bad = [e for e in change.list_add if not _allowlist_entry_ok(e)]
    if bad:
        found.append(Diagnostic(
            Severity.ERROR, "allowlist_entry",
            f"IPAllowList takes IPv4 addresses and CIDR ranges /24 to /32 only; {', '.join(bad)} "
            "cannot be added (split wider ranges into /24 blocks).",
            str(address),
        ))
    total = len(seen.policy_entries) + len(change.list_add) - len(change.list_remove)
    if total > ALLOWLIST_LIMIT:
        found.append(Diagnostic(
            Severity.ERROR, "allowlist_full",
            f"the Default policy's IPAllowList would hold {total} entries, over Exchange's limit "
            f"of {ALLOWLIST_LIMIT}; remove unused entries or set allowlist.connection_filter to false.",
            str(address),
        ))
    return found


def _allowlist_entry_ok(entry: str) -> bool:
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return network.version == 4 and network.prefixlen >= 24


def _cis_warning(address: Address, change: ResourceChange) -> Diagnostic:
    return Diagnostic(
        Severity.WARNING, "allowlist_cis",
        f"exoform adds {len(change.list_add)} entr{'y' if len(change.list_add) == 1 else 'ies'} to the "
        "Default connection filter policy's IP allow list. CIS Microsoft 365 benchmark 2.1.12 "
        "('ensure the connection filter IP allow list is not used') requires that list to be empty, "
        "and tools enforcing it (CIPP, Maester, ORCA-style audits) will flag or remove the entries, "
        "after which the gateway's mail is spam-filtered again. If this tenant follows such a "
        "baseline, use \"allowlist\": {\"enhanced_filtering\": true, \"connection_filter\": false} "
        "instead (Enhanced Filtering skips the gateway's addresses on exoform's inbound connector).",
        str(address),
    )


def _cascade_replacements(changes: dict[Address, ResourceChange]) -> dict[Address, ResourceChange]:
    """A rule routing through a connector that is replaced must go first and come back after:
    Exchange refuses to remove a connector a rule still references."""
    replaced = {
        (c.address.kind, str(c.before_dict.get("Name", "")).casefold()): c.address
        for c in changes.values()
        if c.action is Action.REPLACE
    }
    out = dict(changes)
    for address, change in changes.items():
        if change.action not in (Action.UPDATE, Action.NOOP) or change.after is None:
            continue
        hit = references(address.kind, change.before_dict) & set(replaced)
        if hit:
            target = replaced[sorted(hit)[0]]
            out[address] = dataclasses.replace(
                change, action=Action.REPLACE,
                reason=f"routes through {target}, which is replaced",
            )
    return out


def _fix_rule_order(
    changes: dict[Address, ResourceChange], read: Mapping[str, Sequence[Mapping[str, Any]]]
) -> dict[Address, ResourceChange]:
    leaving = {
        str(c.before_dict.get("Name", "")).casefold()
        for c in changes.values()
        if c.address.kind is Kind.TRANSPORT_RULE and c.action in (Action.DELETE, Action.REPLACE)
    }
    current = [name for name in _rule_names(read) if name not in leaving]
    kept = {
        a: str(c.before_dict.get("Name", "")).casefold()
        for a, c in changes.items()
        if a.kind is Kind.TRANSPORT_RULE and c.action in (Action.UPDATE, Action.NOOP) and c.after
    }
    out = dict(changes)
    for address in out_of_order(current, kept, RULE_ORDER):
        change = out[address]
        out[address] = dataclasses.replace(
            change,
            action=Action.UPDATE,
            changed=tuple(sorted(set(change.changed) | {"Priority"})),
            reason="rule order drifted: exoform's rules must stay together, SPF first",
        )
    return out


def _show_moves(changes: dict[Address, ResourceChange], steps: list[Step]) -> dict[Address, ResourceChange]:
    """Put a moved rule's old and new Priority into its change, so the plan shows the move."""
    out = dict(changes)
    for step in steps:
        change = out[step.address]
        if "Priority" in change.changed and "Priority" in step.call.args and change.before and change.after:
            out[step.address] = dataclasses.replace(
                change,
                before=tuple(sorted({**change.before_dict, "Priority": change.before_priority}.items())),
                after=tuple(sorted({**change.after_dict, "Priority": step.call.args["Priority"]}.items())),
            )
    return out


def _rule_names(read: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    rules = sorted(read.get("TransportRule", ()), key=lambda r: int(r.get("Priority") or 0))
    return [str(r.get("Name", "")).casefold() for r in rules]


def _steps(changes: Mapping[Address, ResourceChange], request: PlanRequest) -> list[Step]:
    prior = {r.address: r.dependencies for r in request.state.resources}
    for address, change in changes.items():
        prior.setdefault(address, change.dependencies if change.before else ())
    preds = edges(changes, prior)
    order = schedule(preds, kind_rank(changes, RULE_ORDER))
    placement = Placement(
        _rule_names(request.read), RULE_ORDER, top=request.placement_top,
        names={a: str(c.before_dict.get("Name", "")).casefold() for a, c in changes.items()
               if a.kind is Kind.TRANSPORT_RULE and c.before},
    )
    steps: list[Step] = []
    last_of: dict[Node, int] = {}
    for node in order:
        depends = tuple(sorted(last_of[p] for p in preds.get(node, ()) if p in last_of))
        for op, call in _node_calls(node, changes[node.address], placement):
            steps.append(Step(len(steps), node.address, op, call, depends, _describe(op, changes[node.address])))
            depends = (len(steps) - 1,)
            last_of[node] = len(steps) - 1
    return steps


def _node_calls(node: Node, change: ResourceChange, placement: Placement) -> list[tuple[StepOp, Any]]:
    kind = node.address.kind
    identity = change.guid or str(change.before_dict.get("Name", change.exchange_name))
    if kind is Kind.CONNECTION_FILTER_ALLOWLIST:
        add = change.list_add if node.phase == APPLY else ()
        remove = change.list_remove
        if not add and not remove:
            return []
        op = StepOp.DELETE if node.phase != APPLY else (StepOp.CREATE if change.action is Action.CREATE else StepOp.UPDATE)
        return [(op, calls.allowlist_call(add, remove))]
    if node.phase == ENABLE:
        return [(StepOp.ENABLE, calls.state_call(identity, True))]
    if node.phase != APPLY:
        placement.remove(node.address)
        return [(StepOp.DELETE, calls.remove_call(kind, identity))]
    after = change.after_dict
    if change.action in (Action.CREATE, Action.REPLACE):
        priority = placement.place(node.address, change.exchange_name) if kind is Kind.TRANSPORT_RULE else None
        return [(StepOp.CREATE, calls.new_call(kind, after, priority))]
    return _update_calls(node.address, change, identity, placement)


def _update_calls(address: Address, change: ResourceChange, identity: str, placement: Placement) -> list[tuple[StepOp, Any]]:
    kind = address.kind
    out: list[tuple[StepOp, Any]] = []
    state_changed = "State" in change.changed
    enable = rule_enabled(change.after_dict)
    if state_changed and not enable:
        out.append((StepOp.DISABLE, calls.state_call(identity, False)))
    priority = placement.place(address, change.exchange_name) if "Priority" in change.changed else None
    call = calls.set_call(kind, identity, change.after_dict, tuple(c for c in change.changed if c != "Priority"), priority)
    if call is not None:
        out.append((StepOp.UPDATE, call))
    return out  # enabling is its own node (order.ENABLE), after its dependencies


def _describe(op: StepOp, change: ResourceChange) -> str:
    noun = change.address.kind.exchange_type
    if change.address.kind is Kind.CONNECTION_FILTER_ALLOWLIST:
        return f"{op.value} exoform's entries in the Default connection filter allow list"
    return f"{op.value} {noun} '{change.exchange_name}'"
