"""Connectors compiled once from Get- output: which sending addresses, certificates and sender
domains an inbound connector covers, and which recipient domains an outbound connector serves,
with the choice Exchange makes between outbound connectors (B.4 of mail-flow-semantics.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from exoform.engine.mailflow.ipranges import IpRanges, parse_ranges
from exoform.engine.mailflow.message import ConnectorType
from exoform.engine.mailflow.readers import Obj, domains, flag, folded, folded_texts, text, texts
from exoform.engine.mailflow.tenant import Gateway
from exoform.engine.mailflow.vendors import product_of
from exoform.engine.model import Kind
from exoform.engine.ownership import owner


def _connector_type(obj: Obj) -> ConnectorType:
    return ConnectorType.ONPREMISES if folded(obj, "ConnectorType") == "onpremises" else ConnectorType.PARTNER


_EXACT = 1 << 20
_ALL_ACCEPTED = 1  # below every wildcard (assumption CONNECTOR_SPECIFICITY)


def domain_match(pattern: str, domain: str) -> int:
    """How specifically `pattern` (exact, `*.suffix` or `*`) covers `domain`: 0 not at all,
    then `*` < `*.suffix` (longer suffixes more specific) < exact."""
    if pattern == domain:
        return _EXACT
    if pattern == "*":
        return 2
    if pattern.startswith("*.") and domain.endswith(pattern[1:]):
        return 2 + len(pattern)
    return 0


@dataclass(frozen=True)
class InboundConnector:
    name: str
    enabled: bool
    type: ConnectorType
    sender_ips: IpRanges
    sender_domains: tuple[str, ...]
    restrict_ips: bool
    restrict_cert: bool
    cert_name: str
    ours: bool
    holder: str = ""  # the exoform integration whose marker it carries ("" none)

    def domain_specificity(self, domain: str) -> int:
        return max((domain_match(p, domain) for p in self.sender_domains), default=0)

    def cert_matches(self, cert: str) -> bool:
        return bool(cert and self.cert_name) and domain_match(self.cert_name, cert) > 0

    @property
    def restricts(self) -> bool:
        # Restrictions only work on Partner connectors (B.4).
        return self.type is ConnectorType.PARTNER and (self.restrict_ips or self.restrict_cert)


def compile_inbound(obj: Obj, integration: str) -> InboundConnector:
    return InboundConnector(
        name=text(obj, "Name"),
        enabled=flag(obj, "Enabled", True),
        type=_connector_type(obj),
        sender_ips=parse_ranges(texts(obj, "SenderIPAddresses")),
        sender_domains=domains(obj, "SenderDomains"),
        restrict_ips=flag(obj, "RestrictDomainsToIPAddresses"),
        restrict_cert=flag(obj, "RestrictDomainsToCertificate"),
        cert_name=folded(obj, "TlsSenderCertificateName"),
        ours=owner(Kind.INBOUND_CONNECTOR, obj) == integration,
        holder=owner(Kind.INBOUND_CONNECTOR, obj) or "",
    )


@dataclass(frozen=True)
class OutboundConnector:
    name: str
    key: str  # casefolded name, as rules name it
    enabled: bool
    type: ConnectorType
    rule_scoped: bool
    recipient_domains: tuple[str, ...]
    all_accepted: bool
    smart_hosts: tuple[str, ...]
    ours: bool  # carries exoform's marker
    to_gateway: bool  # delivers to exoform's gateway (one of its smart hosts is the gateway's)
    wildcard: bool  # serves more than named domains (`*` or `*.suffix`)
    product: str  # a known mail-security product it sends to ("" none recognised)
    holder: str = ""  # the exoform integration whose marker it carries ("" none)


def compile_outbound(obj: Obj, integration: str, gateway: Gateway) -> OutboundConnector:
    hosts = folded_texts(obj, "SmartHosts")
    ours = owner(Kind.OUTBOUND_CONNECTOR, obj) == integration
    gateway_hosts = {h.casefold() for h in gateway.smart_hosts}
    recipient_domains = domains(obj, "RecipientDomains")
    kind = _connector_type(obj)
    return OutboundConnector(
        name=text(obj, "Name"),
        key=folded(obj, "Name"),
        enabled=flag(obj, "Enabled", True),
        type=kind,
        rule_scoped=flag(obj, "IsTransportRuleScoped"),
        recipient_domains=recipient_domains,
        # AllAcceptedDomains applies only to OnPremises connectors (B.4 point 5).
        all_accepted=kind is ConnectorType.ONPREMISES and flag(obj, "AllAcceptedDomains"),
        smart_hosts=hosts,
        ours=ours,
        # The smart host decides where mail goes, whoever made the connector (a drifted smart
        # host on exoform's own connector sends mail elsewhere).
        to_gateway=bool(gateway_hosts & set(hosts)),
        wildcard=any(d.startswith("*") for d in recipient_domains),
        product=product_of(text(obj, "Name"), hosts),
        holder=owner(Kind.OUTBOUND_CONNECTOR, obj) or "",
    )


@dataclass(frozen=True)
class Selection:
    connector: OutboundConnector | None  # None: DNS MX
    disputed: bool  # a wildcard and an all-accepted-domains connector competed


def select_outbound(connectors: Sequence[OutboundConnector], domain: str, accepted: bool) -> Selection:
    """The connector Exchange uses for a recipient domain when no rule chose one: enabled,
    not rule-scoped, most specific (exact > wildcard > all accepted domains); else MX."""
    best: tuple[int, str] | None = None
    chosen: OutboundConnector | None = None
    wildcard_seen = all_accepted_seen = False
    for connector in connectors:
        if not connector.enabled or connector.rule_scoped:
            continue
        score = max((domain_match(p, domain) for p in connector.recipient_domains), default=0)
        wildcard_seen |= 0 < score < _EXACT
        if score == 0 and connector.all_accepted and accepted:
            score, all_accepted_seen = _ALL_ACCEPTED, True
        if score and (best is None or (-score, connector.key) < best):
            best, chosen = (-score, connector.key), connector
    return Selection(chosen, wildcard_seen and all_accepted_seen)
