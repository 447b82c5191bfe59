"""Connector lints the mail-flow model does not express as a verdict: a connector made by the
Hybrid Configuration Wizard (a hybrid deployment), another mail product's connector, and an
inbound connector that also accepts the gateway's addresses (Exchange may attribute returning
mail to it). Routing verdicts - loops, bypasses, stopped rules - are the model's. Pure.
"""
from __future__ import annotations

import re

from exoform.engine.checks.context import CheckContext
from exoform.engine.ipv4 import overlaps
from exoform.engine.kinds.schema import ADDRESS_SPACE
from exoform.engine.mailflow.vendors import product_of
from exoform.engine.model import Kind, attrs_dict
from exoform.engine.plan import Diagnostic, Severity
from exoform.engine.read import Obj, flag, name_of, text, values

_HYBRID_NAME = re.compile(r"^(outbound to|inbound from) [0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")


def connector_lints(ctx: CheckContext) -> list[Diagnostic]:
    """Every lint, sorted by ID. A destroy plan (nothing desired) has none."""
    request = ctx.request
    if not request.desired:
        return []
    by_kind = {r.address.kind: r for r in request.desired}
    inbound, outbound = by_kind.get(Kind.INBOUND_CONNECTOR), by_kind.get(Kind.OUTBOUND_CONNECTOR)
    ours = {r.exchange_name.casefold() for r in request.desired}
    hosts = set(values(attrs_dict(outbound.attributes), "SmartHosts")) if outbound else set()
    ranges = values(attrs_dict(inbound.attributes), "SenderIPAddresses") if inbound else ()
    found: list[Diagnostic] = []
    for obj in request.read.objects(Kind.OUTBOUND_CONNECTOR):
        if _theirs(Kind.OUTBOUND_CONNECTOR, obj, ours, request.integration, ctx):
            found += _outbound(obj, hosts, request.read.owner(Kind.OUTBOUND_CONNECTOR, obj))
    for obj in request.read.objects(Kind.INBOUND_CONNECTOR):
        if _theirs(Kind.INBOUND_CONNECTOR, obj, ours, request.integration, ctx):
            found += _inbound(obj, ranges, request.read.owner(Kind.INBOUND_CONNECTOR, obj))
    return sorted(found, key=lambda d: (d.id, d.code))


def _theirs(kind: Kind, obj: Obj, ours: set[str], integration: str, ctx: CheckContext) -> bool:
    """Enabled, and neither exoform's object for this config nor carrying its marker."""
    holder = ctx.request.read.owner(kind, obj)
    return holder != integration and name_of(obj).casefold() not in ours and flag(obj, "Enabled", True)


def _hybrid(obj: Obj) -> bool:
    return text(obj, "ConnectorSource") == "hybridwizard" or bool(_HYBRID_NAME.match(name_of(obj).casefold()))


def _whose(holder: str | None, left: str) -> str:
    """Another exoform integration's object is named as such; an unmarked one may be a leftover."""
    return f", made by exoform integration '{holder}'" if holder else left


def _outbound(obj: Obj, hosts: set[str], holder: str | None) -> list[Diagnostic]:
    name, smart = name_of(obj), values(obj, "SmartHosts")
    if _hybrid(obj):
        return [_hybrid_finding("outbound", name)]
    if set(smart) & hosts:
        fix = (f"destroy or change that integration if it is not needed" if holder
               else "remove it if it is not needed")
        return [_lint("third_party_gateway", f"gateway:{name}",
                      f"outbound connector '{name}' also sends mail to the gateway's smart host"
                      f"{_whose(holder, ', outside exoform (left from an earlier install?)')}. Mail for its "
                      f"recipient domains bypasses exoform's rules; {fix}.")]
    domains = {ADDRESS_SPACE.sub("", d) for d in values(obj, "RecipientDomains")}
    routes_all = not flag(obj, "IsTransportRuleScoped") and "*" in domains
    product = product_of(name, smart)
    if product or routes_all:
        what = product or f"an unrecognised mail service at {', '.join(smart) or 'its MX records'}"
        scope = "all outbound mail" if routes_all else "mail that transport rules route to it"
        return [_lint("third_party_gateway", f"gateway:{name}",
                      f"outbound connector '{name}' sends {scope} to {what}. Mail exoform routes through the "
                      "gateway will pass through both products; the mail-flow findings below say whether "
                      "it loops or chains (see OPSWAT's guidance on 3rd-party connector-based solutions).")]
    return []


def _inbound(obj: Obj, ranges: tuple[str, ...], holder: str | None) -> list[Diagnostic]:
    name = name_of(obj)
    if _hybrid(obj):
        return [_hybrid_finding("inbound", name)]
    overlap = [r for r in ranges if any(overlaps(r, s) for s in values(obj, "SenderIPAddresses"))]
    if overlap:
        fix = (f"give the two integrations different gateway addresses, or destroy '{holder}' if it is not needed"
               if holder else "Remove those addresses from it, or remove it if it is left from an earlier install")
        fix = fix[0].upper() + fix[1:]
        return [_lint("inbound_overlap", f"overlap:{name}",
                      f"inbound connector '{name}'{_whose(holder, '')} also accepts mail from the gateway's "
                      f"addresses ({', '.join(overlap)}). Exchange may attribute mail returning from the gateway "
                      "to it instead of exoform's connector (550 5.7.64 TenantAttribution, or outbound mail "
                      f"treated as inbound). {fix}.")]
    product = product_of(name, ())
    if product:
        return [_lint("third_party_gateway", f"gateway:{name}",
                      f"inbound connector '{name}' receives mail from {product}, which already filters this "
                      "tenant's mail. exoform's in-line rules will route that mail through the gateway as well; "
                      "list the other product's addresses in Enhanced Filtering (EFSkipIPs) so SPF/DMARC still "
                      "see the original sender, and make sure the products do not route to each other.")]
    return []


def _hybrid_finding(direction: str, name: str) -> Diagnostic:
    return _lint(
        "hybrid_connector", f"hybrid:{name}",
        f"{direction} connector '{name}' was created by the Hybrid Configuration Wizard: this is a "
        "hybrid deployment. Mail between on-premises and cloud mailboxes, and all mail when "
        "centralized mail transport is on, flows through it; make sure the gateway's routing does "
        "not conflict with it (test with an on-premises mailbox before enabling the rules).")


def _lint(code: str, ident: str, message: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, id=ident)
