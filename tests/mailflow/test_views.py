"""The views of the model (exoform/views/mailflow.py, engine/mailflow/describe.py): one sentence per finding from structured
data alone, the text table, and the flow graph as Mermaid and Graphviz dot."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exoform.engine.mailflow import EdgeKind, MessageClass, NodeKind, flow_graph
from exoform.engine.mailflow.describe import finding_text
from exoform.views.mailflow import render_dot, render_mermaid, render_table

from .cases_support import simulate_case

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> dict[str, Any]:
    case: dict[str, Any] = json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))
    return case


def test_a_shadowing_rule_reads_as_the_admin_would_say_it() -> None:
    case = _case("foreign-stop-above-ours")
    case["config"] = {**case["config"],
                      "protection": {"scope": {"users": "selected", "recipients": ["alice@contoso.com"]}}}
    simulation = simulate_case(case)
    finding = next(f for f in simulation.findings if f.id == "shadow:Stamp external")
    assert finding_text(finding, simulation) == (
        "transport rule 'Stamp external' above exoform's rules stops rule processing: "
        "inbound mail for the selected users is delivered without the gateway")


def test_every_finding_of_every_case_has_a_sentence() -> None:
    for path in sorted(CASES.glob("*.json")):
        simulation = simulate_case(json.loads(path.read_text(encoding="utf-8")))
        for finding in simulation.findings:
            text = finding_text(finding, simulation)
            assert text and "CauseCode" not in text and "None" not in text, (path.name, text)


def test_table_lists_every_class_and_the_assumptions_relied_on() -> None:
    simulation = simulate_case(_case("foreign-gateway-loop"))
    table = render_table(simulation)
    for path in simulation.paths:
        assert path.message_class.value in table
    assert "foreign_routes_gateway_return:Check Point - Protect" in table
    assert "model, not Microsoft" in table and "foreign_service_returns" in table


def test_flow_graph_draws_the_loop_between_the_two_products() -> None:
    simulation = simulate_case(_case("foreign-gateway-loop"))
    graph = flow_graph(simulation, [MessageClass.INBOUND])
    kinds = {node.kind for node in graph.nodes}
    assert {NodeKind.GATEWAY, NodeKind.FOREIGN_GATEWAY, NodeKind.INTERNET} <= kinds
    ours = {node.name for node in graph.nodes if node.ours}
    assert "OPSWAT MDCES - Outbound" in ours and "Check Point Outbound Connector" not in ours
    edges = {(e.source, e.target) for e in graph.edges}
    assert ("outbound_connector:opswat mdces - outbound", "gateway") in edges
    assert ("rule:check point - protect", "outbound_connector:check point outbound connector") in edges
    mermaid, dot = render_mermaid(graph), render_dot(graph)
    assert mermaid.startswith("flowchart LR") and mermaid.count("-->") == len(graph.edges)
    assert dot.startswith("digraph mailflow {") and dot.count(" -> ") == len(graph.edges)
    assert render_mermaid(flow_graph(simulation, [MessageClass.INBOUND])) == mermaid


def test_monitoring_copies_are_dashed_edges_to_the_gateway() -> None:
    simulation = simulate_case(_case("monitoring-bcc-copies"))
    graph = flow_graph(simulation)
    copies = [e for e in graph.edges if e.kind is EdgeKind.COPY]
    assert any(e.target == "gateway" for e in copies)
    assert "-.->" in render_mermaid(graph) and "style=dashed" in render_dot(graph)
