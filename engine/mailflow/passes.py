"""One rule pass: the enabled rules in priority order over one entry of a message, with
branching where a rule may match and its actions matter later. Runs of foreign rules are
evaluated as segments whose results are cached, so a plan's repeated states cost little.
"""
from __future__ import annotations

from dataclasses import dataclass

from exoform.engine.frozen import replace
from typing import Sequence

from exoform.engine.mailflow.assumptions import Assumption
from exoform.engine.mailflow.conditions import MAYBE, NO, Env, scope_facts
from exoform.engine.mailflow.directory import Directory
from exoform.engine.mailflow.message import RULES_LOOP_HEADER, Entry, Message, remove_header, set_header
from exoform.engine.mailflow.rules import CompiledRule, Outcome, Withhold

MAX_PASS_BRANCHES = 32  # live alternatives within one pass before the result is "uncertain"


@dataclass(frozen=True, slots=True)
class RouteChoice:
    connector: str  # casefolded, as the rule names it
    display: str
    rule: str


@dataclass(frozen=True, slots=True)
class PassResult:
    """One alternative outcome of a pass (or of part of one)."""

    headers: tuple[tuple[str, str], ...]
    changed: frozenset[str] = frozenset()  # headers rules changed in this pass
    route: RouteChoice | None = None
    copies: tuple[tuple[str, str], ...] = ()  # (address, rule) recipients added
    stopped_by: str = ""
    withheld: tuple[Withhold, str] | None = None
    rejected_by: str = ""  # added recipients to a message already carrying the loop header
    fired: tuple[str, ...] = ()
    maybe: tuple[str, ...] = ()
    ours: tuple[tuple[str, Outcome], ...] = ()  # exoform's rules reached in this pass
    assumptions: frozenset[Assumption] = frozenset()

    @property
    def finished(self) -> bool:
        return bool(self.stopped_by or self.withheld or self.rejected_by)

    def fired_with(self, headers: tuple[tuple[str, str], ...], changed: frozenset[str],
                   fired: tuple[str, ...]) -> "PassResult":
        """`replace` for the hot path (a rule fired: its headers and name), without the field
        introspection that makes `dataclasses.replace` cost more than the rule's evaluation."""
        return PassResult(headers, changed, self.route, self.copies, self.stopped_by, self.withheld,
                          self.rejected_by, fired, self.maybe, self.ours, self.assumptions)

    def merge_key(self) -> tuple[object, ...]:
        """Alternatives with the same key go on alike. A finished pass no longer reads what
        changed in it, and withheld or refused mail goes nowhere, whichever rule did it (the
        first such rule is kept, being the earliest)."""
        if self.rejected_by:
            return ("rejected",)
        if self.withheld:
            return ("withheld",)
        if self.stopped_by:
            return ("stopped", self.headers, self.route, self.copies)
        return (self.headers, self.changed, self.route, self.copies)


@dataclass(frozen=True, eq=False)
class Segment:
    """A run of consecutive foreign rules, identified by the objects it was compiled from."""

    key: tuple[int, ...]
    rules: tuple[CompiledRule, ...]


Unit = Segment | CompiledRule
SegmentCache = dict[tuple[object, ...], tuple[tuple[PassResult, ...], bool]]  # results, bound reached


@dataclass
class PassContext:
    directory: Directory
    watched: frozenset[str]  # headers some condition reads, and the gateway's header
    cache: SegmentCache
    overflow: bool = False


def run_pass(units: Sequence[Unit], message: Message, entry: Entry, ctx: PassContext) -> list[PassResult]:
    live = [PassResult(message.headers)]
    done: list[PassResult] = []
    for unit in units:
        step: list[PassResult] = []
        for acc in live:
            if isinstance(unit, Segment):
                step.extend(_through_segment(unit, acc, message, entry, ctx))
            else:
                step.extend(_through_rule(unit, acc, message, entry, ctx, _env(message, entry, acc, ctx)))
        live = []
        for acc in merge(step):
            (done if acc.finished else live).append(acc)
        if len(live) > MAX_PASS_BRANCHES:
            ctx.overflow, live = True, live[:MAX_PASS_BRANCHES]
    return merge(done + live)


