"""The blueprint against the seed's tables (DESIGN.md section 3), written out by hand from the
vendor's document rather than from the code: every mode x direction x scope combination."""
from __future__ import annotations

import itertools
from typing import Any

import pytest

from exoform.engine.blueprint import blueprint
from support.harness import spec_from

IPS = ("198.51.100.7", "203.0.113.0/24")
SELECTED = {"users": "selected", "recipients": ["alice@contoso.com"], "groups": ["finance@contoso.com"]}


def test_people_only_or_groups_only_keep_one_rule_per_direction() -> None:
    for scope, key in (({"recipients": ["alice@contoso.com"]}, "SentTo"), ({"groups": ["finance@contoso.com"]}, "SentToMemberOf")):
        config = {"gateway": {"ip_ranges": list(IPS), "tenant_info": "TI"},
                  "protection": {"mode": "inline", "directions": ["inbound"], "scope": {"users": "selected", **scope}}}
        rules = {str(r.address): dict(r.attributes) for r in blueprint(spec_from(config)) if r.address.kind.value == "transport_rule"}
        assert set(rules) == {"transport_rule.spf", "transport_rule.inbound_emails"}
        assert rules["transport_rule.inbound_emails"][key] == tuple(next(iter(scope.values())))
COMBOS = list(itertools.product(("inline", "monitoring"), (("inbound",), ("outbound",), ("inbound", "outbound")), ("all", "selected")))


def _build(mode: str, directions: tuple[str, ...], users: str) -> dict[str, dict[str, Any]]:
    config = {"gateway": {"ip_ranges": list(IPS), "tenant_info": "TI"},
              "protection": {"mode": mode, "directions": list(directions), "scope": SELECTED if users == "selected" else {"users": "all"}}}
    return {str(r.address): dict(r.attributes) for r in blueprint(spec_from(config))}


@pytest.mark.parametrize("mode, directions, users", COMBOS, ids=[f"{m}-{'+'.join(d)}-{u}" for m, d, u in COMBOS])
def test_objects_match_the_seed(mode: str, directions: tuple[str, ...], users: str) -> None:
    got = _build(mode, directions, users)
    inline = mode == "inline"
    expected_rules = {"transport_rule.spf"} | {f"transport_rule.{d}_emails" for d in directions}
    if users == "selected":  # people and groups: a rule each (one rule would AND the conditions)
        expected_rules |= {f"transport_rule.{d}_emails_groups" for d in directions}
    assert {a for a in got if a.startswith("transport_rule.")} == expected_rules
    inbound = got["inbound_connector.inbound"]
    assert inbound["Name"] == "OPSWAT MDCES - Inbound" and inbound["SenderIPAddresses"] == IPS
    assert (inbound["SenderDomains"], inbound["RequireTls"]) == (("*",), True)
    assert not inbound["RestrictDomainsToIPAddresses"] and not inbound["RestrictDomainsToCertificate"]
    assert inbound["ConnectorType"] == ("OnPremises" if inline and "outbound" in directions else "Partner")
    outbound = got["outbound_connector.outbound"]
    assert (outbound["Name"], outbound["ConnectorType"], outbound["SmartHosts"]) == ("OPSWAT MDCES - Outbound", "Partner", ("ces.metadefender.opswat.com",))
    assert (outbound["UseMXRecord"], outbound["TlsSettings"]) == (False, "EncryptionOnly")
    assert outbound["IsTransportRuleScoped"] is inline
    assert outbound["RecipientDomains"] == (None if inline else ("metadefender.email",))
    spf = got["transport_rule.spf"]
    assert (spf["Name"], spf["SenderIpRanges"], spf["RemoveHeader"], spf["StopRuleProcessing"]) == ("OPSWAT MDCES - SPF", IPS, "X-MDCES-Data", False)
    for direction in directions:
        _check_mail_rule(got[f"transport_rule.{direction}_emails"], direction, inline, users)
        if users == "selected":
            _check_mail_rule(got[f"transport_rule.{direction}_emails_groups"], direction, inline, "groups")
    for rule in (a for a in got if a.startswith("transport_rule.")):
        assert got[rule]["State"] == "Disabled" and "[exoform:prop]" in got[rule]["Comments"]


def _check_mail_rule(rule: dict[str, Any], direction: str, inline: bool, users: str) -> None:
    inbound = direction == "inbound"
    suffix = " (groups)" if users == "groups" else ""
    assert rule["Name"] == f"OPSWAT MDCES - {direction.capitalize()} emails{suffix}"
    assert rule["SentToScope"] == ("InOrganization" if inbound else "NotInOrganization")
    assert rule["FromScope"] == ("NotInOrganization" if inbound else "InOrganization")
    assert (rule["SetHeaderName"], rule["SetHeaderValue"]) == ("X-MDCES-Data", "TI")
    if inline:
        assert rule["RouteMessageOutboundConnector"] == "OPSWAT MDCES - Outbound"
        assert rule["ExceptIfSenderIpRanges"] == IPS
        assert rule["ExceptIfHeaderContainsMessageHeader"] == "x-ms-exchange-recallreportgenerated"
        assert set(rule["ExceptIfHeaderContainsWords"]) == {"true", "false"}
        assert rule["StopRuleProcessing"] is True and rule.get("BlindCopyTo") is None
    else:
        assert rule["BlindCopyTo"] == ("bcc-email@metadefender.email",)
        assert rule.get("RouteMessageOutboundConnector") is None and rule.get("ExceptIfSenderIpRanges") is None
        assert rule["StopRuleProcessing"] is (not inbound)  # seed: inbound No, outbound Yes
    people, groups = ("SentTo", "SentToMemberOf") if inbound else ("From", "FromMemberOf")
    if users == "selected":
        assert (rule[people], rule.get(groups)) == (("alice@contoso.com",), None)
    elif users == "groups":  # the people the first rule took are left out: nobody is copied twice
        assert (rule[groups], rule["ExceptIf" + people]) == (("finance@contoso.com",), ("alice@contoso.com",))
    else:
        assert rule.get(people) is None and rule.get(groups) is None


def test_config_exceptions_go_on_every_routing_rule_joined_to_the_groups_rules_own() -> None:
    config = {"gateway": {"ip_ranges": list(IPS), "tenant_info": "TI"},
              "protection": {"mode": "monitoring", "directions": ["inbound", "outbound"], "scope": SELECTED},
              "rules": {"exceptions": {"senders": ["scanner@contoso.com"], "recipients": ["journal@contoso.com"],
                                       "sender_domains": ["partner.example"], "recipient_domains": ["sub.example"]}}}
    rules = {str(r.address): dict(r.attributes) for r in blueprint(spec_from(config)) if r.address.kind.value == "transport_rule"}
    assert rules["transport_rule.spf"].get("ExceptIfFrom") is None  # SPF is no routing rule
    for name in ("inbound_emails", "inbound_emails_groups", "outbound_emails", "outbound_emails_groups"):
        rule = rules[f"transport_rule.{name}"]
        assert (rule["ExceptIfSenderDomainIs"], rule["ExceptIfRecipientDomainIs"]) == (("partner.example",), ("sub.example",))
    assert rules["transport_rule.inbound_emails_groups"]["ExceptIfSentTo"] == ("alice@contoso.com", "journal@contoso.com")
    assert rules["transport_rule.outbound_emails_groups"]["ExceptIfFrom"] == ("alice@contoso.com", "scanner@contoso.com")
    assert rules["transport_rule.inbound_emails"]["ExceptIfFrom"] == ("scanner@contoso.com",)
