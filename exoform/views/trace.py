"""`exoform trace` for people and programs: every message class's path and verdict in the tenant
now, after each step of the plan and after it (text, or JSON), or the planned flow drawn as
Mermaid or Graphviz dot. Words for causes and findings come from engine/mailflow/describe.py.
"""
from __future__ import annotations

from typing import Any

from exoform.engine.mailflow import Branch, Hop, HopKind, Path, Simulation, Verdict
from exoform.engine.mailflow.describe import cause_text, finding_text
from exoform.engine.operations.tracing import TraceOutcome
from exoform.engine.planning.mailtrace import NOW, PLANNED, TracedState
from exoform.text import safe
from exoform.views.mailflow import render_dot, render_mermaid
from exoform.views.plan import intended_label


def trace_json(outcome: TraceOutcome) -> dict[str, Any]:
    planned = outcome.trace.planned
    return {
        "format_version": 1,
        "integration": outcome.trace.integration,
        "operation": outcome.plan.operation,
        "states": [{"at": s.at, "paths": [_path_json(p) for p in s.simulation.paths]}
                   for s in outcome.trace.states],
        # Staged rules (created disabled or in Audit mode): how mail flows once they enforce.
        "once_enabled": ({"paths": [_path_json(p) for p in outcome.trace.enabled.paths]}
                         if outcome.trace.enabled is not None else None),
        "findings": [{"id": f.id, "code": f.code.value, "severity": f.severity.value,
                      "message": finding_text(f, planned), "objects": [r.name for r in f.objects],
                      "classes": [c.value for c in f.classes]} for f in planned.findings],
    }


def _path_json(path: Path) -> dict[str, Any]:
    shown = _shown_branch(path)
    return {
        "class": path.message_class.value,
        "verdict": path.verdict.value if path.verdict else None,
        "possible": [v.value for v in _ordered(path.possible)],
        "intended": path.expectation.intended.value,
        "ok": path.ok,
        "hops": [_hop_text(h) for h in shown.hops] if shown else [],
        "rules": list(shown.rules) if shown else [],
        "exit_headers": list(shown.exit_headers) if shown and shown.exit_headers is not None else None,
        "why": [cause_text(c) for c in path.causes],
    }


def _shown_branch(path: Path) -> Branch | None:
    """The branch a reader most needs: the first one that goes wrong, else the first."""
    wrong = [b for b in path.branches if b.verdict not in path.expectation.acceptable]
    shown = wrong or list(path.branches)
    return shown[0] if shown else None


def _ordered(verdicts: frozenset[Verdict]) -> list[Verdict]:
    return sorted(verdicts, key=list(Verdict).index)


def _hop_text(hop: Hop) -> str:
    if hop.kind is HopKind.RULES:
        fired = ", ".join([*hop.rules, *(f"maybe {name}" for name in hop.maybe_rules)])
        return f"rules[{fired}]" + (f" stopped by {hop.stopped_by}" if hop.stopped_by else "")
    return f"{hop.kind.value}({hop.name})" if hop.name else hop.kind.value


def render_trace(outcome: TraceOutcome) -> str:
    """Now, each step that changes some class's verdict, and the planned state."""
    lines: list[str] = []
    previous: Simulation | None = None
    for state in outcome.trace.states:
        if state.step is not None and previous is not None and _same(previous, state.simulation):
            continue
        lines += [_heading(state, outcome), *_table(state.simulation, state.at == PLANNED), ""]
        previous = state.simulation
    if outcome.trace.enabled is not None:
        lines += ["Once exoform's rules are enabled and enforce (they are staged by this config):",
                  *_table(outcome.trace.enabled, True), ""]
    lines += _findings(outcome.trace.planned)
    return "\n".join(lines).rstrip() + "\n"


def _heading(state: TracedState, outcome: TraceOutcome) -> str:
    if state.step is not None:
        return f"After step {state.step + 1} ({safe(outcome.plan.steps[state.step].description)}):"
    return "Mail flow now:" if state.at == NOW else "Mail flow after this plan:"


def _same(a: Simulation, b: Simulation) -> bool:
    return [(p.message_class, p.possible) for p in a.paths] == [(p.message_class, p.possible) for p in b.paths]


_FAILING = frozenset({Verdict.LOOP, Verdict.REJECTED, Verdict.LOST})


def _mark(path: Path, final: bool) -> str:
    """ok; before the end of a plan a class that is merely not protected yet is "not yet"."""
    if path.ok:
        return "ok"
    return "UNSAFE" if path.possible & _FAILING else ("NOT OK" if final else "not yet")


def _table(simulation: Simulation, final: bool) -> list[str]:
    rows = [("class", "verdict", "intended", "", "path")]
    for path in simulation.paths:
        shown = _shown_branch(path)
        rows.append((path.message_class.value, " | ".join(v.value for v in _ordered(path.possible)),
                     intended_label(path.expectation.intended.value, [v.value for v in path.possible], path.ok),
                     _mark(path, final),
                     " > ".join(_hop_text(h) for h in shown.hops) if shown else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + safe(r[4]) for r in rows]


def _findings(planned: Simulation) -> list[str]:
    if not planned.findings:
        return ["No findings: every class gets its intended verdict after this plan."]
    return ["Findings after this plan:"] + [
        f"  - {f.severity.value} [{safe(f.id)}]: {safe(finding_text(f, planned))}" for f in planned.findings]


def render_graph(outcome: TraceOutcome, form: str) -> str:
    return render_mermaid(outcome.graph) if form == "mermaid" else render_dot(outcome.graph)