def _env(message: Message, entry: Entry, acc: PassResult, ctx: PassContext) -> Env:
    current = message if acc.headers == message.headers else message.with_headers(acc.headers)
    return Env(current, entry, acc.changed, ctx.directory)


def _through_segment(segment: Segment, acc: PassResult, message: Message, entry: Entry,
                     ctx: PassContext) -> list[PassResult]:
    # The directory is part of the key by identity: the Simulator keeps every one it made.
    key = (segment.key, id(ctx.directory), message, entry, acc.headers, acc.changed, ctx.watched)
    held = ctx.cache.get(key)
    if held is None:
        before, ctx.overflow = ctx.overflow, False
        held = (tuple(_evaluate_segment(segment, acc, message, entry, ctx)), ctx.overflow)
        ctx.cache[key] = held
        ctx.overflow = before
    results, overflowed = held
    # A cached result that hit the bound says so again, so a shared Simulator answers as a fresh one.
    ctx.overflow |= overflowed
    return [c for r in results for c in compose(acc, r)]


def _evaluate_segment(segment: Segment, acc: PassResult, message: Message, entry: Entry,
                      ctx: PassContext) -> list[PassResult]:
    # An Env depends only on an alternative's headers, so it is reused until those change.
    live: list[tuple[PassResult, Env | None]] = [(PassResult(acc.headers, acc.changed), None)]
    done: list[PassResult] = []
    facts = scope_facts(message, entry)
    for rule in segment.rules:
        if not rule.screen(facts):
            continue
        step: list[tuple[PassResult, Env | None]] = []
        for state, env in live:
            env = env or _env(message, entry, state, ctx)
            found = rule.matches(env)
            if found == NO:
                step.append((state, env))  # the common case: nothing changes
                continue
            # Conditions read only watched headers: a rule that writes none keeps the Env valid.
            kept = rule.writes.isdisjoint(ctx.watched) and not (rule.copies or rule.withhold is Withhold.REDIRECT)
            for out in _through_rule(rule, state, message, entry, ctx, env, found):
                same = kept or (out.headers == state.headers and out.changed == state.changed)
                step.append((out, env if same else None))
        live = []
        for state, env in _merge_pairs(step) if len(step) > 1 else step:
            if state.finished:
                done.append(state)
            else:
                live.append((state, env))
        if len(live) > MAX_PASS_BRANCHES:
            ctx.overflow, live = True, live[:MAX_PASS_BRANCHES]
    return merge(done + [s for s, _ in live])


def _merge_pairs(step: list[tuple[PassResult, Env | None]]) -> list[tuple[PassResult, Env | None]]:
    groups: dict[tuple[object, ...], list[tuple[PassResult, Env | None]]] = {}
    for pair in step:
        groups.setdefault(pair[0].merge_key(), []).append(pair)
    return [(_join([p[0] for p in g]), g[0][1]) if len(g) > 1 else g[0] for g in groups.values()]


def _through_rule(rule: CompiledRule, acc: PassResult, message: Message, entry: Entry,
                  ctx: PassContext, env: Env, found: int | None = None) -> list[PassResult]:
    """`found`: the rule's match on `env`, when the caller already knows it."""
    if rule.ours:
        acc = replace(acc, ours=acc.ours + ((rule.name, rule.explain(env)),))
    if not rule.enabled:
        return [acc]
    found = rule.matches(env) if found is None else found
    if found == NO:
        return [acc]
    if rule.audit:
        # Audit takes no action; whether its StopRuleProcessing stops later rules is unknown.
        if not rule.stop:
            return [acc]
        why = acc.assumptions | {Assumption.AUDIT_STOP_MAY_STOP}
        return [replace(acc, assumptions=why), replace(acc, stopped_by=rule.name, assumptions=why)]
    if found == MAYBE:
        why = acc.assumptions | rule.maybe_because(env)
        unsure = replace(acc, maybe=acc.maybe + (rule.name,), assumptions=why)
        if not rule.effective(ctx.watched):
            return [unsure]
        return [replace(acc, assumptions=why)] + apply_rule(rule, unsure, message, record=False)
    return apply_rule(rule, acc, message, record=True)


