"""Scheduling: the changes' dependency graph in a deterministic order, each phase lowered by
its kind's handler into cmdlet calls (one step each), then each change told its calls (a moved
rule learns its new priority).
"""
from __future__ import annotations

from typing import Mapping

from exoform.engine.blueprint import RULE_ORDER
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.kinds import handler
from exoform.engine.model import Address
from exoform.engine.plan import ResourceChange, Step
from exoform.engine.planning.order import Node, edges, kind_rank, schedule
from exoform.engine.planning.request import PlanRequest


def schedule_steps(
    changes: Mapping[Address, ResourceChange], request: PlanRequest
) -> tuple[list[Step], dict[Address, ResourceChange]]:
    """The ordered steps, and the changes updated with what scheduling decided."""
    prior = {r.address: r.dependencies for r in request.state.resources}
    for address, change in changes.items():
        prior.setdefault(address, change.dependencies if change.before else ())
    preds = edges(changes, prior)
    order = schedule(preds, kind_rank(changes, RULE_ORDER))
    lowerings = {kind: handler(kind).lowering(request.read, changes, request.placement_top)
                 for kind in {a.kind for a in changes}}
    steps: list[Step] = []
    last_of: dict[Node, int] = {}
    for node in order:
        change = changes[node.address]
        depends = tuple(sorted(last_of[p] for p in preds.get(node, ()) if p in last_of))
        for op, call in lowerings[node.address.kind].calls(node.phase, change):
            description = handler(node.address.kind).describe(op, change)
            steps.append(Step(len(steps), node.address, op, call, depends, description))
            depends = (len(steps) - 1,)
            last_of[node] = len(steps) - 1
    return steps, _tell_changes(changes, steps)


def _tell_changes(changes: Mapping[Address, ResourceChange], steps: list[Step]) -> dict[Address, ResourceChange]:
    calls: dict[Address, list[CmdletCall]] = {}
    for step in steps:
        calls.setdefault(step.address, []).append(step.call)
    return {a: handler(a.kind).scheduled(c, calls.get(a, [])) for a, c in changes.items()}


