"""`exoform trace`: the mail-flow model of the tenant now, after each step of a plan (fresh, or
a saved plan checked exactly as apply checks it) and after the plan, with the plan's findings
and the flow graph for reviewers. Reads the tenant once; writes nothing, takes no lock.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exoform.engine.mailflow import FlowGraph, flow_graph
from exoform.engine.operations.saved import plan_to_run
from exoform.engine.operations.session import PlanOptions, Session, mail_context
from exoform.engine.plan import Plan
from exoform.engine.planning.mailtrace import MailTrace, trace_plan


@dataclass(frozen=True)
class TraceOutcome:
    plan: Plan
    trace: MailTrace
    graph: FlowGraph  # of the planned state


def trace(session: Session, options: PlanOptions, saved: Path | None = None) -> TraceOutcome:
    with session.connected() as provider:
        state = session.load_state()
        read = session.read(provider)
        plan = plan_to_run(session, saved, state, read, options)
    traced = trace_plan(mail_context(session.spec, read, plan.operation), read, plan)
    return TraceOutcome(plan, traced, flow_graph(traced.planned))
