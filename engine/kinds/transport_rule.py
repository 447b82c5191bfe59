"""Transport rules: their managed attributes, on/off state (Exchange's `State` string read from
Get-, the `-Enabled` switch of New-, Enable-/Disable-TransportRule afterwards; the engine sees
a typed `Enablement`), and placement: exoform's rules stay one contiguous block in the order
SPF, Inbound emails, Outbound emails, so each call carries the priority right at that moment.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from exoform.engine.blueprint import RULE_ORDER, SPF_RULE
from exoform.engine.cmdlet_reference import (
    RULE_BOOL_PROPERTIES, RULE_LIST_PROPERTIES, RULE_SETTING_DEFAULTS, RULE_TEXT_PROPERTIES,
)
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.drift import DriftStatus, ResourceDrift
from exoform.engine.exchange import MAX_TRANSPORT_RULES
from exoform.engine.kinds.base import (
    APPLY, DESTROY, ENABLE, DiffOptions, Lowering, Observed, PhaseEdge, PlanContext, Result,
)
from exoform.engine.kinds.objects import ObjectHandler
from exoform.engine.kinds.placement import Placement, out_of_order
from exoform.engine.kinds.schema import NAME, KindSpec, Norm, attr, owned
from exoform.engine.model import Action, Address, Kind, Resource
from exoform.engine.outcome import Leftover, LeftoverKind
from exoform.engine.plan import Diagnostic, Enablement, Move, Reason, ResourceChange, Severity, StepOp
from exoform.engine.read import TenantRead
from exoform.engine.state import State, StateResource

_MANAGED_RULE_ATTRS = (
    NAME,
    attr("BlindCopyTo", Norm.SET),
    attr("Comments", Norm.TEXT),
    attr("ExceptIfFrom", Norm.SET),
    attr("ExceptIfHeaderContainsMessageHeader", Norm.NAME),
    attr("ExceptIfHeaderContainsWords", Norm.SET),
    attr("ExceptIfRecipientDomainIs", Norm.SET),
    attr("ExceptIfSenderDomainIs", Norm.SET),
    attr("ExceptIfSenderIpRanges", Norm.IPSET),
    attr("ExceptIfSentTo", Norm.SET),
    attr("From", Norm.SET),
    attr("FromMemberOf", Norm.SET),
    attr("FromScope", Norm.NAME),
    attr("Mode", Norm.NAME, "Enforce"),
    attr("RemoveHeader", Norm.NAME),
    attr("RouteMessageOutboundConnector", Norm.NAME),
    attr("SenderIpRanges", Norm.IPSET),
    attr("SentTo", Norm.SET),
    attr("SentToMemberOf", Norm.SET),
    attr("SentToScope", Norm.NAME),
    attr("SetHeaderName", Norm.NAME),
    attr("SetHeaderValue", Norm.TEXT, sensitive=True),
    attr("State", Norm.NAME, "Enabled"),
    attr("StopRuleProcessing", Norm.BOOL, False),
)
_MANAGED_NAMES = {a.name for a in _MANAGED_RULE_ATTRS}
TRANSPORT_RULE = KindSpec(
    Kind.TRANSPORT_RULE,
    (
        *_MANAGED_RULE_ATTRS,
        # Every other condition, exception, action and setting: an admin's addition to
        # exoform's rule (an exception that lets mail skip the gateway, an expiry date...).
        *owned(RULE_LIST_PROPERTIES, Norm.SET, skip=_MANAGED_NAMES),
        *owned(RULE_BOOL_PROPERTIES, Norm.BOOL, False, skip=_MANAGED_NAMES),
        *owned(RULE_TEXT_PROPERTIES - set(RULE_SETTING_DEFAULTS), Norm.TEXT, skip=_MANAGED_NAMES),
        *(attr(name, Norm.NAME, default, owned=True) for name, default in sorted(RULE_SETTING_DEFAULTS.items())),
    ),
    references=(("RouteMessageOutboundConnector", Kind.OUTBOUND_CONNECTOR),),
)
RULE_LIMIT = MAX_TRANSPORT_RULES
STATE = "State"  # Exchange's name for a rule's on/off attribute, in Get- output and in state


def is_on(attrs: Mapping[str, Any] | None) -> bool | None:
    """A rule's State is Enabled (compared as Exchange does, ignoring case); None: no rule."""
    if attrs is None:
        return None
    return str(attrs.get(STATE, "Enabled")).strip().casefold() == "enabled"


def _routes(change: ResourceChange) -> bool:
    """The rule routes or copies mail to the gateway, before or after the plan."""
    sides = [d for d in (change.before_dict if change.before else None,
                         change.after_dict if change.after else None) if d]
    return any(d.get("RouteMessageOutboundConnector") or d.get("BlindCopyTo") for d in sides)


def state_value(enabled: bool) -> str:
    return "Enabled" if enabled else "Disabled"


