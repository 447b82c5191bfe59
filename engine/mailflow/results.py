"""What a trace returns: the typed hops of each branch a message can take, the branch's
verdict and cause, and per class the `Path` with every possible verdict and whether all of them
are acceptable under the intent.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from exoform.engine.mailflow.assumptions import Assumption
from exoform.engine.mailflow.expectations import Expectation
from exoform.engine.mailflow.message import Arrival, Message, Source
from exoform.engine.mailflow.rules import Outcome
from exoform.engine.mailflow.verdicts import Cause, MessageClass, Verdict


class HopKind(str, Enum):
    ENTER = "enter"  # a copy enters the tenant (source, connector, sending address)
    RULES = "rules"  # a rule pass
    ROUTE_RULE = "route_rule"  # a rule's RouteMessageOutboundConnector chose the connector
    ROUTE_DOMAIN = "route_domain"  # the connector for the recipient domain
    ROUTE_MX = "route_mx"
    COPY = "copy"  # a recipient a rule added, and where its copy went
    GATEWAY = "gateway"  # exoform's gateway received the message in-line
    FOREIGN = "foreign"  # another product's service received it (and sends it back)
    DELIVERED = "delivered"  # to the recipient's mailbox
    LEFT = "left"  # left the organisation (connector or MX)
    REJECTED = "rejected"
    WITHHELD = "withheld"
    LOST = "lost"
    LOOP = "loop"


@dataclass(frozen=True)
class Hop:
    kind: HopKind
    name: str = ""  # the object: connector, rule, address or gateway smart host
    via: str = ""  # ROUTE_RULE: the rule; COPY: the connector ("" MX or mailbox); ENTER: connector type
    source: Source | None = None  # ENTER
    ip: str = ""  # ENTER: the last hop's address ("" unknown)
    rules: tuple[str, ...] = ()  # RULES: rules that fired
    maybe_rules: tuple[str, ...] = ()  # RULES: rules that may have fired
    stopped_by: str = ""  # RULES: the rule that stopped the pass


class Target(str, Enum):
    GATEWAY = "gateway"
    FOREIGN = "foreign"
    LEAVE = "leave"
    DELIVER = "deliver"


@dataclass(frozen=True)
class RouteEvent:
    """One routing decision, with the entry it was made on (for loop attribution)."""

    source: Source
    target: Target
    connector: str = ""
    rule: str = ""  # the rule that chose the connector ("" by domain or MX)
    rule_ours: bool = False
    connector_ours: bool = False  # goes to exoform's gateway


@dataclass(frozen=True)
class PassRecord:
    source: Source
    ours: tuple[tuple[str, Outcome], ...]  # exoform's rules the pass reached
    stopped_by: str
    route_rule: str  # the rule whose connector the pass chose ("" none)
    copy_rules: tuple[str, ...]
    route_problem: Cause | None  # the chosen connector was unusable


@dataclass(frozen=True)
class Branch:
    verdict: Verdict
    hops: tuple[Hop, ...]
    rules: tuple[str, ...]  # rules that fired, in order, over every pass
    maybe_rules: tuple[str, ...]
    exit_headers: tuple[str, ...] | None  # header names when it left the organisation
    cause: Cause | None
    assumptions: frozenset[Assumption]
    passes: tuple[PassRecord, ...]
    events: tuple[RouteEvent, ...]
    copy_targets: tuple[str, ...] = ()  # connectors the rule-added copies went through

    @property
    def stops(self) -> tuple[str, ...]:
        return tuple(p.stopped_by for p in self.passes if p.stopped_by)


@dataclass(frozen=True)
class Start:
    """The representative message of a class and how it first reaches the tenant."""

    message_class: MessageClass
    message: Message
    arrival: Arrival


@dataclass(frozen=True)
class Path:
    message_class: MessageClass
    start: Start
    branches: tuple[Branch, ...]
    possible: frozenset[Verdict]
    expectation: Expectation
    uncertain: bool  # the branch cap was reached: "may loop" was added conservatively

    @property
    def ok(self) -> bool:
        return self.possible <= self.expectation.acceptable

    @property
    def verdict(self) -> Verdict | None:
        """The verdict when there is only one possible."""
        return next(iter(self.possible)) if len(self.possible) == 1 else None

    @property
    def causes(self) -> tuple[Cause, ...]:
        found = [b.cause for b in self.branches if b.cause and b.verdict not in self.expectation.acceptable]
        return tuple(dict.fromkeys(found))

    @property
    def assumptions(self) -> frozenset[Assumption]:
        return frozenset().union(*(b.assumptions for b in self.branches))
