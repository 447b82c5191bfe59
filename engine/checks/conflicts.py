"""Third-party conflicts and mail loops, found at plan time in the tenant as read: other
gateways' connectors and routing rules, hybrid-wizard connectors, rules above ours that stop
rule processing, anything that sends mail back to our gateway, and our own loop guards.
Pure: the tenant read and the plan's changes in, `Diagnostic`s (with stable IDs) out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from exoform.engine.blueprint import RECALL_HEADER
from exoform.engine.checks.context import CheckContext
from exoform.engine.ipv4 import covers as covers_ranges
from exoform.engine.ipv4 import overlaps as _overlaps
from exoform.engine.kinds.schema import ADDRESS_SPACE
from exoform.engine.kinds.transport_rule import is_on
from exoform.engine.model import Address, Kind, Resource, attrs_dict
from exoform.engine.ownership import owner
from exoform.engine.plan import Diagnostic, ResourceChange, Severity
from exoform.engine.read import Obj, TenantRead, flag, name_of, text, values

# Products recognised by smart host domain, or by a word in a connector's or rule's name or in
# the header a rule stamps. Anything else that routes mail in-line is reported as unknown.
VENDORS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Mimecast", ("mimecast.com", "mimecast-offshore.com", "mimecast.co.za"), ("mimecast",)),
    ("Proofpoint", ("pphosted.com", "ppe-hosted.com", "proofpoint.com"), ("proofpoint",)),
    ("Check Point Harmony Email (Avanan)", ("avanan.net", "avanan.com", "checkpoint.com"),
     ("check point", "checkpoint", "avanan", "x-cloud-sec-av")),
    ("Trend Micro", ("trendmicro.com", "trendmicro.eu", "trendmicro.co.jp"), ("trend micro", "trendmicro", "tmcas")),
    ("Barracuda", ("barracudanetworks.com", "barracuda.com", "cudasvc.com"), ("barracuda",)),
    ("Hornetsecurity", ("hornetsecurity.com", "hornetsecurity.de"), ("hornetsecurity", "hornet security", "365 total protection")),
)
DIRECTIONS = {"inbound": ("notinorganization", "inorganization"), "outbound": ("inorganization", "notinorganization")}
_HYBRID_NAME = re.compile(r"^(outbound to|inbound from) [0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class OurRule:
    name: str
    address: Address
    direction: str  # "inbound" | "outbound"
    routes: bool  # in-line: routes mail to the gateway
    enabled: bool  # after this plan


@dataclass(frozen=True)
class Ours:
    integration: str
    names: frozenset[str]  # casefolded Exchange names of every object we want
    connector: str  # casefolded name of our outbound connector
    smart_hosts: frozenset[str]
    ranges: tuple[str, ...]
    rules: tuple[OurRule, ...]


def conflicts(ctx: CheckContext) -> list[Diagnostic]:
    """The check: every finding, sorted by ID. A destroy plan (nothing desired) has none."""
    request = ctx.request
    return find_conflicts(request.read, request.desired, ctx.changes, request.integration,
                          request.placement_top)


def find_conflicts(
    read: TenantRead,
    desired: Sequence[Resource],
    changes: Mapping[Address, ResourceChange],
    integration: str,
    placement_top: bool = True,
) -> list[Diagnostic]:
    """Every finding, sorted by ID. A destroy plan (nothing desired) has none."""
    if not desired:
        return []
    ours = ours_from(desired, changes, integration)
    found = _connector_findings(read, ours) + _rule_findings(read, ours, placement_top)
    found += _guard_findings(desired, changes, ours)
    return sorted(found, key=lambda d: (d.id, d.code))


def ours_from(desired: Sequence[Resource], changes: Mapping[Address, ResourceChange], integration: str) -> Ours:
    by_kind = {r.address.kind: r for r in desired if r.address.kind is not Kind.TRANSPORT_RULE}
    inbound, outbound = by_kind.get(Kind.INBOUND_CONNECTOR), by_kind.get(Kind.OUTBOUND_CONNECTOR)
    rules = []
    for resource in desired:
        scope = text(attrs_dict(resource.attributes), "SentToScope")
        if resource.address.kind is Kind.TRANSPORT_RULE and scope:
            change = changes.get(resource.address)
            after = change.after_dict if change and change.after else attrs_dict(resource.attributes)
            rules.append(OurRule(
                resource.exchange_name, resource.address,
                "inbound" if scope == "inorganization" else "outbound",
                bool(resource.get("RouteMessageOutboundConnector")), is_on(after) is not False,
            ))
    return Ours(
        integration=integration,
        names=frozenset(r.exchange_name.casefold() for r in desired),
        connector=outbound.exchange_name.casefold() if outbound else "",
        smart_hosts=frozenset(values(attrs_dict(outbound.attributes), "SmartHosts")) if outbound else frozenset(),
        ranges=values(attrs_dict(inbound.attributes), "SenderIPAddresses") if inbound else (),
        rules=tuple(rules),
    )


# ---- small predicates over Get- output ---------------------------------------------------------

def _mine(kind: Kind, obj: Obj, ours: Ours) -> bool:
    return owner(kind, obj) == ours.integration or name_of(obj).casefold() in ours.names


def _active(rule: Obj) -> bool:
    """Enabled and enforcing (an Audit-mode rule takes no actions)."""
    return is_on(rule) is not False and text(rule, "Mode") in (None, "enforce")


def _covers(rule: Obj, direction: str) -> bool:
    """The rule's sender/recipient scopes do not exclude mail of `direction`."""
    sender, recipient = DIRECTIONS[direction]
    return (
        text(rule, "FromScope") in (None, sender)
        and text(rule, "SentToScope") in (None, recipient)
        and text(rule, "ExceptIfFromScope") != sender
        and text(rule, "ExceptIfSentToScope") != recipient
    )


