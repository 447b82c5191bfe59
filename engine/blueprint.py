"""The blueprint: an `IntegrationSpec` becomes the desired resources, exactly as DESIGN.md
section 3 maps the seed's tables (connectors, SPF / Inbound emails / Outbound emails rules,
connection filter allowlist). Pure: no I/O.
"""
from __future__ import annotations

from typing import Any, Callable

from exoform.engine.exchange import DEFAULT_POLICY
from exoform.engine.model import Address, Kind, Resource, freeze_attrs
from exoform.engine.ownership import marker
from exoform.engine.spec import INBOUND, OUTBOUND, IntegrationSpec, RuleExceptions

INBOUND_CONNECTOR = Address(Kind.INBOUND_CONNECTOR, "inbound")
OUTBOUND_CONNECTOR = Address(Kind.OUTBOUND_CONNECTOR, "outbound")
SPF_RULE = Address(Kind.TRANSPORT_RULE, "spf")
INBOUND_RULE = Address(Kind.TRANSPORT_RULE, "inbound_emails")
OUTBOUND_RULE = Address(Kind.TRANSPORT_RULE, "outbound_emails")
# Selected users with both people and groups: Exchange ANDs different conditions of one rule
# (SentTo and SentToMemberOf would select only listed people who are also group members), so
# the groups get a rule of their own right after the people's.
INBOUND_GROUPS_RULE = Address(Kind.TRANSPORT_RULE, "inbound_emails_groups")
OUTBOUND_GROUPS_RULE = Address(Kind.TRANSPORT_RULE, "outbound_emails_groups")
ALLOWLIST = Address(Kind.CONNECTION_FILTER_ALLOWLIST, "default")

# Our rules' relative order in the tenant (DESIGN.md: contiguous, SPF first).
RULE_ORDER = (SPF_RULE, INBOUND_RULE, INBOUND_GROUPS_RULE, OUTBOUND_RULE, OUTBOUND_GROUPS_RULE)

RECALL_HEADER = "x-ms-exchange-recallreportgenerated"


def object_names(prefix: str) -> dict[Address, str]:
    """Exchange names of every object, from the name prefix."""
    return {
        INBOUND_CONNECTOR: f"{prefix} - Inbound",
        OUTBOUND_CONNECTOR: f"{prefix} - Outbound",
        SPF_RULE: f"{prefix} - SPF",
        INBOUND_RULE: f"{prefix} - Inbound emails",
        OUTBOUND_RULE: f"{prefix} - Outbound emails",
        INBOUND_GROUPS_RULE: f"{prefix} - Inbound emails (groups)",
        OUTBOUND_GROUPS_RULE: f"{prefix} - Outbound emails (groups)",
    }


# The name each object gets after the prefix, by address (the config checks the longest fits).
SUFFIXES = {address: name.removeprefix("{}") for address, name in object_names("{}").items()}


def address_of(kind: Kind, name: str, taken: set[Address]) -> Address:
    """The address an object exoform made under some prefix answers to: the one its name's
    suffix gives, or (taken, or an unknown name) a unique one derived from it."""
    for address, suffix in sorted(SUFFIXES.items(), key=lambda item: -len(item[1])):
        if address.kind is kind and name.casefold().endswith(suffix.casefold()):
            base = address
            break
    else:
        base = Address(kind, "marked")
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = Address(kind, f"{base.name}_{n}")
    return candidate


def blueprint(spec: IntegrationSpec, resolve: Callable[[str], str] | None = None) -> tuple[Resource, ...]:
    """Desired resources, sorted by address. `resolve` gives the primary SMTP address of a
    recipient or group the scope names (as Exchange stores it); without it they stay as given."""
    names = object_names(spec.gateway.name_prefix)
    resources = [_inbound_connector(spec, names), _outbound_connector(spec, names)]
    resources.append(_spf_rule(spec, names))
    for direction in spec.directions:
        resources += _mail_rules(spec, names, direction, resolve or (lambda identity: identity))
    if spec.allowlist_connection_filter:
        attrs = {"Name": DEFAULT_POLICY, "IPAllowList": spec.gateway.ip_ranges}
        resources.append(Resource(ALLOWLIST, freeze_attrs(attrs)))
    return tuple(sorted(resources, key=lambda r: r.address))


def _inbound_connector(spec: IntegrationSpec, names: dict[Address, str]) -> Resource:
    # Mail returning from the gateway must be relayed to the internet when outbound mail is
    # protected in-line; only an OnPremises connector lets Exchange Online do that.
    relays = spec.inline and OUTBOUND in spec.directions
    attrs: dict[str, Any] = {
        "Name": names[INBOUND_CONNECTOR],
        "Comment": marker(spec.integration, names[INBOUND_CONNECTOR]),
        "ConnectorType": "OnPremises" if relays else "Partner",
        "EFSkipIPs": spec.gateway.ip_ranges if spec.enhanced_filtering else None,
        "Enabled": True,
        "RequireTls": True,
        "RestrictDomainsToCertificate": False,
        "RestrictDomainsToIPAddresses": False,
        "SenderDomains": ("*",),
        "SenderIPAddresses": spec.gateway.ip_ranges,
    }
    return Resource(INBOUND_CONNECTOR, freeze_attrs(attrs))


