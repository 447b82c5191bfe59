"""The mail flow as a graph, for views to draw (Mermaid, Graphviz): the internet, mailboxes,
connectors, the rules that route, copy or stop, exoform's gateway and other products' services
as nodes; each consecutive pair of hops a class takes as an edge labelled with the classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from exoform.engine.mailflow.message import Source
from exoform.engine.mailflow.results import Branch, Hop, HopKind
from exoform.engine.mailflow.simulator import Simulation
from exoform.engine.mailflow.verdicts import MessageClass


class NodeKind(str, Enum):
    INTERNET = "internet"
    MAILBOXES = "mailboxes"
    INBOUND_CONNECTOR = "inbound_connector"
    OUTBOUND_CONNECTOR = "outbound_connector"
    RULE = "rule"
    GATEWAY = "gateway"
    FOREIGN_GATEWAY = "foreign_gateway"
    REJECTED = "rejected"  # where refused mail ends
    WITHHELD = "withheld"
    LOST = "lost"


class EdgeKind(str, Enum):
    MAIL = "mail"
    COPY = "copy"  # a rule-added recipient's copy


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    name: str  # the Exchange object name or smart host ("" for the internet, mailboxes)
    ours: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    classes: tuple[MessageClass, ...]


@dataclass(frozen=True)
class FlowGraph:
    nodes: tuple[Node, ...]  # sorted by id
    edges: tuple[Edge, ...]  # sorted by (source, target, kind)


def flow_graph(simulation: Simulation, classes: Iterable[MessageClass] | None = None) -> FlowGraph:
    wanted = set(classes) if classes is not None else None
    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str, EdgeKind], list[MessageClass]] = {}
    for path in simulation.paths:
        if wanted is not None and path.message_class not in wanted:
            continue
        for branch in path.branches:
            for source, target, kind in _walk(branch, simulation, nodes):
                seen = edges.setdefault((source, target, kind), [])
                if path.message_class not in seen:
                    seen.append(path.message_class)
    order = list(MessageClass)
    return FlowGraph(
        tuple(sorted(nodes.values(), key=lambda n: n.id)),
        tuple(Edge(s, t, k, tuple(sorted(c, key=order.index))) for (s, t, k), c in sorted(edges.items())))


def _walk(branch: Branch, simulation: Simulation, nodes: dict[str, Node]) -> list[tuple[str, str, EdgeKind]]:
    out: list[tuple[str, str, EdgeKind]] = []
    here = ""
    for hop in branch.hops:
        if hop.kind is HopKind.COPY:
            out.extend(_copy_edges(hop, simulation, nodes))
            continue
        for node in _nodes_of(hop, simulation, nodes):
            if here and node != here:
                out.append((here, node, EdgeKind.MAIL))
            here = node
    return out


def _copy_edges(hop: Hop, simulation: Simulation, nodes: dict[str, Node]) -> list[tuple[str, str, EdgeKind]]:
    """rule -> connector -> gateway (when the connector is exoform's) for a rule-added copy."""
    if not hop.via or not hop.rules:
        return []
    rule = _node(nodes, simulation, NodeKind.RULE, hop.rules[0])
    connector = _node(nodes, simulation, NodeKind.OUTBOUND_CONNECTOR, hop.via)
    edges = [(rule, connector, EdgeKind.COPY)]
    if hop.via.casefold() in simulation.ours:
        edges.append((connector, _node(nodes, simulation, NodeKind.GATEWAY, ""), EdgeKind.COPY))
    return edges


def _nodes_of(hop: Hop, simulation: Simulation, nodes: dict[str, Node]) -> list[str]:
    kind = hop.kind
    if kind is HopKind.ENTER:
        origin = {Source.MAILBOX: (NodeKind.MAILBOXES, ""), Source.INTERNET: (NodeKind.INTERNET, ""),
                  Source.GATEWAY: (NodeKind.GATEWAY, simulation.gateway.smart_hosts[0] if simulation.gateway.smart_hosts else "")}
        source = hop.source or Source.INTERNET
        first = (_node(nodes, simulation, *origin[source]) if source in origin
                 else _node(nodes, simulation, NodeKind.FOREIGN_GATEWAY, hop.name))
        if hop.via:  # attributed to an inbound connector
            return [first, _node(nodes, simulation, NodeKind.INBOUND_CONNECTOR, hop.name)]
        return [first]
    if kind is HopKind.RULES:
        decisive = hop.stopped_by
        return [_node(nodes, simulation, NodeKind.RULE, decisive)] if decisive else []
    simple = {HopKind.DELIVERED: (NodeKind.MAILBOXES, ""), HopKind.LEFT: (NodeKind.INTERNET, ""),
              HopKind.ROUTE_RULE: (NodeKind.OUTBOUND_CONNECTOR, hop.name),
              HopKind.ROUTE_DOMAIN: (NodeKind.OUTBOUND_CONNECTOR, hop.name),
              HopKind.GATEWAY: (NodeKind.GATEWAY, hop.name), HopKind.FOREIGN: (NodeKind.FOREIGN_GATEWAY, hop.name),
              HopKind.REJECTED: (NodeKind.REJECTED, ""), HopKind.WITHHELD: (NodeKind.WITHHELD, ""),
              HopKind.LOST: (NodeKind.LOST, "")}
    if kind is HopKind.ROUTE_RULE:
        return [_node(nodes, simulation, NodeKind.RULE, hop.via), _node(nodes, simulation, *simple[kind])]
    if kind is HopKind.WITHHELD and hop.name:  # the rule that withheld it, then where it ends
        return [_node(nodes, simulation, NodeKind.RULE, hop.name), _node(nodes, simulation, *simple[kind])]
    return [_node(nodes, simulation, *simple[kind])] if kind in simple else []


def _node(nodes: dict[str, Node], simulation: Simulation, kind: NodeKind, name: str) -> str:
    ident = f"{kind.value}:{name.casefold()}" if name else kind.value
    if kind is NodeKind.GATEWAY:
        ident = "gateway"
    if ident not in nodes:
        ours = kind is NodeKind.GATEWAY or name.casefold() in simulation.ours
        nodes[ident] = Node(ident, kind, name, ours)
    return ident