def apply_rule(rule: CompiledRule, acc: PassResult, message: Message, record: bool) -> list[PassResult]:
    """The rule's actions on one alternative (two when its route conflicts with an earlier one)."""
    headers, changed = acc.headers, acc.changed
    if rule.set_header:
        headers = set_header(headers, *rule.set_header)
        changed = changed | {rule.set_header[0]}
    if rule.remove_header:
        headers = remove_header(headers, rule.remove_header)
        changed = changed | {rule.remove_header}
    out = acc.fired_with(headers, changed, acc.fired + ((rule.name,) if record else ()))
    if rule.copies or rule.withhold is Withhold.REDIRECT:
        if message.header(RULES_LOOP_HEADER) is not None:
            # The message already carries X-MS-Exchange-Transport-Rules-Loop: 550 5.7.128.
            why = out.assumptions | {Assumption.RULES_LOOP_ACROSS_REENTRY}
            return [replace(out, rejected_by=rule.name, assumptions=why)]
        out = replace(out, headers=set_header(out.headers, RULES_LOOP_HEADER, "1"),
                      copies=out.copies + tuple((a, rule.name) for a in rule.copies))
    if rule.withhold:
        return [replace(out, withheld=(rule.withhold, rule.name))]
    if rule.stop:
        out = replace(out, stopped_by=rule.name)
    if not rule.route:
        return [out]
    return with_route(out, RouteChoice(rule.route, rule.route_display, rule.name))


def with_route(acc: PassResult, choice: RouteChoice) -> list[PassResult]:
    if acc.route is None or acc.route == choice:
        return [replace(acc, route=choice)]
    why = acc.assumptions | {Assumption.ROUTE_CONFLICT_EITHER}
    return [replace(acc, assumptions=why), replace(acc, route=choice, assumptions=why)]


def compose(acc: PassResult, part: PassResult) -> list[PassResult]:
    """`part` (a segment evaluated from `acc`'s headers) applied after `acc`."""
    joined = replace(
        part, copies=acc.copies + part.copies, fired=acc.fired + part.fired, maybe=acc.maybe + part.maybe,
        ours=acc.ours + part.ours, assumptions=acc.assumptions | part.assumptions, route=acc.route)
    return with_route(joined, part.route) if part.route else [joined]


def merge(results: Sequence[PassResult]) -> list[PassResult]:
    """Alternatives that route, copy and stop alike are one; a rule fired on only some of them
    is kept as "may have fired"."""
    groups: dict[tuple[object, ...], list[PassResult]] = {}
    for result in results:
        groups.setdefault(result.merge_key(), []).append(result)
    return [_join(group) if len(group) > 1 else group[0] for group in groups.values()]


def _join(group: list[PassResult]) -> PassResult:
    first = group[0]
    fired = tuple(n for n in first.fired if all(n in g.fired for g in group))
    names = dict.fromkeys(n for g in group for n in g.fired + g.maybe)
    maybe = tuple(n for n in names if n not in fired)
    ours = _join_ours([g.ours for g in group])
    why = frozenset().union(*(g.assumptions for g in group))
    return replace(first, fired=fired, maybe=maybe, ours=ours, assumptions=why)


def _join_ours(all_ours: list[tuple[tuple[str, Outcome], ...]]) -> tuple[tuple[str, Outcome], ...]:
    if all(o == all_ours[0] for o in all_ours):
        return all_ours[0]
    seen = dict.fromkeys(name for ours in all_ours for name, _ in ours)
    out = []
    for name in seen:
        outcomes = {o for ours in all_ours for n, o in ours if n == name}
        out.append((name, outcomes.pop() if len(outcomes) == 1 else Outcome.MAYBE))
    return tuple(out)

