"""Ordering a plan's work as a dependency graph (graphlib): connectors before the rules that
route through them on create/update, rules before their connectors on delete, a replacement's
delete before its create (or, created first, the old object deleted once everything that
referenced it points to the new one), and a rule that stops referencing a connector before that
connector changes. Ties break deterministically: deletes first, then by kind and rule order.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Callable, Iterable, Mapping

from exoform.engine.errors import PlanError
from exoform.engine.kinds import handler, spec
from exoform.engine.kinds.base import APPLY, DESTROY, ENABLE
from exoform.engine.model import KIND_ORDER, Action, Address, Kind
from exoform.engine.plan import ResourceChange


Before = Callable[["Node", "Node"], None]


@dataclass(frozen=True, order=True)
class Node:
    """One phase of one resource: its delete (`destroy`), create/update (`apply`) or `enable`."""

    phase: str
    address: Address


def nodes_for(change: ResourceChange) -> list[Node]:
    return [Node(phase, change.address) for phase in handler(change.address.kind).phases(change)]


def _ref_names(change: ResourceChange, side: str) -> set[tuple[Kind, str]]:
    attrs = change.before_dict if side == "before" else change.after_dict
    return spec(change.address.kind).references_in(attrs)


def detaches(change: ResourceChange, target: ResourceChange) -> bool:
    """`change` drops its hard reference (e.g. RouteMessageOutboundConnector) to `target`,
    rather than keeping it or following the target to a new name."""
    if target.before is None:
        return False
    kind = target.address.kind
    names = {str(d.get("Name", "")).casefold() for d in (target.before_dict, target.after_dict) if d}
    old = (kind, str(target.before_dict.get("Name", "")).casefold())
    kept = {(kind, n) for n in names} & _ref_names(change, "after")
    return old in _ref_names(change, "before") and not kept


def edges(
    changes: Mapping[Address, ResourceChange], prior_deps: Mapping[Address, tuple[Address, ...]]
) -> dict[Node, set[Node]]:
    """node -> the nodes that must run before it."""
    nodes = {n for c in changes.values() for n in nodes_for(c)}
    preds: dict[Node, set[Node]] = {n: set() for n in nodes}

    def before(first: Node, then: Node) -> None:
        if first in nodes and then in nodes and first != then:
            preds[then].add(first)

    for address, change in changes.items():
        if change.action is Action.CREATE_THEN_DELETE:
            before(Node(APPLY, address), Node(DESTROY, address))
        else:
            before(Node(DESTROY, address), Node(APPLY, address))
        before(Node(APPLY, address), Node(ENABLE, address))
        for dep in change.dependencies:
            before(Node(APPLY, dep), Node(ENABLE, address))
            before(Node(ENABLE, dep), Node(ENABLE, address))
            target = changes.get(dep)
            if target is not None and target.action is Action.CREATE_THEN_DELETE:
                before(Node(APPLY, address), Node(DESTROY, dep))  # re-pointed before the old goes
            # Only an in-place update must drop its reference before the target changes; a
            # replacement's delete already runs first, and its create follows the target.
            if target is not None and change.action is Action.UPDATE and detaches(change, target):
                before(Node(APPLY, address), Node(APPLY, dep))
                before(Node(APPLY, address), Node(DESTROY, dep))
            else:
                before(Node(APPLY, dep), Node(APPLY, address))
        for dep in prior_deps.get(address, ()):
            before(Node(DESTROY, address), Node(DESTROY, dep))
    _reference_edges(changes, before)
    for kind in sorted({a.kind for a in changes}, key=lambda k: k.value):
        for (first_phase, first), (then_phase, then) in handler(kind).ordering(changes):
            before(Node(first_phase, first), Node(then_phase, then))
    return preds


def _reference_edges(changes: Mapping[Address, ResourceChange], before: "Before") -> None:
    """An object that still names another as it is now (a rule routing through a connector)
    must be re-pointed in place, or deleted, before that other object is deleted - whatever
    the state recorded (a deposed connector, an object found by its marker)."""
    deleted = {(c.address.kind, str(c.before_dict.get("Name", "")).casefold()): c.address
               for c in changes.values() if c.before is not None and c.action is Action.DELETE}
    for address, change in changes.items():
        for ref in _ref_names(change, "before") & set(deleted):
            target = deleted[ref]
            if change.action is Action.UPDATE:
                before(Node(APPLY, address), Node(DESTROY, target))
            before(Node(DESTROY, address), Node(DESTROY, target))


def node_key(rank: Mapping[Address, int]) -> Callable[[Node], tuple[int, int, str]]:
    """The tie-break among ready nodes: deletes first (rules before their connectors), then
    creates and updates in kind and rule order, then enabling."""
    def key(node: Node) -> tuple[int, int, str]:
        position = rank.get(node.address, 0)
        if node.phase == DESTROY:
            return (0, -position, str(node.address))
        return (1 if node.phase == APPLY else 2, position, str(node.address))
    return key


def schedule(preds: Mapping[Node, set[Node]], rank: Mapping[Address, int]) -> list[Node]:
    """A topological order; among ready nodes the smallest (phase, rank, address) runs first."""
    sorter: TopologicalSorter[Node] = TopologicalSorter(preds)
    try:
        sorter.prepare()
    except CycleError as error:
        cycle = " -> ".join(f"{n.phase} {n.address}" for n in error.args[1])
        raise PlanError(f"the plan has a dependency cycle: {cycle}") from None
    key = node_key(rank)
    ready: list[tuple[tuple[int, int, str], Node]] = []
    order: list[Node] = []
    while sorter.is_active():
        for node in sorter.get_ready():
            heapq.heappush(ready, (key(node), node))
        _, node = heapq.heappop(ready)
        order.append(node)
        sorter.done(node)
    return order


def kind_rank(addresses: Iterable[Address], rule_order: tuple[Address, ...]) -> dict[Address, int]:
    """Create order: inbound connector, allow list, outbound connector, rules in rule order."""
    ranks = {}
    for address in addresses:
        base = KIND_ORDER.index(address.kind) * 100
        extra = rule_order.index(address) if address in rule_order else 50
        ranks[address] = base + extra
    return ranks
