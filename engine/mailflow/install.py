"""Tenant states for the model from other shapes: exoform's blueprint resources as Get- objects
placed in a tenant (the lead's per-step states, the tests' canonical install), a sandbox tenant
document, and the baseline without one integration's objects.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from exoform.engine.mailflow.readers import folded, texts
from exoform.engine.mailflow.tenant import AcceptedDomain, DomainType, GetObject, MailTenant, Recipient
from exoform.engine.model import Kind, Resource, json_value
from exoform.engine.ownership import owner


def get_object(resource: Resource) -> dict[str, Any]:
    """A blueprint resource's attributes as the Get- cmdlet would return them."""
    return {name: json_value(value) for name, value in resource.attributes}


def install(tenant: MailTenant, resources: Sequence[Resource], placement: str = "top") -> MailTenant:
    """`tenant` with `resources` created (objects of the same name replaced): connectors added,
    rules kept contiguous in blueprint order at the top or bottom, allow-list entries merged."""
    by_kind: dict[Kind, list[dict[str, Any]]] = {}
    allow: list[str] = []
    for resource in resources:
        if resource.address.kind is Kind.CONNECTION_FILTER_ALLOWLIST:
            allow.extend(texts(get_object(resource), "IPAllowList"))
        else:
            by_kind.setdefault(resource.address.kind, []).append(get_object(resource))
    rules = by_kind.get(Kind.TRANSPORT_RULE, [])
    rules.sort(key=_rule_rank)
    kept = _without_names(tenant.rules, rules)
    ordered = tuple(rules) + kept if placement == "top" else kept + tuple(rules)
    return MailTenant(
        accepted_domains=tenant.accepted_domains,
        inbound_connectors=_without_names(tenant.inbound_connectors, by_kind.get(Kind.INBOUND_CONNECTOR, []))
        + tuple(by_kind.get(Kind.INBOUND_CONNECTOR, [])),
        outbound_connectors=_without_names(tenant.outbound_connectors, by_kind.get(Kind.OUTBOUND_CONNECTOR, []))
        + tuple(by_kind.get(Kind.OUTBOUND_CONNECTOR, [])),
        rules=ordered,
        allow_list=tuple(dict.fromkeys(tenant.allow_list + tuple(allow))),
        recipients=tenant.recipients,
    )


def _rule_rank(obj: Mapping[str, Any]) -> int:
    # Blueprint order: SPF, Inbound emails, Outbound emails (DESIGN.md section 3).
    if texts(obj, "SenderIpRanges") and obj.get("RemoveHeader"):
        return 0
    return 1 if folded(obj, "SentToScope") == "inorganization" else 2


def _without_names(objects: Iterable[GetObject], replacing: Iterable[Mapping[str, Any]]) -> tuple[GetObject, ...]:
    names = {folded(o, "Name") for o in replacing}
    return tuple(o for o in objects if folded(o, "Name") not in names)


def without_integration(tenant: MailTenant, integration: str) -> MailTenant:
    """The tenant without the objects carrying `integration`'s marker (the baseline)."""
    def keep(kind: Kind, objects: tuple[GetObject, ...]) -> tuple[GetObject, ...]:
        return tuple(o for o in objects if owner(kind, o) != integration)
    return MailTenant(tenant.accepted_domains, keep(Kind.INBOUND_CONNECTOR, tenant.inbound_connectors),
                      keep(Kind.OUTBOUND_CONNECTOR, tenant.outbound_connectors),
                      keep(Kind.TRANSPORT_RULE, tenant.rules), tenant.allow_list, tenant.recipients)


def tenant_from_document(document: Mapping[str, Any]) -> MailTenant:
    """A sandbox tenant file (schemas/tenant.schema.json): accepted domains are Authoritative
    unless given as {"domain", "domain_type"}; rules are ordered by Priority."""
    domains = tuple(_accepted(d) for d in document.get("accepted_domains", ()))
    recipients = tuple(Recipient(str(r["address"]), "group" in str(r.get("type", "")).casefold())
                       for r in document.get("recipients", ()))
    rules = sorted(document.get("TransportRule", ()), key=lambda r: int(r.get("Priority") or 0))
    policies = [p for p in document.get("HostedConnectionFilterPolicy", ()) if folded(p, "Name") == "default"]
    allow = texts(policies[0], "IPAllowList") if policies else ()
    return MailTenant(domains, tuple(document.get("InboundConnector", ())),
                      tuple(document.get("OutboundConnector", ())), tuple(rules), allow, recipients)


def _accepted(value: Any) -> AcceptedDomain:
    if isinstance(value, Mapping):
        return AcceptedDomain(str(value["domain"]), DomainType(value.get("domain_type", "Authoritative")))
    return AcceptedDomain(str(value))
