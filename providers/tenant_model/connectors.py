"""The connector cmdlets: New-/Set-InboundConnector and -OutboundConnector with Exchange's
cross-field rules (sender identification, rule scoping versus recipient domains, smart hosts,
TLS), and the StillReferenced refusal while a transport rule routes through a connector.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from exoform.engine.errors import StillReferenced
from exoform.engine.exchange import EX_STILL_REFERENCED
from exoform.engine.ipv4 import CONNECTOR_IPS
from exoform.providers.tenant_model.binding import Ctx, check_ip_list, check_name_length, coerce_all
from exoform.providers.tenant_model.document import DEFAULTS, replace, view

if TYPE_CHECKING:
    from exoform.providers.tenant_model.model import TenantModel


def new_connector(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    noun = ctx.noun
    name = ctx.params["Name"]
    model.check_unique(ctx, noun, name)
    obj = {**DEFAULTS[noun](), "Name": name, "Identity": name, "Guid": model.new_guid()}
    obj.update(coerce_all(ctx, obj))
    _CONNECTOR_CHECKS[noun](ctx, obj)
    model.objects(noun).append(obj)
    return [view(noun, obj)]


def set_connector(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    noun = ctx.noun
    stored = model.resolve(ctx, noun)
    obj = view(noun, stored)
    obj.update(coerce_all(ctx, obj))
    if obj["Name"] != stored["Name"]:
        model.check_unique(ctx, noun, obj["Name"], current=stored)
    if noun == "OutboundConnector":
        _check_references_kept(model, ctx, stored, obj)
    _CONNECTOR_CHECKS[noun](ctx, obj)
    obj["Identity"] = obj["Name"]
    replace(model.objects(noun), stored, obj)
    return []


def _check_inbound(ctx: Ctx, obj: dict[str, Any]) -> None:
    check_ip_list(ctx, obj, "SenderIPAddresses", CONNECTOR_IPS)
    if not obj["SenderDomains"]:
        raise ctx.invalid("SenderDomains can't be empty: specify at least one sender domain.")
    has_ips, has_cert = bool(obj["SenderIPAddresses"]), bool(obj["TlsSenderCertificateName"])
    if obj["ConnectorType"] == "OnPremises" and not (has_ips or has_cert):
        raise ctx.invalid(
            "An OnPremises connector must specify SenderIPAddresses or"
            " TlsSenderCertificateName to identify the sending server."
        )
    if obj["RestrictDomainsToIPAddresses"] and obj["RestrictDomainsToCertificate"]:
        raise ctx.invalid(
            "RestrictDomainsToIPAddresses and RestrictDomainsToCertificate can't both be $true."
        )
    if obj["RestrictDomainsToIPAddresses"] and not has_ips:
        raise ctx.invalid("RestrictDomainsToIPAddresses $true requires SenderIPAddresses.")
    if obj["RestrictDomainsToCertificate"] and not has_cert:
        raise ctx.invalid("RestrictDomainsToCertificate $true requires TlsSenderCertificateName.")


def _check_outbound(ctx: Ctx, obj: dict[str, Any]) -> None:
    check_name_length(ctx, obj["Name"], "connector")
    scoped = bool(obj["IsTransportRuleScoped"])
    has_domains = bool(obj["RecipientDomains"]) or bool(obj["AllAcceptedDomains"])
    if scoped and has_domains:
        raise ctx.invalid(
            "A connector scoped to transport rules (IsTransportRuleScoped $true) can't also"
            " have RecipientDomains or AllAcceptedDomains."
        )
    if not scoped and not has_domains:
        raise ctx.invalid(
            "Specify RecipientDomains (or AllAcceptedDomains), or set IsTransportRuleScoped"
            " to $true so that transport rules can route to the connector."
        )
    if not obj["UseMXRecord"] and not obj["SmartHosts"]:
        raise ctx.invalid("SmartHosts is required when UseMXRecord is $false.")
    if obj["UseMXRecord"] and obj["SmartHosts"]:
        raise ctx.invalid("SmartHosts can't be set when UseMXRecord is $true.")
    if obj["TlsSettings"] == "DomainValidation" and not obj["TlsDomain"]:
        raise ctx.invalid("TlsDomain is required when TlsSettings is DomainValidation.")


def _referencing_rules(model: TenantModel, connector_name: str) -> list[str]:
    key = connector_name.lower()
    return [
        str(rule["Name"])
        for rule in model.objects("TransportRule")
        if str(rule.get("RouteMessageOutboundConnector") or "").lower() == key
    ]


def refuse_if_referenced(model: TenantModel, ctx: Ctx, connector: Mapping[str, Any], change: str) -> None:
    rules = _referencing_rules(model, str(connector["Name"]))
    if rules:
        listed = ", ".join(f"'{name}'" for name in rules)
        raise ctx.error(
            StillReferenced,
            f"Outbound connector '{connector['Name']}' can't be {change} because transport"
            f" rule(s) {listed} route messages through it (RouteMessageOutboundConnector)."
            " Change or remove those rules first.",
            EX_STILL_REFERENCED,
        )


def _check_references_kept(
    model: TenantModel, ctx: Ctx, stored: Mapping[str, Any], obj: Mapping[str, Any]
) -> None:
    if str(obj["Name"]).lower() != str(stored["Name"]).lower():
        refuse_if_referenced(model, ctx, stored, "renamed")
    if not obj["Enabled"]:
        refuse_if_referenced(model, ctx, stored, "disabled")
    if not obj["IsTransportRuleScoped"]:
        refuse_if_referenced(model, ctx, stored, "unscoped from transport rules")


_CONNECTOR_CHECKS: dict[str, Callable[[Ctx, dict[str, Any]], None]] = {
    "InboundConnector": _check_inbound,
    "OutboundConnector": _check_outbound,
}