def _external(rule: Obj) -> bool:
    return "notinorganization" in (text(rule, "FromScope"), text(rule, "SentToScope"))


def vendor_of(words: Iterable[str], hosts: Iterable[str]) -> str | None:
    """The product a connector or rule belongs to, by smart host domain or by name."""
    for product, domains, keywords in VENDORS:
        if any(h == d or h.endswith("." + d) for h in hosts for d in domains):
            return product
        if any(k in w for w in words for k in keywords):
            return product
    return None


def _hybrid(obj: Obj) -> bool:
    return text(obj, "ConnectorSource") == "hybridwizard" or bool(_HYBRID_NAME.match(name_of(obj).casefold()))


def _finding(severity: Severity, code: str, ident: str, message: str, address: str = "") -> Diagnostic:
    return Diagnostic(severity, code, message, address, id=ident)


# ---- connectors ---------------------------------------------------------------------------------

def _connector_findings(read: TenantRead, ours: Ours) -> list[Diagnostic]:
    found = []
    for obj in read.objects(Kind.OUTBOUND_CONNECTOR):
        if not _mine(Kind.OUTBOUND_CONNECTOR, obj, ours) and flag(obj, "Enabled", True):
            found += _outbound_connector(obj, ours)
    for obj in read.objects(Kind.INBOUND_CONNECTOR):
        if not _mine(Kind.INBOUND_CONNECTOR, obj, ours) and flag(obj, "Enabled", True):
            found += _inbound_connector(obj, ours)
    return found


def _outbound_connector(obj: Obj, ours: Ours) -> list[Diagnostic]:
    name, hosts = name_of(obj), values(obj, "SmartHosts")
    domains = {ADDRESS_SPACE.sub("", d) for d in values(obj, "RecipientDomains")}
    routes_all = not flag(obj, "IsTransportRuleScoped") and "*" in domains
    if _hybrid(obj):
        return [_hybrid_finding("outbound", name)]
    if set(hosts) & ours.smart_hosts and routes_all:
        return [_finding(
            Severity.ERROR, "mail_loop", f"loop:{name}",
            f"outbound connector '{name}' sends all outbound mail (RecipientDomains '*') to the gateway "
            f"({', '.join(sorted(set(hosts) & ours.smart_hosts))}) outside exoform's rules. Mail the gateway "
            "relays back into the tenant goes out through it again: a mail loop (554 5.4.14), or lost mail "
            "in monitoring mode. Remove or disable it (left from a manual or wizard install?).")]
    if set(hosts) & ours.smart_hosts:
        return [_finding(
            Severity.WARNING, "third_party_gateway", f"gateway:{name}",
            f"outbound connector '{name}' also sends mail to the gateway's smart host, outside exoform "
            "(left from an earlier install?). Mail for its recipient domains bypasses exoform's rules; "
            "remove it if it is not needed.")]
    product = vendor_of([name.casefold()], hosts)
    if product or routes_all:
        what = product or f"an unrecognised mail service at {', '.join(hosts) or 'its MX records'}"
        scope = "all outbound mail" if routes_all else "mail that transport rules route to it"
        return [_finding(
            Severity.WARNING, "third_party_gateway", f"gateway:{name}",
            f"outbound connector '{name}' sends {scope} to {what}. Mail exoform routes through the "
            "gateway will pass through both products; check that neither sends the other's returning "
            "mail back (see OPSWAT's guidance on 3rd-party connector-based solutions), or remove one.")]
    return []


