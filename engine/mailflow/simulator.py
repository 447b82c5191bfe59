"""The entry point: a `Simulator` traces every message class through a tenant state and turns
the traces into findings, comparing with the same tenant without exoform's objects. It keeps
what it compiled (rules, connectors, rule-segment results) across the states of one plan, keyed
by the identity of the Get- objects it holds, so repeated states are cheap.
"""
from __future__ import annotations

from dataclasses import dataclass

from exoform.engine.frozen import replace
from datetime import datetime
from typing import Any, Callable, TypeVar

from exoform.engine.mailflow.assumptions import Assumption
from exoform.engine.mailflow.classes import recall_direction, representatives
from exoform.engine.mailflow.connectors import (
    InboundConnector, OutboundConnector, compile_inbound, compile_outbound)
from exoform.engine.mailflow.causes import outcome_cause
from exoform.engine.mailflow.directory import Directory
from exoform.engine.mailflow.expectations import direction_of, expectation
from exoform.engine.mailflow.findings import Finding, path_findings, stopped_findings
from exoform.engine.mailflow.ipranges import parse_ranges, union_all
from exoform.engine.mailflow.passes import PassContext, SegmentCache
from exoform.engine.mailflow.results import Path, Start
from exoform.engine.mailflow.rules import CompiledRule, compile_rule
from exoform.engine.mailflow.tenant import Gateway, GetObject, Intent, MailTenant
from exoform.engine.mailflow.trace import trace
from exoform.engine.mailflow.verdicts import MessageClass, Verdict
from exoform.engine.mailflow.world import World, program

T = TypeVar("T")
_FAILURES = frozenset({Verdict.LOOP, Verdict.REJECTED, Verdict.LOST})


@dataclass(frozen=True)
class Simulation:
    paths: tuple[Path, ...]  # one per class, in MessageClass order
    findings: tuple[Finding, ...]  # sorted by ID
    baseline: tuple[Path, ...]  # the same classes in the tenant without exoform's objects
    ours: frozenset[str]  # casefolded names of exoform's objects in the tenant
    intent: Intent
    gateway: Gateway

    def path(self, message_class: MessageClass) -> Path | None:
        return next((p for p in self.paths if p.message_class is message_class), None)

    @property
    def ok(self) -> bool:
        """Every class gets only acceptable verdicts."""
        return all(p.ok for p in self.paths)

    @property
    def assumptions(self) -> frozenset[Assumption]:
        """Every named assumption some path relied on (the output cites them)."""
        return frozenset().union(*(p.assumptions for p in self.paths))

    @property
    def safe(self) -> bool:
        """No class may loop, be rejected or be lost (the check for a plan's every step)."""
        return not any(p.possible & _FAILURES for p in self.paths)


@dataclass(frozen=True)
class _Compiled:
    rules: tuple[CompiledRule, ...]
    keys: tuple[int, ...]  # id() of each rule's Get- object (held by the Simulator)
    inbound: tuple[InboundConnector, ...]
    outbound: tuple[OutboundConnector, ...]