class TransportRuleHandler(ObjectHandler):
    schema = TRANSPORT_RULE

    # ---- diff ---------------------------------------------------------------------------

    def adjust(self, before: dict[str, Any], after: dict[str, Any], changed: tuple[str, ...],
               options: DiffOptions) -> tuple[dict[str, Any], tuple[str, ...]]:
        if options.keep_admin_enabled_rules and STATE in changed and is_on(before):
            return dict(after, State=state_value(True)), tuple(c for c in changed if c != STATE)
        return after, changed

    def diff(self, address: Address, want: Resource | None, seen: Observed,
             record: StateResource | None, options: DiffOptions) -> ResourceChange | None:
        change = super().diff(address, want, seen, record, options)
        if change is None:
            return None
        wanted_on = is_on(dict(want.attributes)) if want is not None else None
        on = Enablement(is_on(change.before_dict if change.before else None),
                        is_on(change.after_dict if change.after else None))
        kept = bool(on.before and on.after and wanted_on is False)
        return dataclasses.replace(change, enabled=dataclasses.replace(on, kept=kept))

    def restore(self, change: ResourceChange) -> ResourceChange:
        """The typed fields a saved plan does not spell out, from its attributes."""
        on = Enablement(is_on(change.before_dict if change.before else None),
                        is_on(change.after_dict if change.after else None))
        return dataclasses.replace(change, enabled=on)

    def limits(self, read: TenantRead, changes: Mapping[Address, ResourceChange]) -> list[Diagnostic]:
        rules = [c for c in changes.values() if c.address.kind is self.kind]
        total = (len(read.rules()) + sum(c.action is Action.CREATE for c in rules)
                 - sum(c.action is Action.DELETE for c in rules))
        if total <= RULE_LIMIT:
            return []
        return [Diagnostic(
            Severity.ERROR, "too_many_rules",
            f"the tenant would have {total} transport rules; Exchange Online allows at most {RULE_LIMIT}. "
            "Remove unused rules in the Exchange admin center first.",
        )]

    def enables(self, change: ResourceChange) -> bool:
        on = change.enabled
        if change.after is None or on is None or not on.after:
            return False
        return change.action.creates or STATE in change.changed

    def phases(self, change: ResourceChange) -> list[str]:
        phases = super().phases(change)
        on = change.enabled
        if change.action is Action.UPDATE and STATE in change.changed and on and on.after:
            phases.append(ENABLE)
        return phases

    def ordering(self, changes: Mapping[Address, ResourceChange]) -> list[PhaseEdge]:
        """The SPF rule strips the gateway's header from the mail it returns: it is switched on
        before a routing rule and switched off (or removed) after them, so no returning
        message keeps the header in between."""
        spf = changes.get(SPF_RULE)
        if spf is None or spf.enabled is None:
            return []
        routing = [a for a, c in changes.items() if a.kind is self.kind and a != SPF_RULE and _routes(c)]
        if spf.enabled.switches_on:
            on = (ENABLE if ENABLE in self.phases(spf) else APPLY, SPF_RULE)
            return [(on, (phase, a)) for a in routing for phase in (APPLY, ENABLE)]
        if spf.enabled.switches_off or spf.after is None:
            return [((phase, a), (then, SPF_RULE)) for a in routing
                    for phase in (APPLY, DESTROY) for then in (APPLY, DESTROY)]
        return []

    def arrange(self, changes: Mapping[Address, ResourceChange], ctx: PlanContext) -> dict[Address, ResourceChange]:
        """Our kept rules that left the block (or its order) move back: minimal moves from the
        first break on."""
        leaving = {str(c.before_dict.get("Name", "")).casefold() for c in changes.values()
                   if c.address.kind is self.kind and (c.action is Action.DELETE or c.action.is_replace)}
        current = [name for name in ctx.read.rule_names() if name not in leaving]
        kept = {a: str(c.before_dict.get("Name", "")).casefold() for a, c in changes.items()
                if a.kind is self.kind and c.action in (Action.UPDATE, Action.NOOP) and c.after}
        out = dict(changes)
        for address in out_of_order(current, kept, RULE_ORDER):
            change = out[address]
            out[address] = dataclasses.replace(
                change, action=Action.UPDATE, reason=Reason.RULE_ORDER_DRIFTED,
                move=Move(change.before_priority))
        return out

    # ---- lowering -----------------------------------------------------------------------

    def lowering(self, read: TenantRead, changes: Mapping[Address, ResourceChange],
                 top: bool) -> Lowering:
        names = {a: str(c.before_dict.get("Name", "")).casefold() for a, c in changes.items()
                 if a.kind is self.kind and c.before}
        return _RuleLowering(self, Placement(read.rule_names(), RULE_ORDER, top=top, names=names))

    def lower_with(self, placement: Placement, phase: str,
                   change: ResourceChange) -> list[tuple[StepOp, CmdletCall]]:
        identity = self.identity(change)
        if phase == ENABLE:
            return [(StepOp.ENABLE, enable_call(identity, _mode(change.after_dict)))]
        if phase == DESTROY:
            placement.remove(change.address)
            return [(StepOp.DELETE, self.remove_call(identity))]
        if change.action.creates:
            priority = placement.place(change.address, change.exchange_name)
            return [(StepOp.CREATE, self.new_call(change.after_dict, priority))]
        out: list[tuple[StepOp, CmdletCall]] = []
        if STATE in change.changed and change.enabled and change.enabled.after is False:
            out.append((StepOp.DISABLE, disable_call(identity)))
        moved = placement.place(change.address, change.exchange_name) if change.move else None
        call = self.set_call(identity, change.after_dict, change.changed, moved)
        if call is not None:
            out.append((StepOp.UPDATE, call))
        return out  # enabling is its own phase (ENABLE), after its dependencies

    def scheduled(self, change: ResourceChange, calls: Sequence[CmdletCall]) -> ResourceChange:
        if change.move is None:
            return change
        for call in calls:
            if "Priority" in call.args:
                return dataclasses.replace(change, move=Move(change.move.before, call.args["Priority"]))
        return change

    def new_call(self, attrs: Mapping[str, Any], priority: int | None = None) -> CmdletCall:
        params = dict(attrs)
        enabled = is_on(params) is not False
        params.pop(STATE, None)
        call = super().new_call(params)
        extra: dict[str, Any] = {"Enabled": enabled}
        if priority is not None:
            extra["Priority"] = priority
        return CmdletCall.of(call.name, {**call.args, **extra})

    def settable(self, names: set[str], attrs: Mapping[str, Any]) -> set[str]:
        return super().settable(names - {STATE}, attrs)

    # ---- applying -------------------------------------------------------------------------

    def created_attrs(self, args: dict[str, Any]) -> dict[str, Any]:
        args = super().created_attrs(args)
        args[STATE] = state_value(args.pop("Enabled", None) in (True, None))
        return args

    def recorded(self, attrs: dict[str, Any], change: ResourceChange, call: CmdletCall) -> dict[str, Any]:
        if call.verb in ("Enable", "Disable"):
            attrs[STATE] = state_value(call.verb == "Enable")
            return attrs
        attrs = super().recorded(attrs, change, call)
        if change.enabled is not None and change.enabled.kept:
            # Set- leaves State alone: a rule the admin enabled (and the config keeps) is
            # recorded as enabled, or drift would report the admin's choice as a change.
            attrs[STATE] = state_value(True)
        return attrs

    def inverse(self, change: ResourceChange, call: CmdletCall, result: Result) -> CmdletCall:
        if call.verb == "Enable":
            return disable_call(str(call.args["Identity"]))
        if call.verb == "Disable":
            return enable_call(str(call.args["Identity"]), _mode(change.before_dict))
        return super().inverse(change, call, result)

    # ---- drift and rollback verification ---------------------------------------------------

    def extra_drift(self, read: TenantRead, state: State,
                    observed: Mapping[Address, Observed]) -> list[ResourceDrift]:
        """Our block split or reordered (other rules shifting around it is not drift)."""
        ours = {a: seen.actual.exchange_name.casefold() for a, seen in observed.items()
                if a.kind is self.kind and seen.actual is not None and a in RULE_ORDER}
        detail = "exoform's rules are no longer together in the order SPF, Inbound emails, Outbound emails"
        found = []
        for address in sorted(out_of_order(read.rule_names(), ours, RULE_ORDER)):
            record = state.get(address)
            name = record.exchange_name if record else ours[address]
            found.append(ResourceDrift(str(address), name, DriftStatus.MOVED, detail=detail))
        return found

    def picture(self, read: TenantRead) -> Any:
        return {"objects": super().picture(read), "order": read.rule_names()}

    def compare(self, before: Any, after: Any) -> list[Leftover]:
        found = super().compare(before["objects"], after["objects"])
        if before["order"] != after["order"]:
            found.append(Leftover(LeftoverKind.ORDER, self.kind.exchange_type))
        return found


