"""Where a message goes after a rule pass (B.4 / B.8 step 4): a rule's connector wins when it is
usable; otherwise internal recipients are delivered and external ones take the most specific
connector for their domain, else MX. The connector decides the next hop: exoform's gateway,
another product's service that sends mail back, or out of the organisation.
"""
from __future__ import annotations

from dataclasses import dataclass

from exoform.engine.mailflow.assumptions import Assumption
from exoform.engine.mailflow.connectors import OutboundConnector, select_outbound
from exoform.engine.mailflow.ipranges import format_address
from exoform.engine.mailflow.message import Arrival, Entry, Message, Source
from exoform.engine.mailflow.passes import PassResult, RouteChoice
from exoform.engine.mailflow.results import Hop, HopKind, PassRecord, RouteEvent, Target
from exoform.engine.mailflow.tenant import GatewayMode
from exoform.engine.mailflow.verdicts import Cause, CauseCode, ObjectKind, Verdict
from exoform.engine.mailflow.world import World


@dataclass(frozen=True)
class Step:
    """The result of routing one pass alternative: a next entry, or an end."""

    hops: tuple[Hop, ...]
    record: PassRecord
    event: RouteEvent | None
    next_arrival: Arrival | None = None  # None: the branch ends here
    next_message: Message | None = None
    end: Verdict | None = None  # None with no next arrival: delivered (verdict from the flags)
    cause: Cause | None = None
    scanned: bool = False
    copied: bool = False
    exit_headers: tuple[str, ...] | None = None
    assumptions: frozenset[Assumption] = frozenset()
    copy_targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Leg:
    """Where the original goes from the pass: the part of a `Step` after the rules."""

    hops: tuple[Hop, ...]
    event: RouteEvent
    next_arrival: Arrival | None = None
    next_message: Message | None = None
    end: Verdict | None = None
    cause: Cause | None = None
    scanned: bool = False
    exit_headers: tuple[str, ...] | None = None
    assumptions: frozenset[Assumption] = frozenset()


def route(world: World, message: Message, entry: Entry, result: PassResult) -> Step:
    hops = [Hop(HopKind.RULES, rules=result.fired, maybe_rules=result.maybe, stopped_by=result.stopped_by)]
    connector, problem = _rule_connector(world, result.route)
    record = PassRecord(entry.arrival.source, result.ours, result.stopped_by,
                        result.route.rule if result.route else "", tuple(r for _, r in result.copies), problem)
    why = set(result.assumptions)
    if result.rejected_by:
        cause = Cause(CauseCode.RULES_LOOP_LIMIT, result.rejected_by, ObjectKind.TRANSPORT_RULE)
        return Step(tuple(hops + [Hop(HopKind.REJECTED, result.rejected_by)]), record, None,
                    end=Verdict.REJECTED, cause=cause, assumptions=frozenset(why))
    if result.withheld:
        action, rule = result.withheld
        cause = Cause(CauseCode.WITHHELD_BY_RULE, rule, ObjectKind.TRANSPORT_RULE, action.value)
        return Step(tuple(hops + [Hop(HopKind.WITHHELD, rule, action.value)]), record, None,
                    end=Verdict.WITHHELD, cause=cause, assumptions=frozenset(why))
    copied, targets = False, []
    for address, rule in result.copies:
        hop, reached, assumed = _copy(world, address, rule, connector)
        hops.append(hop)
        copied |= reached
        targets.append(hop.via)
        why |= assumed
    moved = message.with_headers(result.headers)
    leg = _original(world, moved, entry, result, connector)
    return Step(tuple(hops) + leg.hops, record, leg.event, leg.next_arrival, leg.next_message, leg.end,
                leg.cause, leg.scanned, copied, leg.exit_headers, frozenset(why | leg.assumptions),
                tuple(targets))


def _rule_connector(world: World, choice: RouteChoice | None) -> tuple[OutboundConnector | None, Cause | None]:
    """RouteMessageOutboundConnector must name an existing, enabled, rule-scoped connector; a
    message whose rule names anything else is not routed as intended (normal routing)."""
    if choice is None:
        return None, None
    connector = world.outbound_connector(choice.connector)
    code = None
    if connector is None:
        code = CauseCode.ROUTE_TARGET_MISSING
    elif not connector.enabled:
        code = CauseCode.ROUTE_TARGET_DISABLED
    elif not connector.rule_scoped:
        code = CauseCode.ROUTE_TARGET_NOT_SCOPED
    if code is None:
        return connector, None
    return None, Cause(code, choice.rule, ObjectKind.TRANSPORT_RULE, choice.display)