def _inbound_connector(obj: Obj, ours: Ours) -> list[Diagnostic]:
    name = name_of(obj)
    if _hybrid(obj):
        return [_hybrid_finding("inbound", name)]
    senders = values(obj, "SenderIPAddresses")
    overlap = [r for r in ours.ranges if any(_overlaps(r, s) for s in senders)]
    if overlap:
        return [_finding(
            Severity.WARNING, "inbound_overlap", f"overlap:{name}",
            f"inbound connector '{name}' also accepts mail from the gateway's addresses "
            f"({', '.join(overlap)}). Exchange may attribute mail returning from the gateway to it "
            "instead of exoform's connector (550 5.7.64 TenantAttribution, or outbound mail treated as "
            "inbound). Remove those addresses from it, or remove it if it is left from an earlier install.")]
    product = vendor_of([name.casefold()], [])
    if product:
        return [_finding(
            Severity.WARNING, "third_party_gateway", f"gateway:{name}",
            f"inbound connector '{name}' receives mail from {product}, which already filters this "
            "tenant's mail. exoform's in-line rules will route that mail through the gateway as well; "
            "list the other product's addresses in Enhanced Filtering (EFSkipIPs) so SPF/DMARC still "
            "see the original sender, and make sure the products do not route to each other.")]
    return []


def _hybrid_finding(direction: str, name: str) -> Diagnostic:
    return _finding(
        Severity.WARNING, "hybrid_connector", f"hybrid:{name}",
        f"{direction} connector '{name}' was created by the Hybrid Configuration Wizard: this is a "
        "hybrid deployment. Mail between on-premises and cloud mailboxes, and all mail when "
        "centralized mail transport is on, flows through it; make sure the gateway's routing does "
        "not conflict with it (test with an on-premises mailbox before enabling the rules).")


# ---- rules --------------------------------------------------------------------------------------

def _rule_findings(read: TenantRead, ours: Ours, placement_top: bool) -> list[Diagnostic]:
    connectors = {name_of(c).casefold(): c for c in read.objects(Kind.OUTBOUND_CONNECTOR)}
    found: list[Diagnostic] = []
    routed: set[str] = set()  # rules with a routing finding get no shadow finding as well
    for rule in _other_rules(read, ours):
        routing = _routing_finding(rule, connectors, ours)
        if routing is not None:
            found.append(routing)
            routed.add(name_of(rule).casefold())
    for rule in _rules_above(read, ours, placement_top):
        if name_of(rule).casefold() not in routed:
            found += _shadow_finding(rule, ours)
    return found


def _other_rules(read: TenantRead, ours: Ours) -> list[Obj]:
    return [r for r in read.rules() if not _mine(Kind.TRANSPORT_RULE, r, ours)]


def _rules_above(read: TenantRead, ours: Ours, placement_top: bool) -> list[Obj]:
    """Other rules that will run before our block after this plan."""
    rules = read.rules()
    mine = [i for i, r in enumerate(rules) if _mine(Kind.TRANSPORT_RULE, r, ours)]
    if mine:
        return list(rules[:mine[0]])
    return [] if placement_top else _other_rules(read, ours)


def _routing_finding(rule: Obj, connectors: Mapping[str, Obj], ours: Ours) -> Diagnostic | None:
    target_name = text(rule, "RouteMessageOutboundConnector")
    if not target_name:
        return None
    target = connectors.get(target_name, {})
    name = name_of(rule)
    excepts = covers_ranges(values(rule, "ExceptIfSenderIpRanges"), ours.ranges) and bool(ours.ranges)
    if target_name == ours.connector or set(values(target, "SmartHosts")) & ours.smart_hosts:
        if excepts:
            return None
        return _finding(
            Severity.ERROR if _active(rule) else Severity.WARNING, "mail_loop", f"loop:{name}",
            f"transport rule '{name}' routes mail to the gateway (through '{name_of(target) or target_name}') "
            "without excepting the gateway's IP ranges: mail coming back from the gateway matches it again "
            f"and loops (554 5.4.14). Add {', '.join(ours.ranges)} to its ExceptIfSenderIpRanges, or remove "
            "it if it is left from an earlier install.")
    product = vendor_of([name.casefold(), text(rule, "SetHeaderName") or "", target_name],
                        values(target, "SmartHosts"))
    if not (product or _external(rule)):
        return None
    ours_hit = [r for r in ours.rules if r.routes and _covers(rule, r.direction)]
    return _loop_finding(rule, ours_hit[0], product, excepts, ours) if ours_hit else None