class Simulator:
    """Simulates the states of one plan for one gateway and intent."""

    def __init__(self, gateway: Gateway, intent: Intent, at: datetime | None = None) -> None:
        self.gateway, self.intent, self.at = gateway, intent, at
        self._ranges = parse_ranges(gateway.ip_ranges)
        self._gateway_addresses = tuple(_host(span) for span in self._ranges.spans)
        self._gateway_ip = self._gateway_addresses[0] if self._gateway_addresses else None
        # id(obj) -> (obj, compiled), one cache per kind of object
        self._compiled: dict[str, dict[int, tuple[GetObject, Any]]] = {"rule": {}, "in": {}, "out": {}}
        self._segments: SegmentCache = {}
        self._baselines: dict[tuple[object, ...], tuple[tuple[Path, ...], tuple[Finding, ...]]] = {}
        self._directory: tuple[object, object, Directory] | None = None
        self._representatives: dict[tuple[object, ...], tuple[Start, ...]] = {}
        self._directories: list[Directory] = []

    def sharing(self, intent: Intent) -> "Simulator":
        """A simulator for another intent of the same integration and gateway that reuses what
        this one compiled and evaluated (neither depends on the intent; representatives and
        baselines do, and are not shared)."""
        other = Simulator(self.gateway, intent, self.at)
        other._compiled, other._segments = self._compiled, self._segments
        other._directory, other._directories = self._directory, self._directories
        return other

    def simulate(self, tenant: MailTenant) -> Simulation:
        compiled = self._compiled_state(tenant)
        world = self._world(tenant, compiled, keep_ours=True)
        starts = self._starts(world, tenant)
        paths = tuple(self._path(world, s) for s in starts)
        base_paths, base_findings = self._baseline(tenant, compiled, starts)
        earlier = {f.id for f in base_findings}
        found = path_findings(world, paths) + stopped_findings(world, paths, base_paths)
        findings = tuple(sorted((replace(f, preexisting=f.id in earlier) for f in found), key=lambda f: f.id))
        ours = frozenset(r.key for r in world.rules if r.ours) | frozenset(
            c.name.casefold() for c in world.inbound if c.ours) | frozenset(c.key for c in world.outbound if c.ours)
        return Simulation(paths, findings, base_paths, ours, self.intent, self.gateway)

    def trace(self, tenant: MailTenant, message_class: MessageClass) -> Path | None:
        return self.simulate(tenant).path(message_class)

    # ---- compiling, with the identity caches ---------------------------------------------

    def _compiled_state(self, tenant: MailTenant) -> _Compiled:
        name, at, ranges, gateway = self.intent.integration, self.at, self._ranges, self.gateway
        rules = self._each("rule", tenant.rules, lambda o: compile_rule(o, name, ranges, at))
        inbound = self._each("in", tenant.inbound_connectors, lambda o: compile_inbound(o, name))
        outbound = self._each("out", tenant.outbound_connectors, lambda o: compile_outbound(o, name, gateway))
        return _Compiled(rules, tuple(id(o) for o in tenant.rules), inbound, outbound)

    def _each(self, kind: str, objects: tuple[GetObject, ...], build: Callable[[GetObject], T]) -> tuple[T, ...]:
        held, out = self._compiled[kind], []
        for obj in objects:
            found = held.get(id(obj))
            if found is None or found[0] is not obj:
                found = (obj, build(obj))  # holding obj keeps its id from being reused
                held[id(obj)] = found
            out.append(found[1])
        return tuple(out)

    def _world(self, tenant: MailTenant, compiled: _Compiled, keep_ours: bool) -> World:
        rules, keys, inbound, outbound = compiled.rules, compiled.keys, compiled.inbound, compiled.outbound
        if not keep_ours:
            kept = [(r, k) for r, k in zip(rules, keys) if not r.ours]
            rules, keys = tuple(r for r, _ in kept), tuple(k for _, k in kept)
            inbound = tuple(c for c in inbound if not c.ours)
            outbound = tuple(c for c in outbound if not c.ours)
        watched = frozenset().union(*(r.reads for r in rules if r.enabled and r.reads))
        if self.gateway.header_name:
            watched |= {self.gateway.header_name.casefold()}
        directory = self._directory_of(tenant)
        context = PassContext(directory, watched, self._segments)
        addresses = self._distinct_addresses(rules, inbound)
        positions = {r.key: i for i, r in reversed(list(enumerate(rules)))}  # the first of a name wins
        by_key = {c.key: c for c in reversed(outbound)}
        return World(self.intent, self.gateway, self._ranges, self._gateway_ip, addresses, directory, rules,
                     program(rules, keys), inbound, outbound, context, positions, by_key)

    def _distinct_addresses(self, rules: tuple[CompiledRule, ...],
                            inbound: tuple[InboundConnector, ...]) -> tuple[int, ...]:
        """One gateway address per way the tenant treats them: addresses every rule range and
        connector address list contains alike behave alike."""
        if len(self._gateway_addresses) < 2:
            return self._gateway_addresses
        sets = [r.sender_ranges for r in rules if r.sender_ranges] + [r.except_ranges for r in rules if r.except_ranges]
        sets += [c.sender_ips for c in inbound if c.sender_ips]
        seen: dict[tuple[bool, ...], int] = {}
        for ip in self._gateway_addresses:
            seen.setdefault(tuple(s.contains(ip) for s in sets), ip)
        return tuple(seen.values())

    def _directory_of(self, tenant: MailTenant) -> Directory:
        held = self._directory
        if held is not None and held[0] is tenant.accepted_domains and held[1] is tenant.recipients:
            return held[2]
        if held is not None and held[0] == tenant.accepted_domains and held[1] == tenant.recipients:
            return held[2]
        directory = Directory.of(tenant)
        self._directory = (tenant.accepted_domains, tenant.recipients, directory)
        self._directories.append(directory)  # cached segment results name it by identity
        return directory

    def _starts(self, world: World, tenant: MailTenant) -> tuple[Start, ...]:
        named = union_all([self._ranges, parse_ranges(tenant.allow_list)] + [r.named_ranges for r in world.rules]
                          + [c.sender_ips for c in world.inbound])
        domains = tuple(sorted({d for c in world.outbound for d in c.recipient_domains}
                               | {d for c in world.inbound for d in c.sender_domains}))
        key = (world.directory, named, domains, world.inbound)
        starts = self._representatives.get(key)
        if starts is None:
            starts = representatives(self.intent, world.directory, world.inbound, named, domains)
            self._representatives[key] = starts
        return starts

    # ---- tracing ---------------------------------------------------------------------------

    def _path(self, world: World, start: Start) -> Path:
        branches, uncertain = trace(world, start)
        recall = recall_direction(self.intent)
        expected = expectation(self.intent, start.message_class, recall)
        direction = direction_of(start.message_class, recall)
        explained = tuple(
            b if b.verdict in expected.acceptable
            else replace(b, cause=outcome_cause(world, b, start.message_class, direction, expected.intended))
            for b in branches)
        if start.message_class is MessageClass.RECALL_REPORT:
            # The class itself rests on what the recall header means.
            explained = tuple(replace(b, assumptions=b.assumptions | {Assumption.RECALL_HEADER_ON_REPORTS})
                              for b in explained)
        possible = frozenset(b.verdict for b in explained)
        return Path(start.message_class, start, explained, possible, expected, uncertain)

    def _baseline(self, tenant: MailTenant, compiled: _Compiled,
                  starts: tuple[Start, ...]) -> tuple[tuple[Path, ...], tuple[Finding, ...]]:
        """The same classes in the tenant without exoform's objects: the foreign objects are the
        same between a plan's states, so this is traced once per plan."""
        key = (tuple(k for r, k in zip(compiled.rules, compiled.keys) if not r.ours),
               tuple(id(c) for c in compiled.inbound if not c.ours),
               tuple(id(c) for c in compiled.outbound if not c.ours), self._directory_of(tenant), starts)
        held = self._baselines.get(key)
        if held is None:
            world = self._world(tenant, compiled, keep_ours=False)
            paths = tuple(self._path(world, s) for s in starts)
            held = (paths, tuple(path_findings(world, paths)))
            self._baselines[key] = held
        return held


def _host(span: tuple[int, int]) -> int:
    """A representative sending address of a range: its first host."""
    low, high = span
    return low + 1 if high - low >= 2 else low
