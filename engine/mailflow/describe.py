"""The model's findings in words: one sentence per finding (e.g. "transport rule 'X' above
exoform's rules stops rule processing: inbound mail for the selected users is delivered without
the gateway"), and the labels of classes, verdicts, causes and object kinds. Plan diagnostics
and the trace view both use them, so a finding reads the same everywhere.
"""
from __future__ import annotations

from exoform.engine.mailflow.findings import Finding, FindingCode, Placement
from exoform.engine.mailflow.simulator import Simulation
from exoform.engine.mailflow.verdicts import Cause, CauseCode, MessageClass, ObjectKind, Verdict

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
    # Another exoform integration's object is neither exoform's own nor "outside exoform".
    theirs = f" of exoform integration '{ref.holder}'" if ref.holder and not ref.ours else ""
    return f"{owner}{KIND_LABELS[ref.kind]} '{ref.name}'{theirs}{_PLACEMENT.get(finding.placement, '')}"


def _classes(finding: Finding, simulation: Simulation) -> str:
    selected = simulation.intent.scope.selected
    words = []
    for message_class in finding.classes:
        label = CLASS_LABELS[message_class]
        if selected and message_class in (MessageClass.INBOUND, MessageClass.OUTBOUND):
            label += " for the selected users" if message_class is MessageClass.INBOUND else " from the selected users"
        words.append(label)
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def cause_text(cause: Cause) -> str:
    """Why one path goes wrong, e.g. "transport rule 'X' stops rule processing"."""
    label = CAUSE_LABELS.get(cause.code, cause.code.value)
    if not cause.object:
        return f"the mail flow {label}" if cause.kind is not ObjectKind.INTEGRATION else f"exoform {label}"
    return f"{KIND_LABELS[cause.kind]} '{cause.object}' {label}"
