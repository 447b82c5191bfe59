"""Views of the mail-flow model (engine/mailflow): the flow graph as Mermaid or Graphviz dot,
a plain-text table of every class's verdicts, and one sentence per finding. Pure functions of
the model's data; every word about mail flow lives here, none in the model.
"""
from __future__ import annotations

from typing import Iterable

from exoform.engine.mailflow import (
    ASSUMPTIONS, CauseCode, EdgeKind, Finding, FindingCode, FlowGraph, Hop, HopKind, MessageClass, NodeKind,
    ObjectKind, Placement, Simulation, Verdict)

CLASS_LABELS = {
    MessageClass.INBOUND: "inbound mail", MessageClass.OUTBOUND: "outbound mail",
    MessageClass.INTERNAL: "internal mail", MessageClass.INBOUND_OUT_OF_SCOPE: "inbound mail for other users",
    MessageClass.OUTBOUND_OUT_OF_SCOPE: "outbound mail from other users",
    MessageClass.RECALL_REPORT: "recall reports", MessageClass.NDR: "non-delivery reports",
}
VERDICT_LABELS = {
    Verdict.SCANNED: "is delivered after passing through the gateway",
    Verdict.COPIED: "is delivered and copied to the gateway",
    Verdict.BYPASSED: "is delivered without the gateway",
    Verdict.LOOP: "loops",
    Verdict.REJECTED: "is rejected",
    Verdict.WITHHELD: "is withheld by a rule",
    Verdict.LOST: "is lost (the gateway sends nothing back)",
}
_PLURAL = {"is ": "are ", "loops": "loop"}


def _verb(label: str, plural: bool) -> str:
    if not plural:
        return label
    for singular, many in _PLURAL.items():
        if label.startswith(singular):
            return many + label[len(singular):]
    return label
KIND_LABELS = {
    ObjectKind.TRANSPORT_RULE: "transport rule", ObjectKind.INBOUND_CONNECTOR: "inbound connector",
    ObjectKind.OUTBOUND_CONNECTOR: "outbound connector", ObjectKind.GATEWAY: "the gateway",
    ObjectKind.INTEGRATION: "integration", ObjectKind.HEADER: "header",
}
CAUSE_LABELS = {
    CauseCode.STOPS_PROCESSING: "stops rule processing",
    CauseCode.NO_RULE: "has no rule for this direction",
    CauseCode.RULE_DISABLED: "is disabled",
    CauseCode.RULE_AUDIT: "is in Audit mode (takes no action)",
    CauseCode.RULE_NOT_ACTIVE: "is outside its activation dates",
    CauseCode.RULE_NOT_MATCHED: "does not match it",
    CauseCode.RULE_EXCEPTED: "excepts it",
    CauseCode.ROUTE_OVERRIDDEN: "routes it to another connector",
    CauseCode.ROUTE_TARGET_MISSING: "routes to a connector that does not exist",
    CauseCode.ROUTE_TARGET_DISABLED: "routes to a disabled connector",
    CauseCode.ROUTE_TARGET_NOT_SCOPED: "routes to a connector that is not rule-scoped",
    CauseCode.CONNECTOR_NOT_GATEWAY: "does not send to the gateway",
    CauseCode.COPY_NOT_DELIVERED: "copies it, but the copy does not reach the gateway",
    CauseCode.GATEWAY_UNINTENDED: "sends it to the gateway",
    CauseCode.RECALL_ROUTED: "routes recall reports to the gateway (rerouting breaks recall)",
    CauseCode.MISSING_GATEWAY_EXCEPTION: "routes mail coming back from the gateway to it again",
    CauseCode.FOREIGN_ROUTES_GATEWAY_RETURN: "routes mail coming back from the gateway to another product",
    CauseCode.CONNECTOR_TO_GATEWAY: "sends mail to the gateway outside exoform's rules",
    CauseCode.FOREIGN_SELF_LOOP: "routes its own product's returning mail back to it",
    CauseCode.ROUTING_CYCLE: "takes part in a routing cycle",
    CauseCode.HOP_LIMIT: "is on a path longer than 20 hops",
    CauseCode.BRANCH_LIMIT: "has too many possible paths to follow",
    CauseCode.RELAY_NOT_ONPREMISES: "is not an OnPremises connector, so mail it brings cannot be relayed",
    CauseCode.RELAY_NO_CONNECTOR: "delivers mail that no OnPremises inbound connector lets Exchange relay",
    CauseCode.RELAY_NULL_SENDER: "brings mail with an empty sender, which cannot be relayed",
    CauseCode.RELAY_SENDER_DOMAIN: "brings mail whose sender is not in an accepted domain",
    CauseCode.CONNECTOR_RESTRICTION: "accepts that sender only from other addresses or certificates",
    CauseCode.RULES_LOOP_LIMIT: "adds recipients a second time (550 5.7.128)",
    CauseCode.LOST_AT_GATEWAY: "sends the message itself to the gateway, which in monitoring mode returns nothing",
    CauseCode.WITHHELD_BY_RULE: "withholds it",
    CauseCode.PASSES_ANOTHER_PRODUCT: "passes it through another product as well",
    CauseCode.HEADER_LEAVES_ORGANISATION: "leaves the organisation",
}
_PLACEMENT = {Placement.ABOVE_OURS: " above exoform's rules", Placement.BELOW_OURS: " below exoform's rules"}


def finding_text(finding: Finding, simulation: Simulation) -> str:
    """One sentence for a finding, e.g. "transport rule 'X' above exoform's rules stops rule
    processing: inbound mail for the selected users is delivered without the gateway"."""
    if finding.code is FindingCode.HEADER_LEAK:
        return f"header '{finding.header}' that exoform sets leaves the organisation on {_classes(finding, simulation)}"
    subject = _subject(finding)
    cause = CAUSE_LABELS.get(finding.cause, finding.cause.value)
    if finding.code is FindingCode.STOPPED:
        stopper = finding.objects[1].name if len(finding.objects) > 1 else "exoform's rule"
        return (f"{subject} no longer runs on {_classes(finding, simulation)}: exoform's rule '{stopper}' above it "
                "stops rule processing")
    plural = len(finding.classes) > 1
    outcomes = " or ".join(_verb(VERDICT_LABELS[v], plural) for v in sorted(finding.possible, key=list(Verdict).index))
    may = "" if finding.certain else " (possibly)"
    pre = " (also without exoform)" if finding.preexisting else ""
    return f"{subject} {cause}: {_classes(finding, simulation)} {outcomes}{may}{pre}"


def _subject(finding: Finding) -> str:
    if not finding.objects:
        return "the mail flow"
    ref = finding.objects[0]
    if ref.kind is ObjectKind.INTEGRATION:
        return f"exoform's integration '{ref.name}'"
    owner = "exoform's " if ref.ours else ""
    return f"{owner}{KIND_LABELS[ref.kind]} '{ref.name}'{_PLACEMENT.get(finding.placement, '')}"


def _classes(finding: Finding, simulation: Simulation) -> str:
    selected = simulation.intent.scope.selected
    words = []
    for message_class in finding.classes:
        label = CLASS_LABELS[message_class]
        if selected and message_class in (MessageClass.INBOUND, MessageClass.OUTBOUND):
            label += " for the selected users" if message_class is MessageClass.INBOUND else " from the selected users"
        words.append(label)
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


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

