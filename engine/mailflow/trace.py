"""Following one representative message through the tenant: entry, rule pass, routing, the
gateway or another product's service and back, until it is delivered, leaves, is refused, or
revisits a routing state (a loop). Bounded: 20 entries, and a cap on branches beyond which the
result conservatively includes "loop".
"""
from __future__ import annotations

from dataclasses import dataclass

from exoform.engine.frozen import replace
from exoform.engine.mailflow.admission import Admission, admit
from exoform.engine.mailflow.assumptions import Assumption
from exoform.engine.mailflow.causes import loop_cause
from exoform.engine.mailflow.ipranges import format_address
from exoform.engine.mailflow.message import Arrival, Entry, Message, Source
from exoform.engine.mailflow.passes import run_pass
from exoform.engine.mailflow.results import Branch, Hop, HopKind, PassRecord, RouteEvent, Start, Target
from exoform.engine.mailflow.routing import Step, route
from exoform.engine.mailflow.verdicts import Cause, CauseCode, ObjectKind, Verdict
from exoform.engine.mailflow.world import World

MAX_ENTRIES = 20  # Exchange interrupts a loop after 20 iterations (5.4.14)
MAX_BRANCHES = 64
MAX_STEPS = 256


@dataclass(frozen=True)
class Walk:
    message: Message
    arrival: Arrival
    hops: tuple[Hop, ...] = ()
    fired: tuple[str, ...] = ()
    maybe: tuple[str, ...] = ()
    passes: tuple[PassRecord, ...] = ()
    events: tuple[RouteEvent, ...] = ()
    visited: tuple[tuple[Message, Entry], ...] = ()
    scanned: bool = False
    copied: bool = False
    assumptions: frozenset[Assumption] = frozenset()
    copy_targets: tuple[str, ...] = ()


def trace(world: World, start: Start) -> tuple[tuple[Branch, ...], bool]:
    """Every branch the message can take (depth first, so the order is deterministic), and
    whether the cap was reached."""
    stack = [Walk(start.message, start.arrival)]
    branches: list[Branch] = []
    steps, uncertain = 0, False
    while stack:
        walk = stack.pop()
        steps += 1
        if steps > MAX_STEPS or len(branches) >= MAX_BRANCHES:
            uncertain = True
            branches.append(_capped(walk))
            continue
        found = advance(world, walk)
        if world.context.overflow:
            world.context.overflow, uncertain = False, True
            branches.append(_capped(walk))
        branches.extend(i for i in found if isinstance(i, Branch))
        stack.extend(reversed([i for i in found if isinstance(i, Walk)]))
    return tuple(dict.fromkeys(branches)), uncertain


def advance(world: World, walk: Walk) -> list[Walk | Branch]:
    out: list[Walk | Branch] = []
    for arrival, admission in _admissions(world, walk):
        out.extend(_enter(world, replace(walk, arrival=arrival), admission))
    return out


def _admissions(world: World, walk: Walk) -> list[tuple[Arrival, Admission]]:
    """The gateway sends from any of its ranges: each address the tenant treats differently
    (a rule's range or a connector's list holding one range and not another) is a branch."""
    arrivals = [walk.arrival]
    if walk.arrival.source is Source.GATEWAY:
        arrivals = [replace(walk.arrival, ip=ip) for ip in world.gateway_addresses] or arrivals
    return [(a, admit(a, walk.message, world.inbound, world.directory)) for a in arrivals]


def _enter(world: World, walk: Walk, admission: Admission) -> list[Walk | Branch]:
    walk = replace(walk, assumptions=walk.assumptions | admission.assumptions)
    entry = admission.entry
    if entry is None:
        cause = _fill(admission.rejected, walk)
        hop = _enter_hop(walk.arrival, None)
        return [_end(replace(walk, hops=walk.hops + (hop, Hop(HopKind.REJECTED, cause.object if cause else ""))),
                     Verdict.REJECTED, cause)]
    walk = replace(walk, hops=walk.hops + (_enter_hop(walk.arrival, entry),))
    state = (walk.message, entry)
    if state in walk.visited or len(walk.visited) >= MAX_ENTRIES:
        start = walk.visited.index(state) if state in walk.visited else 0
        cause = loop_cause(walk.events[start:], len(walk.visited) >= MAX_ENTRIES)
        return [_end(replace(walk, hops=walk.hops + (Hop(HopKind.LOOP, cause.object),)), Verdict.LOOP, cause)]
    walk = replace(walk, visited=walk.visited + (state,))
    results = run_pass(world.units, walk.message, entry, world.context)
    return [_continue(walk, route(world, walk.message, entry, result)) for result in results]


def _continue(walk: Walk, step: Step) -> Walk | Branch:
    walk = replace(
        walk, hops=walk.hops + step.hops, fired=walk.fired + tuple(r for h in step.hops for r in h.rules),
        maybe=walk.maybe + tuple(r for h in step.hops for r in h.maybe_rules), passes=walk.passes + (step.record,),
        events=walk.events + ((step.event,) if step.event else ()), scanned=walk.scanned or step.scanned,
        copied=walk.copied or step.copied, assumptions=walk.assumptions | step.assumptions,
        copy_targets=walk.copy_targets + step.copy_targets)
    if step.next_arrival is not None and step.next_message is not None:
        return replace(walk, message=step.next_message, arrival=step.next_arrival)
    if step.end is not None:
        return _end(walk, step.end, step.cause)
    verdict = Verdict.SCANNED if walk.scanned else Verdict.COPIED if walk.copied else Verdict.BYPASSED
    return _end(walk, verdict, None, step.exit_headers)


def _end(walk: Walk, verdict: Verdict, cause: Cause | None,
         exit_headers: tuple[str, ...] | None = None) -> Branch:
    maybe = tuple(dict.fromkeys(m for m in walk.maybe if m not in walk.fired))
    return Branch(verdict, walk.hops, tuple(dict.fromkeys(walk.fired)), maybe, exit_headers, cause,
                  walk.assumptions, walk.passes, walk.events, walk.copy_targets)


def _capped(walk: Walk) -> Branch:
    """Past the cap the model stops guessing: this continuation may loop."""
    cause = Cause(CauseCode.BRANCH_LIMIT)
    return _end(replace(walk, hops=walk.hops + (Hop(HopKind.LOOP),)), Verdict.LOOP, cause)


def _enter_hop(arrival: Arrival, entry: Entry | None) -> Hop:
    connector = entry.connector if entry else ""
    kind = entry.connector_type.value if entry else ""
    name = connector or arrival.service
    return Hop(HopKind.ENTER, name, kind, arrival.source, format_address(arrival.ip))


_RELAY = frozenset({CauseCode.RELAY_NOT_ONPREMISES, CauseCode.RELAY_NO_CONNECTOR, CauseCode.RELAY_NULL_SENDER,
                    CauseCode.RELAY_SENDER_DOMAIN})


def _fill(cause: Cause | None, walk: Walk) -> Cause | None:
    """A refused relay of mail that exoform's own rule did not send to the gateway is blamed on
    what did send it there; one with no connector to blame names the connector that took the
    message to the service it comes back from."""
    last = walk.events[-1] if walk.events else None
    if cause is None or last is None:
        return cause
    if cause.code in _RELAY and last.target is Target.GATEWAY and not last.rule_ours:
        kind = ObjectKind.TRANSPORT_RULE if last.rule else ObjectKind.OUTBOUND_CONNECTOR
        return Cause(cause.code, last.rule or last.connector, kind, cause.object)
    if cause.object or not last.connector:
        return cause
    return replace(cause, object=last.connector, kind=ObjectKind.OUTBOUND_CONNECTOR)
