"""Which object is responsible when a class does not get its intended verdict: the rule or
connector that closes a loop, the rule that stopped processing above exoform's, or why
exoform's own rule did not send the message to the gateway.
"""
from __future__ import annotations

from typing import Callable, Sequence

from exoform.engine.mailflow.message import Source
from exoform.engine.mailflow.results import Branch, PassRecord, RouteEvent, Target
from exoform.engine.mailflow.rules import Outcome, RuleRole
from exoform.engine.mailflow.tenant import Direction, GatewayMode
from exoform.engine.mailflow.verdicts import Cause, CauseCode, MessageClass, ObjectKind, Verdict
from exoform.engine.mailflow.world import World

_RULE, _OUT = ObjectKind.TRANSPORT_RULE, ObjectKind.OUTBOUND_CONNECTOR


def loop_cause(cycle: Sequence[RouteEvent], hop_limit: bool) -> Cause:
    """The decision in the cycle to blame, most specific first: another product's rule taking
    mail that came back from the gateway, a connector sending to the gateway outside exoform's
    rules, a rule routing the gateway's own returning mail, exoform's connector leading
    elsewhere, another product looping alone."""
    tests: tuple[tuple[CauseCode, Callable[[RouteEvent], bool]], ...] = (
        (CauseCode.FOREIGN_ROUTES_GATEWAY_RETURN,
         lambda e: e.source is Source.GATEWAY and e.target is Target.FOREIGN and not e.rule_ours),
        (CauseCode.CONNECTOR_TO_GATEWAY, lambda e: e.target is Target.GATEWAY and not e.rule),
        (CauseCode.MISSING_GATEWAY_EXCEPTION,
         lambda e: e.target is Target.GATEWAY and bool(e.rule) and e.source is Source.GATEWAY),
        (CauseCode.CONNECTOR_NOT_GATEWAY, lambda e: e.target is Target.FOREIGN and e.rule_ours),
        (CauseCode.FOREIGN_SELF_LOOP, lambda e: e.target is Target.FOREIGN and e.source is Source.FOREIGN),
        (CauseCode.ROUTING_CYCLE, lambda e: bool(e.rule or e.connector)),
    )
    for code, test in tests:
        for event in cycle:
            if not test(event):
                continue
            if event.rule and code is not CauseCode.CONNECTOR_NOT_GATEWAY:
                return Cause(code, event.rule, _RULE, event.connector)
            # exoform's rule is right; its connector no longer leads to the gateway
            return Cause(code, event.connector, _OUT, event.rule)
    return Cause(CauseCode.HOP_LIMIT if hop_limit else CauseCode.ROUTING_CYCLE)


def outcome_cause(world: World, branch: Branch, message_class: MessageClass,
                  direction: Direction | None, intended: Verdict) -> Cause | None:
    """Why a delivered branch did not get the intended verdict (loops, rejections, losses and
    withheld mail carry their cause already)."""
    if branch.cause is not None or branch.verdict not in (Verdict.SCANNED, Verdict.COPIED, Verdict.BYPASSED):
        return branch.cause
    if intended is Verdict.BYPASSED:
        return _unintended(branch, message_class)
    return _missed(world, branch, direction)


def _unintended(branch: Branch, message_class: MessageClass) -> Cause:
    """The class reached the gateway although it should not: who sent it there."""
    for event in branch.events:
        if event.target is Target.GATEWAY:
            if not event.rule:
                return Cause(CauseCode.GATEWAY_UNINTENDED, event.connector, _OUT)
            recall = message_class is MessageClass.RECALL_REPORT and event.rule_ours
            return Cause(CauseCode.RECALL_ROUTED if recall else CauseCode.GATEWAY_UNINTENDED, event.rule, _RULE,
                         event.connector)
    copier = next((r for p in branch.passes for r in p.copy_rules), "")
    return Cause(CauseCode.GATEWAY_UNINTENDED, copier, _RULE)


def _missed(world: World, branch: Branch, direction: Direction | None) -> Cause:
    """The class should have reached the gateway: what stopped exoform's rule."""
    role = RuleRole.OUTBOUND if direction is Direction.OUTBOUND else RuleRole.INBOUND
    ours = world.our_rule(role)
    if ours is None:
        return Cause(CauseCode.NO_RULE, world.intent.integration, ObjectKind.INTEGRATION, role.value)
    first = branch.passes[0] if branch.passes else None
    outcome = dict(first.ours).get(ours.name) if first else None
    if first is None or outcome is None:
        stopper = first.stopped_by if first else ""
        if stopper:
            return Cause(CauseCode.STOPS_PROCESSING, stopper, _RULE, ours.name)
        return Cause(CauseCode.RULE_NOT_MATCHED, ours.name, _RULE)
    simple = {Outcome.DISABLED: CauseCode.RULE_DISABLED, Outcome.NOT_ACTIVE: CauseCode.RULE_NOT_ACTIVE,
              Outcome.AUDIT: CauseCode.RULE_AUDIT, Outcome.NOT_MATCHED: CauseCode.RULE_NOT_MATCHED,
              Outcome.EXCEPTED: CauseCode.RULE_EXCEPTED, Outcome.MAYBE: CauseCode.RULE_NOT_MATCHED}
    if outcome in simple:
        return Cause(simple[outcome], ours.name, _RULE)
    return _fired_but_missed(world, branch, first, ours.name)


def _fired_but_missed(world: World, branch: Branch, first: PassRecord, ours: str) -> Cause:
    if world.gateway.mode is GatewayMode.MONITORING:
        target = next((t for t in branch.copy_targets if t), "")
        return Cause(CauseCode.COPY_NOT_DELIVERED, ours, _RULE, target)
    if first.route_problem is not None:
        return first.route_problem
    if first.route_rule and first.route_rule.casefold() != ours.casefold():
        return Cause(CauseCode.ROUTE_OVERRIDDEN, first.route_rule, _RULE, ours)
    event = branch.events[0] if branch.events else None
    return Cause(CauseCode.CONNECTOR_NOT_GATEWAY, event.connector if event else "", _OUT, ours)
