"""A transport rule compiled once from its Get- object: its three-valued conditions and
exceptions, the actions the model follows (route, add recipients, set/remove a header, stop,
withhold), and which of exoform's rules it is. Keys the model does not know make it "may match".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from exoform.engine.mailflow.assumptions import Assumption
from exoform.engine.mailflow.conditions import (
    CONDITION_KEYS, MAYBE, NO, PAIRED_KEYS, RECIPIENT_KEYS, YES, Condition, Env, UserScope, Unmodelled)
from exoform.engine.mailflow.ipranges import IpRanges, parse_ranges
from exoform.engine.mailflow.readers import (
    Obj, date, flag, folded, folded_texts, is_set, rule_enabled, text, texts)
from exoform.engine.model import Kind
from exoform.engine.ownership import owner


class RuleRole(str, Enum):
    """Which of exoform's rules this is, read from its content (names may be renamed)."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    SPF = "spf"
    OTHER = "other"  # a foreign rule, or one of ours the model cannot place


class Withhold(str, Enum):
    DELETE = "delete"
    REJECT = "reject"
    QUARANTINE = "quarantine"
    REDIRECT = "redirect"
    MODERATE = "moderate"
    DISCONNECT = "disconnect"


class Outcome(str, Enum):
    """What one of exoform's rules did in a pass (for cause analysis)."""

    FIRED = "fired"
    MAYBE = "maybe"
    NOT_MATCHED = "not_matched"
    EXCEPTED = "excepted"
    DISABLED = "disabled"
    AUDIT = "audit"
    NOT_ACTIVE = "not_active"


_WITHHOLD = {
    "DeleteMessage": Withhold.DELETE, "Quarantine": Withhold.QUARANTINE,
    "RejectMessageReasonText": Withhold.REJECT, "RejectMessageEnhancedStatusCode": Withhold.REJECT,
    "SmtpRejectMessageRejectText": Withhold.REJECT, "SmtpRejectMessageRejectStatusCode": Withhold.REJECT,
    "RedirectMessageTo": Withhold.REDIRECT, "ModerateMessageByUser": Withhold.MODERATE,
    "ModerateMessageByManager": Withhold.MODERATE, "Disconnect": Withhold.DISCONNECT,
    "NotifySender": Withhold.REJECT,  # every value but NotifyOnly blocks delivery
}
_ADD_RECIPIENTS = ("BlindCopyTo", "AddToRecipients", "CopyTo")
_ACTIONS = frozenset({"RouteMessageOutboundConnector", "SetHeaderName", "SetHeaderValue", "RemoveHeader",
                      "StopRuleProcessing", *_ADD_RECIPIENTS})
# Actions that change neither routing, delivery nor a header a condition reads.
_INERT = frozenset({
    "ApplyHtmlDisclaimerText", "ApplyHtmlDisclaimerLocation", "ApplyHtmlDisclaimerFallbackAction",
    "PrependSubject", "SetSCL", "ApplyClassification", "SetAuditSeverity", "GenerateIncidentReport",
    "IncidentReportContent", "IncidentReportOriginalMail", "GenerateNotification", "ApplyOME",
    "ApplyRightsProtectionTemplate", "ApplyRightsProtectionCustomizationTemplate", "RemoveOME",
    "RemoveOMEv2", "RemoveRMSAttachmentEncryption", "RouteMessageOutboundRequireTls", "LogEventText",
    "SenderNotificationType"})
# Properties of the Get- object that are neither conditions nor actions.
_METADATA = frozenset({
    "Name", "Identity", "Guid", "Priority", "State", "Enabled", "Mode", "Comments", "Description",
    "CreatedBy", "LastModifiedBy", "ManuallyModified", "ActivationDate", "ExpiryDate", "Conditions",
    "Exceptions", "Actions", "RuleErrorAction", "SenderAddressLocation", "IsValid", "WhenChanged",
    "WhenChangedUTC", "WhenCreated", "WhenCreatedUTC", "DistinguishedName", "ExchangeVersion",
    "ImmutableId", "OrganizationId", "ObjectState", "ObjectCategory", "ObjectClass", "OriginatingServer",
    "Id", "ExchangeObjectId", "RuleVersion", "RuleSubType", "UseLegacyRegex", "DlpPolicy", "DlpPolicyId",
    "RecipientAddressType", "IsRuleConfigurationSupported", "PSComputerName", "PSShowComputerName",
    "RunspaceId", "AdminDisplayName", "ADComparisonOperator", "ExceptIfADComparisonOperator",
    "TransportRuleType", "Organization"})


