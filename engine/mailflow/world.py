"""One tenant state compiled for tracing: the rule program (foreign runs as cached segments,
exoform's rules alone), the connectors, the directory and the gateway's addresses. Built by the
`Simulator`, which reuses every compiled object across the states of a plan.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from exoform.engine.mailflow.connectors import InboundConnector, OutboundConnector
from exoform.engine.mailflow.directory import Directory
from exoform.engine.mailflow.ipranges import IpRanges
from exoform.engine.mailflow.passes import PassContext, Segment, Unit
from exoform.engine.mailflow.rules import CompiledRule, RuleRole
from exoform.engine.mailflow.tenant import Gateway, Intent


@dataclass(frozen=True, eq=False)
class World:
    intent: Intent
    gateway: Gateway
    gateway_ranges: IpRanges
    gateway_ip: int | None  # where the gateway sends mail back from (its first range)
    gateway_addresses: tuple[int, ...]  # one address of each of its ranges
    directory: Directory
    rules: tuple[CompiledRule, ...]  # in priority order
    units: tuple[Unit, ...]
    inbound: tuple[InboundConnector, ...]
    outbound: tuple[OutboundConnector, ...]
    context: PassContext
    positions: Mapping[str, int]  # casefolded rule name -> index in `rules` (names are unique)
    outbound_by_key: Mapping[str, OutboundConnector]

    def rule(self, name: str) -> CompiledRule | None:
        at = self.positions.get(name.casefold())
        return None if at is None else self.rules[at]

    def position(self, name: str) -> int:
        return self.positions.get(name.casefold(), -1)

    def outbound_connector(self, key: str) -> OutboundConnector | None:
        return self.outbound_by_key.get(key)

    def our_rule(self, role: RuleRole) -> CompiledRule | None:
        return next((r for r in self.rules if r.ours and r.role is role), None)

    @property
    def first_ours(self) -> int:
        return next((i for i, r in enumerate(self.rules) if r.ours), -1)


def program(rules: tuple[CompiledRule, ...], keys: tuple[int, ...]) -> tuple[Unit, ...]:
    """Enabled rules in order: runs of foreign rules become segments (keyed by the identities of
    their Get- objects), exoform's rules stay single so their outcomes are recorded."""
    units: list[Unit] = []
    run: list[tuple[CompiledRule, int]] = []
    for rule, key in zip(rules, keys):
        if rule.ours:
            _flush(run, units)
            units.append(rule)
        elif rule.enabled:
            run.append((rule, key))
    _flush(run, units)
    return tuple(units)


def _flush(run: list[tuple[CompiledRule, int]], units: list[Unit]) -> None:
    if run:
        units.append(Segment(tuple(k for _, k in run), tuple(r for r, _ in run)))
        run.clear()