class _RuleLowering(Lowering):
    """Simulates the tenant's rule list while the plan is scheduled."""

    def __init__(self, handler: TransportRuleHandler, placement: Placement) -> None:
        super().__init__(handler)
        self.rules = handler
        self.placement = placement

    def calls(self, phase: str, change: ResourceChange) -> list[tuple[StepOp, CmdletCall]]:
        return self.rules.lower_with(self.placement, phase, change)

    def fork(self) -> "Lowering":
        return _RuleLowering(self.rules, self.placement.copy())


def _mode(attrs: Mapping[str, Any]) -> str | None:
    """The rule's intended Mode, sent with Enable-TransportRule: older service builds reset a
    rule enabled without -Mode to Enforce, which would take an Audit rule live."""
    mode = attrs.get("Mode")
    return str(mode) if mode else None


def enable_call(identity: str, mode: str | None = None) -> CmdletCall:
    """Enable-/Disable-TransportRule: the only way Exchange changes a rule's State."""
    params: dict[str, Any] = {"Identity": identity}
    if mode:
        params["Mode"] = mode
    return CmdletCall.of("Enable-TransportRule", params)


def disable_call(identity: str) -> CmdletCall:
    return CmdletCall.of("Disable-TransportRule", {"Identity": identity, "Confirm": False})