@dataclass(frozen=True, eq=False)
class CompiledRule:
    name: str
    key: str
    ours: bool
    role: RuleRole
    enabled: bool
    audit: bool  # Audit / AuditAndNotify: actions are only recorded
    active: int  # NO / YES / MAYBE for the date window
    conditions: tuple[Condition, ...]
    exceptions: tuple[Condition, ...]
    route: str  # casefolded connector name ("" none)
    route_display: str
    copies: tuple[str, ...]
    set_header: tuple[str, str] | None
    remove_header: str
    stop: bool
    withhold: Withhold | None
    except_ranges: IpRanges
    sender_ranges: IpRanges  # its SenderIpRanges condition
    named_ranges: IpRanges  # every address range it names (for choosing neutral addresses)
    return_ip: int | None  # where a foreign service this rule routes to sends mail back from
    loop_guard: bool  # excepts sending addresses or a header: what a rule does whose mail comes back
    envelope_recipient: bool
    reads: frozenset[str]  # headers its conditions read
    writes: frozenset[str]  # headers its actions set or remove
    required: int  # scope facts its conditions need (see conditions.scope_facts)
    excluded: int  # scope facts its exceptions reject
    holder: str = ""  # the exoform integration whose marker it carries ("" none)

    def screen(self, facts: int) -> bool:
        """Its scopes allow a message with these facts (a cheap test before `matches`)."""
        return not (self.required & ~facts) and not (self.excluded & facts)

    def effective(self, watched: frozenset[str]) -> bool:
        """Its actions can change routing, delivery, or a header something reads."""
        return bool(self.route or self.copies or self.withhold or self.stop or self.writes & watched)

    def matches(self, env: Env) -> int:
        result = self.active
        if result == NO:
            return NO
        for condition in self.conditions:
            found = condition.test(env)
            if found == NO:
                return NO
            if found == MAYBE:
                result = MAYBE
        for exception in self.exceptions:
            found = exception.test(env)
            if found == YES:
                return NO
            if found == MAYBE:
                result = MAYBE
        return result

    def maybe_because(self, env: Env) -> frozenset[Assumption]:
        found = {c.assumption(env) for c in self.conditions + self.exceptions if c.test(env) == MAYBE}
        if self.active == MAYBE:
            found.add(Assumption.RULE_DATES_UNKNOWN)
        return frozenset(a for a in found if a is not None)

    def explain(self, env: Env) -> Outcome:
        """Why one of exoform's rules did or did not act (cause analysis only)."""
        if not self.enabled:
            return Outcome.DISABLED
        if self.active == NO:
            return Outcome.NOT_ACTIVE
        if any(c.test(env) == NO for c in self.conditions):
            return Outcome.NOT_MATCHED
        if any(e.test(env) == YES for e in self.exceptions):
            return Outcome.EXCEPTED
        if self.audit:
            return Outcome.AUDIT
        return Outcome.FIRED if self.matches(env) == YES else Outcome.MAYBE