def _outbound_connector(spec: IntegrationSpec, names: dict[Address, str]) -> Resource:
    attrs: dict[str, Any] = {
        "Name": names[OUTBOUND_CONNECTOR],
        "Comment": marker(spec.integration, names[OUTBOUND_CONNECTOR]),
        "ConnectorType": "Partner",
        "Enabled": True,
        # In-line: used only when a rule routes to it. Monitoring: carries the BCC copies.
        "IsTransportRuleScoped": spec.inline,
        "RecipientDomains": None if spec.inline else (spec.gateway.monitoring_domain,),
        "SmartHosts": (spec.gateway.smart_host,),
        "TlsSettings": "EncryptionOnly",
        "UseMXRecord": False,
    }
    return Resource(OUTBOUND_CONNECTOR, freeze_attrs(attrs))


def _rule_base(spec: IntegrationSpec, name: str) -> dict[str, Any]:
    """Every managed rule attribute, unset; each rule fills in what it uses."""
    return {
        "Name": name,
        "Comments": marker(spec.integration, name),
        "Mode": spec.rules_mode,
        "State": "Enabled" if spec.rules_enabled else "Disabled",
        "StopRuleProcessing": False,
    }


def _spf_rule(spec: IntegrationSpec, names: dict[Address, str]) -> Resource:
    attrs = _rule_base(spec, names[SPF_RULE])
    attrs["SenderIpRanges"] = spec.gateway.rule_ranges
    attrs["RemoveHeader"] = spec.gateway.header_name
    return Resource(SPF_RULE, freeze_attrs(attrs), dependencies=(INBOUND_CONNECTOR,))


def _mail_rules(spec: IntegrationSpec, names: dict[Address, str], direction: str,
                resolve: Callable[[str], str]) -> list[Resource]:
    """The direction's routing (in-line) or copying (monitoring) rule; with selected people
    and groups, a second rule for the groups that leaves out the people the first one took."""
    inbound = direction == INBOUND
    address, groups_address = (INBOUND_RULE, INBOUND_GROUPS_RULE) if inbound else (OUTBOUND_RULE, OUTBOUND_GROUPS_RULE)
    if spec.scope.users != "selected":
        return [_mail_rule(spec, names[address], direction, {})]
    people, groups = ("SentTo", "SentToMemberOf") if inbound else ("From", "FromMemberOf")
    recipients, members = _resolved(spec.scope.recipients, resolve), _resolved(spec.scope.groups, resolve)
    if not (recipients and members):
        return [_mail_rule(spec, names[address], direction, {people: recipients, groups: members})]
    return [_mail_rule(spec, names[address], direction, {people: recipients}),
            _mail_rule(spec, names[groups_address], direction, {groups: members, "ExceptIf" + people: recipients},
                       groups_address)]


def _mail_rule(spec: IntegrationSpec, name: str, direction: str, scope: dict[str, Any],
               address: Address | None = None) -> Resource:
    inbound = direction == INBOUND
    address = address or (INBOUND_RULE if inbound else OUTBOUND_RULE)
    attrs = _rule_base(spec, name)
    attrs["SentToScope"] = "InOrganization" if inbound else "NotInOrganization"
    attrs["FromScope"] = "NotInOrganization" if inbound else "InOrganization"
    attrs["SetHeaderName"] = spec.gateway.header_name
    attrs["SetHeaderValue"] = spec.gateway.tenant_info
    if spec.inline:
        attrs["RouteMessageOutboundConnector"] = object_names(spec.gateway.name_prefix)[OUTBOUND_CONNECTOR]
        # Loop prevention: mail coming back from the gateway, and recall reports, bypass.
        attrs["ExceptIfSenderIpRanges"] = spec.gateway.rule_ranges
        attrs["ExceptIfHeaderContainsMessageHeader"] = RECALL_HEADER
        attrs["ExceptIfHeaderContainsWords"] = ("true", "false")
        attrs["StopRuleProcessing"] = True
    else:
        attrs["BlindCopyTo"] = (spec.gateway.bcc_address,)
        attrs["StopRuleProcessing"] = not inbound
    attrs.update(scope)
    _add_exceptions(attrs, spec.exceptions)
    return Resource(address, freeze_attrs(attrs), dependencies=(OUTBOUND_CONNECTOR,))


def _add_exceptions(attrs: dict[str, Any], exceptions: RuleExceptions) -> None:
    """The config's `rules.exceptions`, joined to the exceptions the rule has already (a
    groups rule leaves out the people the first rule took)."""
    for key, extra in (("ExceptIfFrom", exceptions.senders), ("ExceptIfSentTo", exceptions.recipients),
                       ("ExceptIfSenderDomainIs", exceptions.sender_domains),
                       ("ExceptIfRecipientDomainIs", exceptions.recipient_domains)):
        have = tuple(attrs.get(key) or ())
        joined = have + tuple(v for v in extra if v.casefold() not in {h.casefold() for h in have})
        if joined:
            attrs[key] = joined


def _resolved(identities: tuple[str, ...], resolve: Callable[[str], str]) -> tuple[str, ...] | None:
    """The identities as Exchange stores them, each once (two names of one mailbox are one)."""
    out: dict[str, str] = {}
    for identity in identities:
        address = resolve(identity)
        out.setdefault(address.casefold(), address)
    return tuple(out.values()) or None
