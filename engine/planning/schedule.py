"""Scheduling: the changes' dependency graph in a deterministic order, each phase lowered by
its kind's handler into cmdlet calls (one step each), then each change told its calls (a moved
rule learns its new priority). With the mail-flow model, the order is searched so that no call
leaves mail looping, rejected or lost (where the graph allows several orders).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from exoform.engine.blueprint import RULE_ORDER
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.kinds import handler
from exoform.engine.kinds.base import Lowering
from exoform.engine.mailflow import Simulation
from exoform.engine.model import Address, Kind
from exoform.engine.plan import ResourceChange, Step, StepOp
from exoform.engine.planning.mailsafety import MailReport, MailSafety, UnsafeStep
from exoform.engine.planning.mailstates import TenantStates, accepted_domains
from exoform.engine.planning.order import Node, edges, kind_rank, node_key, schedule
from exoform.engine.planning.request import PlanRequest

Lowered = list[tuple[StepOp, CmdletCall]]
SEARCH_BUDGET = 200  # phases tried before giving up the search for a safe order


@dataclass
class _Trial:
    """A partial order being tried: its lowerings, the simulated tenant, what was seen."""

    lowerings: dict[Kind, Lowering]
    states: TenantStates
    chosen: list[tuple[Node, Lowered]] = field(default_factory=list)
    seen: list[Simulation] = field(default_factory=list)
    total: int = 0  # nodes in the plan
    final: Simulation | None = None  # the tenant after the whole plan, the same in every order

    def fork(self) -> "_Trial":
        return _Trial({k: v.fork() for k, v in self.lowerings.items()}, self.states.copy(),
                      list(self.chosen), list(self.seen), self.total, self.final)


def schedule_steps(
    changes: Mapping[Address, ResourceChange], request: PlanRequest
) -> tuple[list[Step], dict[Address, ResourceChange], MailReport | None]:
    """The ordered steps, the changes updated with what scheduling decided, and (with the
    mail-flow model) what the model saw in every state."""
    prior = {r.address: r.dependencies for r in request.state.resources}
    for address, change in changes.items():
        prior.setdefault(address, change.dependencies if change.before else ())
    preds = edges(changes, prior)
    rank = kind_rank(changes, RULE_ORDER)
    lowerings = {kind: handler(kind).lowering(request.read, changes, request.placement_top)
                 for kind in {a.kind for a in changes}}
    report = None
    if request.mail is None or not accepted_domains(request.read):  # see `mail_unchecked`
        chosen = _lower_all(schedule(preds, rank), lowerings, changes)
    else:
        safety = MailSafety(request.mail, request.read, changes)
        start = _Trial(lowerings, safety.start, total=len(preds))
        start.final = _planned(schedule(preds, rank), start.fork(), changes, safety)
        safety.tolerate(start.final)
        chosen, report = _safe_order(preds, rank, start, changes, safety)
    steps = _steps(chosen, preds, changes)
    return steps, _tell_changes(changes, steps), report


def _lower_all(order: Sequence[Node], lowerings: Mapping[Kind, Lowering],
               changes: Mapping[Address, ResourceChange]) -> list[tuple[Node, Lowered]]:
    return [(node, lowerings[node.address.kind].calls(node.phase, changes[node.address])) for node in order]


def _planned(order: Sequence[Node], trial: _Trial, changes: Mapping[Address, ResourceChange],
             safety: MailSafety) -> Simulation:
    """The tenant after the whole plan (the same whatever the order)."""
    for node in order:
        for _, call in trial.lowerings[node.address.kind].calls(node.phase, changes[node.address]):
            trial.states.apply(call)
    return safety.simulate(trial.states)


def _steps(chosen: Sequence[tuple[Node, Lowered]], preds: Mapping[Node, set[Node]],
           changes: Mapping[Address, ResourceChange]) -> list[Step]:
    steps: list[Step] = []
    last_of: dict[Node, int] = {}
    for node, calls in chosen:
        change = changes[node.address]
        depends = tuple(sorted(last_of[p] for p in preds.get(node, ()) if p in last_of))
        for op, call in calls:
            description = handler(node.address.kind).describe(op, change)
            steps.append(Step(len(steps), node.address, op, call, depends, description))
            depends = (len(steps) - 1,)
            last_of[node] = len(steps) - 1
    return steps


def _safe_order(preds: Mapping[Node, set[Node]], rank: Mapping[Address, int], start: _Trial,
                changes: Mapping[Address, ResourceChange],
                safety: MailSafety) -> tuple[list[tuple[Node, Lowered]], MailReport]:
    """The first order (in the graph's tie-break order) whose every call keeps mail safe; when
    none is found, the tie-break order with the calls that made it unsafe."""
    key = node_key(rank)
    budget = [SEARCH_BUDGET]
    found = _search(preds, key, start, changes, safety, budget)
    if found is not None:
        return found.chosen, safety.report(found.seen, found.states, ())
    trial, unsafe, named = start.fork(), [], set()
    for node in schedule(preds, rank):
        for call in _try(trial, node, changes, safety, stop_at_unsafe=False):
            if call.finding not in named:  # each finding at the first step it appears
                named.add(call.finding)
                unsafe.append(call)
    return trial.chosen, safety.report(trial.seen, trial.states, unsafe)


def _search(preds: Mapping[Node, set[Node]], key: Callable[[Node], tuple[int, int, str]], trial: _Trial,
            changes: Mapping[Address, ResourceChange], safety: MailSafety, budget: list[int]) -> _Trial | None:
    done = {node for node, _ in trial.chosen}
    remaining = [n for n in preds if n not in done]
    if not remaining:
        return trial
    for node in sorted((n for n in remaining if preds[n] <= done), key=key):
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        attempt = trial.fork()
        if _try(attempt, node, changes, safety, stop_at_unsafe=True):
            continue
        result = _search(preds, key, attempt, changes, safety, budget)
        if result is not None:
            return result
    return None


def _try(trial: _Trial, node: Node, changes: Mapping[Address, ResourceChange], safety: MailSafety,
         stop_at_unsafe: bool) -> list[UnsafeStep]:
    """Lower `node`, apply its calls to the trial's tenant and simulate after each; the calls
    that made mail unsafe (with `stop_at_unsafe`, the first one ends the attempt)."""
    calls = trial.lowerings[node.address.kind].calls(node.phase, changes[node.address])
    unsafe = []
    for number, (op, call) in enumerate(calls, 1):
        trial.states.apply(call)
        last = len(trial.chosen) + 1 == trial.total and number == len(calls)
        simulation = trial.final if last and trial.final is not None else safety.simulate(trial.states)
        index = len(trial.seen)  # one simulation per call so far: this call's step index
        trial.seen.append(simulation)
        unsafe += [UnsafeStep(index, finding) for finding in sorted(safety.new_failures(simulation))]
        if unsafe and stop_at_unsafe:
            return unsafe
    trial.chosen.append((node, calls))
    return unsafe


def _tell_changes(changes: Mapping[Address, ResourceChange], steps: list[Step]) -> dict[Address, ResourceChange]:
    calls: dict[Address, list[CmdletCall]] = {}
    for step in steps:
        calls.setdefault(step.address, []).append(step.call)
    return {a: handler(a.kind).scheduled(c, calls.get(a, [])) for a, c in changes.items()}