def compile_rule(raw: Obj, integration: str, gateway: IpRanges, at: datetime | None) -> CompiledRule:
    # Get- output holds ~170 properties, nearly all null: read only the ones that are set.
    # (Most are None: skipping those first spares a call per property.)
    obj = {k: v for k, v in raw.items() if v is not None and is_set(v)}
    conditions, exceptions = _predicates(obj, gateway)
    except_ranges = parse_ranges(texts(obj, "ExceptIfSenderIpRanges"))
    header = folded(obj, "SetHeaderName")
    removed = folded(obj, "RemoveHeader")
    sender_ranges = parse_ranges(texts(obj, "SenderIpRanges"))
    holder = owner(Kind.TRANSPORT_RULE, obj) or ""
    ours = holder == integration
    return CompiledRule(
        name=text(obj, "Name"), key=folded(obj, "Name"), ours=ours, role=_role(obj) if ours else RuleRole.OTHER,
        enabled=rule_enabled(obj), audit=folded(obj, "Mode") in ("audit", "auditandnotify"),
        active=_window(obj, at), conditions=conditions, exceptions=exceptions,
        route=folded(obj, "RouteMessageOutboundConnector"), route_display=text(obj, "RouteMessageOutboundConnector"),
        copies=tuple(a for k in _ADD_RECIPIENTS for a in folded_texts(obj, k)),
        set_header=(header, text(obj, "SetHeaderValue")) if header else None,
        remove_header=removed, stop=flag(obj, "StopRuleProcessing"),
        withhold=_withhold(obj), except_ranges=except_ranges,
        sender_ranges=sender_ranges, named_ranges=except_ranges.union(sender_ranges),
        return_ip=except_ranges.first_outside(gateway),
        loop_guard=bool(except_ranges) or "ExceptIfHeaderContainsMessageHeader" in obj
        or "ExceptIfHeaderMatchesMessageHeader" in obj,
        envelope_recipient=any(k in obj or "ExceptIf" + k in obj for k in RECIPIENT_KEYS),
        reads=frozenset().union(*(c.reads for c in conditions + exceptions)),
        writes=frozenset(n for n in (header, removed) if n),
        required=_bits(conditions), excluded=_bits(exceptions), holder=holder,
    )


def _bits(predicates: tuple[Condition, ...]) -> int:
    bits = 0
    for predicate in predicates:
        if isinstance(predicate, UserScope):
            bits |= predicate.bit
    return bits


def _predicates(obj: Obj, gateway: IpRanges) -> tuple[tuple[Condition, ...], tuple[Condition, ...]]:
    conditions: list[Condition] = []
    exceptions: list[Condition] = []
    for key in sorted(obj):
        if "@" in key or key in _METADATA or key in _INERT or key in _ACTIONS:
            continue
        if key == "NotifySender" and folded(obj, key) == "notifyonly":
            continue
        if key in _WITHHOLD:
            continue
        exception = key.startswith("ExceptIf")
        base = key[len("ExceptIf"):] if exception else key
        target = exceptions if exception else conditions
        if base in PAIRED_KEYS:
            pair = {"HeaderContainsWords": "HeaderContainsMessageHeader",
                    "HeaderMatchesPatterns": "HeaderMatchesMessageHeader"}[base]
            if ("ExceptIf" if exception else "") + pair not in obj:
                target.append(Unmodelled(key))
            continue
        builder = CONDITION_KEYS.get(base)
        target.append(builder(obj, key, gateway) if builder else Unmodelled(key))
    # Cheap, selective tests first: scopes, then the rest in key order.
    conditions.sort(key=lambda c: 0 if isinstance(c, UserScope) else 1)
    return tuple(conditions), tuple(exceptions)


def _withhold(obj: Obj) -> Withhold | None:
    for key, action in _WITHHOLD.items():
        if key in obj and not (key == "NotifySender" and folded(obj, key) == "notifyonly"):
            return action
    return None


def _window(obj: Obj, at: datetime | None) -> int:
    start, end = date(obj, "ActivationDate"), date(obj, "ExpiryDate")
    if start is None and end is None:
        return YES
    if at is None or isinstance(start, str) or isinstance(end, str):
        return MAYBE
    if (start is not None and at < start) or (end is not None and at >= end):
        return NO
    return YES


def _role(obj: Obj) -> RuleRole:
    scope = folded(obj, "SentToScope")
    if scope == "inorganization":
        return RuleRole.INBOUND
    if scope == "notinorganization":
        return RuleRole.OUTBOUND
    return RuleRole.SPF if texts(obj, "SenderIpRanges") and is_set(obj.get("RemoveHeader")) else RuleRole.OTHER


def is_known_key(key: str, value: Any) -> bool:
    """The model understands this property (or it is unset): used by tests and lint views."""
    base = key[len("ExceptIf"):] if key.startswith("ExceptIf") else key
    return (not is_set(value) or key in _METADATA or key in _INERT or key in _ACTIONS or key in _WITHHOLD
            or base in CONDITION_KEYS or base in PAIRED_KEYS)
