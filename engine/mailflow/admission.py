"""How a copy arriving over SMTP is admitted: which inbound connector it is attributed to
(OnPremises by address or certificate; Partner by restriction, else by sender domain), whether
a Partner restriction rejects it, and whether a relay to the internet is allowed (since Nov
2023 only through an OnPremises connector, with an accepted MAIL FROM domain; B.4).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from exoform.engine.mailflow.assumptions import Assumption
from exoform.engine.mailflow.connectors import InboundConnector
from exoform.engine.mailflow.directory import Directory
from exoform.engine.mailflow.message import Arrival, ConnectorType, Entry, Message, Source
from exoform.engine.mailflow.verdicts import Cause, CauseCode, ObjectKind


@dataclass(frozen=True)
class Admission:
    entry: Entry | None  # None: rejected
    rejected: Cause | None = None
    assumptions: frozenset[Assumption] = frozenset()


def admit(arrival: Arrival, message: Message, inbound: Sequence[InboundConnector],
          directory: Directory) -> Admission:
    if arrival.source is Source.MAILBOX:
        return Admission(Entry(arrival, authenticated=True))
    enabled = [c for c in inbound if c.enabled]
    onpremises = _onpremises(arrival, message, enabled, directory)
    if onpremises is not None:
        return _relay_check(onpremises, message, enabled, directory)
    domain = message.sender.domain
    restricted = _restricted_match(arrival, domain, enabled)
    if restricted is None:
        blocking = [c for c in enabled if c.restricts and c.domain_specificity(domain)]
        if blocking:
            cause = Cause(CauseCode.CONNECTOR_RESTRICTION, blocking[0].name, ObjectKind.INBOUND_CONNECTOR)
            return Admission(None, cause)
    partner = restricted or _by_sender_domain(domain, enabled)
    assumed = _ignored_partner_ips(arrival, enabled, partner)
    entry = Entry(arrival, partner.name if partner else "",
                  ConnectorType.PARTNER if partner else ConnectorType.NONE, False)
    return _relay_check(Admission(entry, None, assumed), message, enabled, directory)


def _onpremises(arrival: Arrival, message: Message, connectors: Sequence[InboundConnector],
                directory: Directory) -> Admission | None:
    """Attribution through an OnPremises connector: by certificate, then by sending address;
    the tenant owns the message by its MAIL FROM or RCPT TO domain (B.4 attribution)."""
    owned = (not message.null_sender and directory.accepted(message.sender.domain)) or message.recipient.internal
    if not owned:
        return None
    for connector in connectors:
        if connector.type is not ConnectorType.ONPREMISES:
            continue
        by_cert = connector.cert_matches(arrival.cert)
        by_ip = arrival.ip is not None and connector.sender_ips.contains(arrival.ip)
        if by_cert or by_ip:
            internal = not message.null_sender and message.sender.internal
            assumed = {Assumption.ONPREMISES_IP_ATTRIBUTION} if by_ip and not by_cert else set()
            if internal:
                assumed.add(Assumption.ONPREMISES_RETURN_IS_INTERNAL)
            entry = Entry(arrival, connector.name, ConnectorType.ONPREMISES, internal)
            return Admission(entry, None, frozenset(assumed))
    return None


def _restricted_match(arrival: Arrival, domain: str,
                      connectors: Sequence[InboundConnector]) -> InboundConnector | None:
    for connector in connectors:
        if not connector.restricts or not connector.domain_specificity(domain):
            continue
        if connector.restrict_ips and arrival.ip is not None and connector.sender_ips.contains(arrival.ip):
            return connector
        if connector.restrict_cert and connector.cert_matches(arrival.cert):
            return connector
    return None


def _by_sender_domain(domain: str, connectors: Sequence[InboundConnector]) -> InboundConnector | None:
    """An unrestricted Partner connector applies to mail from its sender domains (the most
    specific one; ties by name)."""
    scored = [(-c.domain_specificity(domain), c.name.casefold(), c) for c in connectors
              if c.type is ConnectorType.PARTNER and not c.restricts and c.domain_specificity(domain)]
    return min(scored, key=lambda s: (s[0], s[1]))[2] if scored else None


def _ignored_partner_ips(arrival: Arrival, connectors: Sequence[InboundConnector],
                         chosen: InboundConnector | None) -> frozenset[Assumption]:
    """Cite the assumption when the sending address is listed on an unrestricted Partner
    connector, whose address list is then not what attributes the message."""
    if arrival.ip is None:
        return frozenset()
    listed = any(c.type is ConnectorType.PARTNER and not c.restrict_ips and c.sender_ips.contains(arrival.ip)
                 for c in connectors)
    return frozenset({Assumption.PARTNER_IP_NOT_USED}) if listed else frozenset()


def _relay_check(admission: Admission, message: Message, connectors: Sequence[InboundConnector],
                 directory: Directory) -> Admission:
    """A copy that arrived over SMTP for a recipient outside every accepted domain is a relay
    (an ExternalRelay domain is accepted: its mail is relayed by design)."""
    entry = admission.entry
    if entry is None or message.recipient.internal or directory.accepted(message.recipient.domain):
        return admission
    code: CauseCode | None = None
    if entry.connector_type is not ConnectorType.ONPREMISES:
        code = CauseCode.RELAY_NOT_ONPREMISES if _listing(entry, connectors) else CauseCode.RELAY_NO_CONNECTOR
    elif message.null_sender:
        code = CauseCode.RELAY_NULL_SENDER
    elif not directory.accepted(message.sender.domain):
        code = CauseCode.RELAY_SENDER_DOMAIN
    if code is None:
        return admission
    name = _listing(entry, connectors)
    kind = ObjectKind.INBOUND_CONNECTOR if name else ObjectKind.GATEWAY
    return Admission(None, Cause(code, name, kind), admission.assumptions)


def _listing(entry: Entry, connectors: Sequence[InboundConnector]) -> str:
    """The inbound connector that lists the sending address (the one meant for this sender)."""
    ip = entry.arrival.ip
    for connector in connectors:
        if ip is not None and connector.sender_ips.contains(ip):
            return connector.name
    return ""