def _copy(world: World, address: str, rule: str,
          connector: OutboundConnector | None) -> tuple[Hop, bool, frozenset[Assumption]]:
    """A recipient a rule added is not evaluated again (ONE_PASS_PER_ENTRY) and is routed like
    the message: through the rule's connector if there is one, else by its own domain."""
    why = {Assumption.ONE_PASS_PER_ENTRY}
    if connector is not None:
        why.add(Assumption.ADDED_RECIPIENTS_FOLLOW_RULE_ROUTE)
        return Hop(HopKind.COPY, address, connector.name, rules=(rule,)), connector.to_gateway, frozenset(why)
    if world.directory.internal(address):
        return Hop(HopKind.COPY, address, rules=(rule,)), False, frozenset(why)
    selection = select_outbound(world.outbound, address.rpartition("@")[2], False)
    if selection.disputed:
        why.add(Assumption.CONNECTOR_SPECIFICITY)
    chosen = selection.connector
    hop = Hop(HopKind.COPY, address, chosen.name if chosen else "", rules=(rule,))
    return hop, bool(chosen and chosen.to_gateway), frozenset(why)


def _original(world: World, message: Message, entry: Entry, result: PassResult,
              connector: OutboundConnector | None) -> Leg:
    source = entry.arrival.source
    rule = world.rule(result.route.rule) if result.route and connector else None
    if connector is not None and rule is not None:
        hop = Hop(HopKind.ROUTE_RULE, connector.name, rule.name)
        envelope = frozenset({Assumption.ENVELOPE_PER_RECIPIENT}) if rule.envelope_recipient else frozenset()
        return _through(world, message, connector, rule.name, rule.ours, source, hop, envelope)
    if message.recipient.internal:
        event = RouteEvent(source, Target.DELIVER)
        return _end(event, Hop(HopKind.DELIVERED, message.recipient.address))
    selection = select_outbound(world.outbound, message.recipient.domain, False)
    why = frozenset({Assumption.CONNECTOR_SPECIFICITY}) if selection.disputed else frozenset()
    if selection.connector is None:
        event = RouteEvent(source, Target.LEAVE)
        return _end(event, Hop(HopKind.ROUTE_MX), Hop(HopKind.LEFT), exit_headers=_names(message))
    hop = Hop(HopKind.ROUTE_DOMAIN, selection.connector.name)
    return _through(world, message, selection.connector, "", False, source, hop, why)


def _through(world: World, message: Message, connector: OutboundConnector, rule: str, rule_ours: bool,
             source: Source, hop: Hop, why: frozenset[Assumption]) -> Leg:
    if connector.to_gateway:
        event = RouteEvent(source, Target.GATEWAY, connector.name, rule, rule_ours, True)
        if world.gateway.mode is GatewayMode.MONITORING:
            cause = Cause(CauseCode.LOST_AT_GATEWAY, connector.name, ObjectKind.OUTBOUND_CONNECTOR, rule)
            lost = Hop(HopKind.LOST, connector.name)
            return Leg((hop, Hop(HopKind.GATEWAY, _host(connector)), lost), event,
                       end=Verdict.LOST, cause=cause, assumptions=why)
        arrival = Arrival(Source.GATEWAY, world.gateway_ip)
        return Leg((hop, Hop(HopKind.GATEWAY, _host(connector))), event, arrival, message,
                   scanned=True, assumptions=why | {Assumption.GATEWAY_ADDS_NO_HEADER})
    compiled = world.rule(rule) if rule else None
    if connector.rule_scoped and compiled and (connector.product or compiled.loop_guard):
        event = RouteEvent(source, Target.FOREIGN, connector.name, rule, rule_ours, False)
        ip = compiled.return_ip
        arrival = Arrival(Source.FOREIGN, ip, service=connector.name)
        return Leg((hop, Hop(HopKind.FOREIGN, connector.name, ip=format_address(ip))), event, arrival,
                   message, assumptions=why | {Assumption.FOREIGN_SERVICE_RETURNS})
    # Any other connector takes the mail out of the organisation (a journaling or archiving
    # service whose rule guards against nothing coming back).
    event = RouteEvent(source, Target.LEAVE, connector.name, rule, rule_ours, False)
    return _end(event, hop, Hop(HopKind.LEFT, connector.name), exit_headers=_names(message), why=why)


def _end(event: RouteEvent, *hops: Hop, exit_headers: tuple[str, ...] | None = None,
         why: frozenset[Assumption] = frozenset()) -> Leg:
    return Leg(tuple(hops), event, exit_headers=exit_headers, assumptions=why)


def _names(message: Message) -> tuple[str, ...]:
    return tuple(name for name, _ in message.headers)


def _host(connector: OutboundConnector) -> str:
    return connector.smart_hosts[0] if connector.smart_hosts else connector.name