def _loop_finding(rule: Obj, mine: OurRule, product: str | None, excepts: bool, ours: Ours) -> Diagnostic:
    name = name_of(rule)
    what = product or "another mail service"
    target = rule.get("RouteMessageOutboundConnector")
    if excepts:
        return _finding(
            Severity.WARNING, "gateway_chain", f"chain:{name}",
            f"transport rule '{name}' routes {mine.direction} mail to {what} (connector '{target}') and "
            f"excepts the gateway's IP ranges, so that mail passes through both products without looping. "
            "Expect both to scan it; remove one if that is not intended.", str(mine.address))
    live = _active(rule) and mine.enabled
    when = "" if live else " once both rules are enabled"
    return _finding(
        Severity.ERROR if live else Severity.WARNING, "mail_loop", f"loop:{name}",
        f"transport rule '{name}' routes {mine.direction} mail to {what} (connector '{target}'), and "
        f"exoform's rule '{mine.name}' routes the same mail to the gateway. Each product's returning mail "
        f"is sent to the other again: a mail loop (554 5.4.14){when}. Add the gateway's ranges "
        f"({', '.join(ours.ranges)}) to its ExceptIfSenderIpRanges, or protect that direction with one "
        "product only.", str(mine.address))


def _shadow_finding(rule: Obj, ours: Ours) -> list[Diagnostic]:
    if not (_active(rule) and flag(rule, "StopRuleProcessing")):
        return []
    hit = [r for r in ours.rules if _covers(rule, r.direction)]
    if not hit:
        return []
    mine, name = hit[0], name_of(rule)
    effect = "are delivered without passing through the gateway" if mine.routes else "are not copied to the gateway"
    return [_finding(
        Severity.WARNING, "shadowed_rule", f"shadow:{name}",
        f"transport rule '{name}' runs before exoform's rules and stops rule processing; "
        f"{mine.direction} messages it matches skip '{mine.name}' and {effect}. Move it below exoform's "
        "rules, or turn off its 'Stop processing more rules' if that is not intended.", str(mine.address))]


# ---- our own loop guards ------------------------------------------------------------------------

def _guard_findings(desired: Sequence[Resource], changes: Mapping[Address, ResourceChange], ours: Ours) -> list[Diagnostic]:
    found = []
    for resource in desired:
        if resource.address.kind is not Kind.TRANSPORT_RULE or not resource.get("RouteMessageOutboundConnector"):
            continue
        change = changes.get(resource.address)
        after = change.after_dict if change and change.after else attrs_dict(resource.attributes)
        name, ident = resource.exchange_name, f"loop_guard:{resource.exchange_name}"
        missing = missing_guards(after, ours.ranges)
        if missing:
            found.append(_finding(
                Severity.ERROR, "loop_guard", ident,
                f"exoform's rule '{name}' would route mail to the gateway without {' and '.join(missing)}: "
                "mail coming back from the gateway would be routed again (a mail loop).",
                str(resource.address)))
        elif change and change.before and is_on(change.before_dict):
            gone = missing_guards(change.before_dict, ours.ranges)
            if gone:
                found.append(_finding(
                    Severity.WARNING, "loop_guard", ident,
                    f"exoform's rule '{name}' is enabled in the tenant without {' and '.join(gone)} (removed "
                    "outside exoform?): mail may be looping now. This plan restores them; apply it soon.",
                    str(resource.address)))
    return found


def missing_guards(attrs: Mapping[str, Any], ranges: Sequence[str]) -> list[str]:
    """The loop-prevention exceptions an in-line routing rule lacks."""
    missing = []
    if not ranges or not covers_ranges(values(attrs, "ExceptIfSenderIpRanges"), ranges):
        missing.append("the exception for the gateway's IP ranges (ExceptIfSenderIpRanges)")
    header = text(attrs, "ExceptIfHeaderContainsMessageHeader")
    if header != RECALL_HEADER or not values(attrs, "ExceptIfHeaderContainsWords"):
        missing.append(f"the recall-report exception (ExceptIfHeaderContainsMessageHeader {RECALL_HEADER})")
    return missing
