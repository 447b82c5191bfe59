"""Inbound and outbound connectors: the attributes exoform manages on each, and what an
outbound connector must be for a transport rule to route mail through it (enabled and scoped to
transport rules). An inbound connector's type-specific settings travel with its type.
"""
from __future__ import annotations

from typing import Any, Mapping

from exoform.engine.kinds.objects import ObjectHandler
from exoform.engine.cmdlet_reference import (
    INBOUND_TRUST_BOOLS, INBOUND_TRUST_LISTS, INBOUND_TRUST_TEXTS, OUTBOUND_ROUTING_BOOLS, OUTBOUND_ROUTING_TEXTS,
)
from exoform.engine.kinds.schema import NAME, KindSpec, Norm, attr, owned
from exoform.engine.model import Kind
from exoform.engine.plan import ResourceChange
from exoform.engine.read import as_bool

INBOUND_CONNECTOR = KindSpec(
    Kind.INBOUND_CONNECTOR,
    (
        NAME,
        attr("Comment", Norm.TEXT),
        attr("ConnectorType", Norm.NAME),
        attr("EFSkipIPs", Norm.IPSET),
        attr("Enabled", Norm.BOOL, True),
        attr("RequireTls", Norm.BOOL, False),
        attr("RestrictDomainsToCertificate", Norm.BOOL, False),
        attr("RestrictDomainsToIPAddresses", Norm.BOOL, False),
        attr("SenderDomains", Norm.DOMAINS),
        attr("SenderIPAddresses", Norm.IPSET),
        # Settings that change how far mail arriving through it is trusted, or who it is for.
        *owned(INBOUND_TRUST_BOOLS, Norm.BOOL, False),
        *owned(INBOUND_TRUST_LISTS, Norm.SET),
        *owned(INBOUND_TRUST_TEXTS, Norm.NAME),
    ),
)

OUTBOUND_CONNECTOR = KindSpec(
    Kind.OUTBOUND_CONNECTOR,
    (
        # Exchange refuses to rename a connector a rule routes through: a new name is a new
        # connector, created first so the rules can be re-pointed before the old one goes.
        attr("Name", Norm.NAME, force_new=True),
        attr("Comment", Norm.TEXT),
        attr("ConnectorType", Norm.NAME),
        attr("Enabled", Norm.BOOL, True),
        attr("IsTransportRuleScoped", Norm.BOOL, False),
        attr("RecipientDomains", Norm.DOMAINS),
        attr("SmartHosts", Norm.HOSTS),
        attr("TlsSettings", Norm.NAME),
        attr("UseMXRecord", Norm.BOOL, True),
        # Settings that send more mail through it, or change what it does to the mail.
        *owned(OUTBOUND_ROUTING_BOOLS, Norm.BOOL, False),
        *owned(OUTBOUND_ROUTING_TEXTS, Norm.NAME),
    ),
    create_before_destroy=True,
)

# Inbound connector properties that only apply to one connector type: name it explicitly.
_TYPED = {"RequireTls", "RestrictDomainsToCertificate", "RestrictDomainsToIPAddresses", "SenderIPAddresses"}


class InboundConnectorHandler(ObjectHandler):
    schema = INBOUND_CONNECTOR

    def settable(self, names: set[str], attrs: Mapping[str, Any]) -> set[str]:
        names = super().settable(names, attrs)
        return names | {"ConnectorType"} if names & _TYPED else names

    def not_ready(self, attrs: Mapping[str, Any], dependent: ResourceChange) -> str | None:
        if not as_bool(attrs.get("Enabled", True)):
            name = attrs.get("Name") or "?"
            return f"the inbound connector '{name}' it depends on is disabled and this plan does not enable it"
        return None


class OutboundConnectorHandler(ObjectHandler):
    schema = OUTBOUND_CONNECTOR

    def not_ready(self, attrs: Mapping[str, Any], dependent: ResourceChange) -> str | None:
        name = attrs.get("Name") or "?"
        if not as_bool(attrs.get("Enabled", True)):
            return f"the outbound connector '{name}' it depends on is disabled and this plan does not enable it"
        routes = dependent.after_dict.get("RouteMessageOutboundConnector")
        if routes and not as_bool(attrs.get("IsTransportRuleScoped", False)):
            return f"it routes mail to '{name}', which is not scoped to transport rules (IsTransportRuleScoped)"
        return None
