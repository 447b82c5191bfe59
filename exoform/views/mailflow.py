"""Views of the mail-flow model (engine/mailflow): the flow graph as Mermaid or Graphviz dot,
and a plain-text table of every class's verdicts with the assumptions relied on. Pure
functions of the model's data (a finding's sentence is `engine/mailflow/describe.py`).
"""
from __future__ import annotations

from typing import Iterable

from exoform.engine.mailflow import ASSUMPTIONS, EdgeKind, FlowGraph, Hop, HopKind, MessageClass, NodeKind, Simulation, Verdict


def render_table(simulation: Simulation) -> str:
    """class | possible verdicts | intended | ok | cause | hops, one line per class."""
    rows = [("class", "verdict", "intended", "ok", "cause", "path")]
    for path in simulation.paths:
        verdicts = " | ".join(v.value for v in sorted(path.possible, key=list(Verdict).index))
        cause = "; ".join(f"{c.code.value}:{c.object}" if c.object else c.code.value for c in path.causes)
        route = _route(path.branches[0].hops) if path.branches else ""
        rows.append((path.message_class.value, verdicts, path.expectation.intended.value,
                     "yes" if path.ok else "NO", cause or "-", route))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows]
    assumed = sorted(simulation.paths and set().union(*(p.assumptions for p in simulation.paths)) or ())
    if assumed:
        lines.append("")
        lines.append("model, not Microsoft; assumptions relied on:")
        lines += [f"  {a.value}: {ASSUMPTIONS[a].reading} ({ASSUMPTIONS[a].source})" for a in assumed]
    return "\n".join(lines) + "\n"


def _route(hops: Iterable[Hop]) -> str:
    words = []
    for hop in hops:
        if hop.kind is HopKind.RULES:
            words.append(f"rules[{', '.join(hop.rules)}]")
        else:
            words.append(f"{hop.kind.value}({hop.name})" if hop.name else hop.kind.value)
    return " > ".join(words)


_SHAPES = {NodeKind.INTERNET: ("((", "))"), NodeKind.MAILBOXES: ("[(", ")]"), NodeKind.GATEWAY: ("{{", "}}"),
           NodeKind.FOREIGN_GATEWAY: ("{{", "}}"), NodeKind.RULE: ("[/", "/]")}


def _label(kind: NodeKind, name: str, ours: bool) -> str:
    base = {NodeKind.INTERNET: "internet", NodeKind.MAILBOXES: "mailboxes", NodeKind.REJECTED: "rejected",
            NodeKind.WITHHELD: "withheld", NodeKind.LOST: "lost"}.get(kind, name or kind.value)
    if kind is NodeKind.GATEWAY:
        base = f"gateway {name}".strip()
    return base + (" (exoform)" if ours and kind is not NodeKind.GATEWAY else "")


def _edge_label(classes: Iterable[MessageClass]) -> str:
    return ", ".join(c.value for c in classes)


def render_mermaid(graph: FlowGraph) -> str:
    ids = {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node in graph.nodes:
        left, right = _SHAPES.get(node.kind, ("[", "]"))
        text = _label(node.kind, node.name, node.ours).replace('"', "'")
        lines.append(f'    {ids[node.id]}{left}"{text}"{right}')
    for edge in graph.edges:
        arrow = "-.->" if edge.kind is EdgeKind.COPY else "-->"
        lines.append(f'    {ids[edge.source]} {arrow}|"{_edge_label(edge.classes)}"| {ids[edge.target]}')
    return "\n".join(lines) + "\n"


def render_dot(graph: FlowGraph) -> str:
    shapes = {NodeKind.INTERNET: "ellipse", NodeKind.MAILBOXES: "cylinder", NodeKind.GATEWAY: "hexagon",
              NodeKind.FOREIGN_GATEWAY: "hexagon", NodeKind.RULE: "parallelogram"}
    lines = ["digraph mailflow {", "  rankdir=LR;"]
    for node in graph.nodes:
        text = _dot_quote(_label(node.kind, node.name, node.ours))
        lines.append(f'  "{_dot_quote(node.id)}" [label="{text}", shape={shapes.get(node.kind, "box")}];')
    for edge in graph.edges:
        style = ", style=dashed" if edge.kind is EdgeKind.COPY else ""
        lines.append(f'  "{_dot_quote(edge.source)}" -> "{_dot_quote(edge.target)}" '
                     f'[label="{_dot_quote(_edge_label(edge.classes))}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')

