"""Findings: what the traces mean for a plan, each with a stable ID (`loop:<object>`,
`rejected:<object>`, `lost:<object>`, `bypass:<object>`, `shadow:<rule>`, `routed:<object>`,
`stopped:<rule>`, `chain:<object>`, `header_leak:<header>`, `uncertain:<class>`), a severity
the caller maps, and the objects and classes involved. Structured data only: views write words.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Iterable, Sequence

from exoform.engine.mailflow.assumptions import Assumption
from exoform.engine.mailflow.results import Branch, Path, Target
from exoform.engine.mailflow.verdicts import Cause, CauseCode, MessageClass, ObjectKind, Verdict
from exoform.engine.mailflow.world import World


class FindingCode(str, Enum):
    LOOP = "loop"
    REJECTED = "rejected"
    LOST = "lost"
    BYPASS = "bypass"  # a protected class misses the gateway
    SHADOW = "shadow"  # ... because a rule above exoform's stops rule processing
    ROUTED = "routed"  # a class reaches the gateway although it should not
    STOPPED = "stopped"  # a foreign rule no longer runs because exoform's rule stops processing
    CHAIN = "chain"  # mail passes the gateway and another product, without looping
    HEADER_LEAK = "header_leak"  # a header exoform sets leaves the organisation
    UNCERTAIN = "uncertain"  # too many possibilities: may loop


class Severity(str, Enum):
    ERROR = "error"  # mail breaks: loops, is refused or lost
    WARNING = "warning"  # mail flows, but not as intended


class Placement(str, Enum):
    ABOVE_OURS = "above_ours"
    BELOW_OURS = "below_ours"
    OURS = "ours"
    NOT_A_RULE = "not_a_rule"


@dataclass(frozen=True)
class ObjectRef:
    kind: ObjectKind
    name: str
    ours: bool = False
    holder: str = ""  # the exoform integration whose marker it carries (ours or another's)


@dataclass(frozen=True)
class Finding:
    id: str
    code: FindingCode
    severity: Severity
    cause: CauseCode
    objects: tuple[ObjectRef, ...]  # the responsible object first
    classes: tuple[MessageClass, ...]
    possible: frozenset[Verdict]  # every verdict the affected classes may get
    certain: bool  # no affected class has an acceptable alternative
    placement: Placement  # of the responsible rule, relative to exoform's rules
    preexisting: bool = False  # the tenant without exoform's objects has it too
    header: str = ""  # HEADER_LEAK
    assumptions: tuple[Assumption, ...] = ()


_BY_VERDICT = {Verdict.LOOP: FindingCode.LOOP, Verdict.REJECTED: FindingCode.REJECTED, Verdict.LOST: FindingCode.LOST}
_SEVERITY = {FindingCode.LOOP: Severity.ERROR, FindingCode.REJECTED: Severity.ERROR, FindingCode.LOST: Severity.ERROR,
             FindingCode.UNCERTAIN: Severity.ERROR}


_FAILURES = frozenset({FindingCode.LOOP, FindingCode.REJECTED, FindingCode.LOST, FindingCode.UNCERTAIN,
                       FindingCode.BYPASS, FindingCode.SHADOW, FindingCode.ROUTED})


def path_findings(world: World, paths: Sequence[Path]) -> list[Finding]:
    """Findings for classes whose possible verdicts are not all acceptable, chains and leaks."""
    found: dict[str, list[tuple[Finding, Path]]] = {}
    for path in paths:
        per_path: dict[str, list[Finding]] = {}
        for branch in path.branches:
            for finding in _branch_findings(world, path, branch):
                per_path.setdefault(finding.id, []).append(finding)
        for ident, same in per_path.items():
            # A failure is certain when no alternative is acceptable; a chain or a leak when
            # every branch shows it.
            certain = same[0].certain if same[0].code in _FAILURES else len(same) == len(path.branches)
            assumed = tuple(sorted(set().union(*(f.assumptions for f in same))))
            found.setdefault(ident, []).append((replace(same[0], certain=certain, assumptions=assumed), path))
    return [_combine(group) for _, group in sorted(found.items())]


def _branch_findings(world: World, path: Path, branch: Branch) -> Iterable[Finding]:
    if branch.verdict not in path.expectation.acceptable and branch.cause is not None:
        yield _from_cause(world, path, branch, branch.cause)
    if branch.verdict in path.expectation.acceptable and branch.verdict is not Verdict.WITHHELD:
        yield from _chains(world, path, branch)
    header = world.gateway.header_name.casefold()
    if header and branch.exit_headers and header in branch.exit_headers:
        yield _finding(world, path, FindingCode.HEADER_LEAK, f"header_leak:{world.gateway.header_name}",
                       Cause(CauseCode.HEADER_LEAVES_ORGANISATION), (), branch, header=world.gateway.header_name)


def _from_cause(world: World, path: Path, branch: Branch, cause: Cause) -> Finding:
    if cause.code is CauseCode.BRANCH_LIMIT:
        code, ident = FindingCode.UNCERTAIN, f"uncertain:{path.message_class.value}"
    else:
        # No object to blame (no rule of exoform's at all): the ID names the class instead.
        subject = cause.object or path.message_class.value
        if branch.verdict in _BY_VERDICT:
            code = _BY_VERDICT[branch.verdict]
        elif cause.code is CauseCode.STOPS_PROCESSING:
            code = FindingCode.SHADOW
        elif path.expectation.intended is Verdict.BYPASSED:
            code = FindingCode.ROUTED
        else:
            code = FindingCode.BYPASS
        ident = f"{code.value}:{subject}"
    refs = [_ref(world, cause.kind, cause.object)] if cause.object else []
    if cause.related:
        refs.append(_ref(world, _related_kind(cause), cause.related))
    return _finding(world, path, code, ident, cause, tuple(refs), branch)


def _related_kind(cause: Cause) -> ObjectKind:
    if cause.code in (CauseCode.STOPS_PROCESSING, CauseCode.ROUTE_OVERRIDDEN, CauseCode.CONNECTOR_NOT_GATEWAY):
        return ObjectKind.TRANSPORT_RULE
    if cause.code is CauseCode.NO_RULE:
        return ObjectKind.INTEGRATION
    if cause.code is CauseCode.WITHHELD_BY_RULE:
        return ObjectKind.TRANSPORT_RULE
    return ObjectKind.OUTBOUND_CONNECTOR


def _chains(world: World, path: Path, branch: Branch) -> Iterable[Finding]:
    """Through the gateway and another product: a foreign service a rule routes to, or a
    wildcard smart-host connector the message leaves through."""
    if not any(e.target is Target.GATEWAY for e in branch.events):
        return
    for event in branch.events:
        connector = world.outbound_connector(event.connector.casefold()) if event.connector else None
        relay = (connector is not None and event.target is Target.LEAVE and connector.wildcard
                 and bool(connector.smart_hosts) and not event.rule)
        if event.target is Target.FOREIGN or relay:
            name = event.rule or event.connector
            kind = ObjectKind.TRANSPORT_RULE if event.rule else ObjectKind.OUTBOUND_CONNECTOR
            refs = (_ref(world, kind, name),) + ((_ref(world, ObjectKind.OUTBOUND_CONNECTOR, event.connector),)
                                                if event.rule else ())
            yield _finding(world, path, FindingCode.CHAIN, f"chain:{name}",
                           Cause(CauseCode.PASSES_ANOTHER_PRODUCT), refs, branch)


def _finding(world: World, path: Path, code: FindingCode, ident: str, cause: Cause,
             refs: tuple[ObjectRef, ...], branch: Branch, header: str = "") -> Finding:
    placement = _placement(world, refs[0]) if refs else Placement.NOT_A_RULE
    certain = not (path.possible & path.expectation.acceptable)
    return Finding(ident, code, _SEVERITY.get(code, Severity.WARNING), cause.code, refs, (path.message_class,),
                   path.possible, certain, placement, header=header, assumptions=tuple(sorted(branch.assumptions)))


def _ref(world: World, kind: ObjectKind, name: str) -> ObjectRef:
    if kind is ObjectKind.TRANSPORT_RULE:
        rule = world.rule(name)
        return ObjectRef(kind, name, bool(rule and rule.ours), rule.holder if rule else "")
    if kind is ObjectKind.OUTBOUND_CONNECTOR:
        connector = world.outbound_connector(name.casefold())
        return ObjectRef(kind, name, bool(connector and connector.ours), connector.holder if connector else "")
    if kind is ObjectKind.INBOUND_CONNECTOR:
        found = next((c for c in world.inbound if c.name == name), None)
        return ObjectRef(kind, name, bool(found and found.ours), found.holder if found else "")
    return ObjectRef(kind, name, kind is ObjectKind.INTEGRATION)


def _placement(world: World, ref: ObjectRef) -> Placement:
    if ref.kind is not ObjectKind.TRANSPORT_RULE:
        return Placement.NOT_A_RULE
    if ref.ours:
        return Placement.OURS
    position, first = world.position(ref.name), world.first_ours
    if position < 0 or first < 0:
        return Placement.NOT_A_RULE
    return Placement.ABOVE_OURS if position < first else Placement.BELOW_OURS


def _combine(group: list[tuple[Finding, Path]]) -> Finding:
    first = group[0][0]
    classes = tuple(dict.fromkeys(c for f, _ in group for c in f.classes))
    paths = list({id(p): p for _, p in group}.values())
    possible = frozenset().union(*(p.possible for p in paths))
    certain = all(f.certain for f, _ in group)
    assumed = tuple(sorted(set().union(*(f.assumptions for f, _ in group))))
    return Finding(first.id, first.code, first.severity, first.cause, first.objects, classes, possible, certain,
                   first.placement, first.preexisting, first.header, assumed)


def stopped_findings(world: World, paths: Sequence[Path], baseline: Sequence[Path]) -> list[Finding]:
    """Foreign rules that act on a class without exoform's objects but no longer act on it at all
    (on any branch, in any pass) because one of exoform's rules above them stops processing."""
    found: dict[str, list[tuple[Finding, Path]]] = {}
    before = {p.message_class: p for p in baseline}
    for path in paths:
        base = before.get(path.message_class)
        acted = dict.fromkeys(r for b in base.branches for r in b.rules + b.maybe_rules) if base else {}
        now = {r for b in path.branches for r in b.rules + b.maybe_rules}
        for name in acted:
            stopper = "" if name in now else _stopper(world, path, name)
            if stopper:
                refs = (_ref(world, ObjectKind.TRANSPORT_RULE, name), _ref(world, ObjectKind.TRANSPORT_RULE, stopper))
                finding = _finding(world, path, FindingCode.STOPPED, f"stopped:{name}",
                                   Cause(CauseCode.STOPS_PROCESSING, stopper), refs, path.branches[0])
                found.setdefault(finding.id, []).append((replace(finding, certain=True), path))
    return [_combine(group) for _, group in sorted(found.items())]


def _stopper(world: World, path: Path, name: str) -> str:
    rule, position = world.rule(name), world.position(name)
    if rule is None or rule.ours or not rule.enabled:
        return ""
    for branch in path.branches:
        for stop in branch.stops:
            stopper = world.rule(stop)
            if stopper is not None and stopper.ours and world.position(stop) < position:
                return stopper.name
    return ""
