"""The plan's checks over a tenant read: the mail-flow model's findings as diagnostics (a foreign
rule that loops with ours, admin-center edits that let mail bypass the gateway, foreign rules
exoform stops), the connector lints the model does not express, acknowledging findings with
--accept-risk (downgraded, recorded in the saved plan, re-checked when the saved plan is
applied), and the staged-enabling dependency check."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from support.harness import plan_for, spec_from
from support.workspace import Workspace
from exoform.engine.blueprint import OUTBOUND_CONNECTOR, blueprint
from exoform.engine.checks.context import CheckContext
from exoform.engine.checks.enabling import enabling_blocked
from exoform.engine.checks.risk import accept_risks
from exoform.engine.kinds import spec
from exoform.engine.kinds.base import Observed
from exoform.engine.mailflow.vendors import product_of
from exoform.engine.model import Address, Kind, Resource
from exoform.engine.operations import request_for
from exoform.engine.plan import Diagnostic, Plan, ResourceChange, Severity
from exoform.engine.planning import make_plan
from exoform.engine.planning.passes import plan_context
from exoform.engine.read import TenantRead
from exoform.engine.state import State

RANGES = ["203.0.113.0/24", "198.51.100.7"]
CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": RANGES, "tenant_info": "t"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
    "rules": {"enabled": True},
}
DOMAINS = [{"DomainName": "contoso.com", "DomainType": "Authoritative", "Default": True}]
POLICY = [{"Name": "Default"}]


def plan_on(read: dict[str, Any], config: dict[str, Any] = CONFIG, **options: Any) -> Plan:
    tenant = {"AcceptedDomain": DOMAINS, "HostedConnectionFilterPolicy": POLICY, **read}
    return plan_for(spec_from(config), tenant, State.new("prop"), **options)


def findings(read: dict[str, Any], config: dict[str, Any] = CONFIG) -> dict[str, Severity]:
    return {d.id: d.severity for d in plan_on(read, config).diagnostics if d.id}


def rule(name: str, **attrs: Any) -> dict[str, Any]:
    return {"Name": name, "State": "Enabled", "Priority": attrs.pop("Priority", 0), **attrs}


def connector(name: str, hosts: list[str], **attrs: Any) -> dict[str, Any]:
    return {"Name": name, "Enabled": True, "SmartHosts": hosts, "UseMXRecord": False, **attrs}


CP = connector("CP Outbound", ["x.checkpoint.com"], IsTransportRuleScoped=True)
CP_RANGES = ["192.0.2.128/25"]


@pytest.mark.parametrize("host, product", [
    ("eu-smtp-o365-outbound-1.mimecast.com", "Mimecast"), ("mx0a-001.pphosted.com", "Proofpoint"),
    ("mx1-eu1.ppe-hosted.com", "Proofpoint"), ("contoso.avanan.net", "Check Point Harmony Email (Avanan)"),
    ("relay.tmes.trendmicro.eu", "Trend Micro"), ("d1.ess.barracudanetworks.com", "Barracuda"),
    ("mx-gate.hornetsecurity.com", "Hornetsecurity"), ("mail.example.net", None),
])
def test_gateways_are_recognised_by_smart_host(host: str, product: str | None) -> None:
    assert (product_of("", [host]) or None) == product


def test_another_gateways_routing_rule_loops_with_ours_only_while_both_are_live() -> None:
    protect = rule("Protect", FromScope="NotInOrganization", RouteMessageOutboundConnector="CP Outbound",
                   ExceptIfSenderIpRanges=CP_RANGES, StopRuleProcessing=True)
    read = {"OutboundConnector": [CP], "TransportRule": [protect]}
    assert findings(read)["loop:Protect"] is Severity.ERROR
    staged = findings(read, {**CONFIG, "rules": {"enabled": False}})
    assert "loop:Protect" not in staged or staged["loop:Protect"] is Severity.WARNING  # only once enabled
    for off in ({**protect, "State": "Disabled"}, {**protect, "Mode": "Audit"}):
        assert "loop:Protect" not in findings({**read, "TransportRule": [off]})
    guarded = {**protect, "ExceptIfSenderIpRanges": CP_RANGES + RANGES}
    assert "loop:Protect" not in findings({**read, "TransportRule": [guarded]})
    monitoring = {**CONFIG, "protection": {**CONFIG["protection"], "mode": "monitoring"}}
    assert "loop:Protect" not in findings(read, monitoring)


def test_a_loop_the_tenant_has_already_is_a_warning_not_the_plans_error() -> None:
    unguarded = rule("Protect", FromScope="NotInOrganization", RouteMessageOutboundConnector="CP Outbound")
    found = findings({"OutboundConnector": [CP], "TransportRule": [unguarded]})
    assert found["loop:Protect"] is Severity.WARNING


def test_anything_that_sends_mail_back_to_our_gateway_loops() -> None:
    old = connector("Old MDCES", ["ces.metadefender.opswat.com"], RecipientDomains=["smtp:*;1"])
    found = findings({"OutboundConnector": [old]})
    assert any(k.startswith("loop:") for k in found) and "gateway:Old MDCES" in found
    scoped = connector("Old MDCES", ["ces.metadefender.opswat.com"], RecipientDomains=["metadefender.email"])
    assert not any(k.startswith("loop:") for k in findings({"OutboundConnector": [scoped]}))
    assert "gateway:Old MDCES" not in findings({"OutboundConnector": [{**old, "Enabled": False}]})


def test_hybrid_and_overlapping_connectors_are_lints() -> None:
    hybrid = connector("Outbound to 1b2c3d4e-0000-4000-8000-123456789abc", ["mail.contoso.com"], RecipientDomains=["x.com"])
    wizard = {"Name": "On-prem", "Enabled": True, "ConnectorSource": "HybridWizard", "ConnectorType": "OnPremises"}
    overlap = {"Name": "Old inbound", "Enabled": True, "SenderIPAddresses": ["203.0.113.10"], "ConnectorType": "Partner"}
    found = findings({"OutboundConnector": [hybrid], "InboundConnector": [wizard, overlap]})
    assert {k: v for k, v in found.items() if k.split(":")[0] in {"hybrid", "overlap"}} == {
        "hybrid:Outbound to 1b2c3d4e-0000-4000-8000-123456789abc": Severity.WARNING,
        "hybrid:On-prem": Severity.WARNING, "overlap:Old inbound": Severity.WARNING}


def test_a_foreign_rule_exoforms_rules_stop_is_named_with_the_fix() -> None:
    disclaimer = rule("Disclaimer", FromScope="InOrganization", SentToScope="NotInOrganization",
                      ApplyHtmlDisclaimerText="<p>legal</p>", Priority=0)
    read = {"TransportRule": [disclaimer]}
    monitoring = {**CONFIG, "protection": {**CONFIG["protection"], "mode": "monitoring"}}
    plan = plan_on(read, monitoring)
    stopped = next(d for d in plan.diagnostics if d.id == "stopped:Disclaimer")
    assert stopped.severity is Severity.WARNING and "placement" in stopped.message
    bottom = {**monitoring, "rules": {"enabled": True, "placement": "bottom"}}
    assert "stopped:Disclaimer" not in findings(read, bottom)
    # In-line, the message comes back from the gateway and the disclaimer runs on that pass.
    assert "stopped:Disclaimer" not in findings(read)


def test_a_stop_rule_above_a_bottom_placement_shadows_protection() -> None:
    stop = rule("Stop", StopRuleProcessing=True, FromScope="NotInOrganization", Priority=0)
    bottom = {**CONFIG, "rules": {"enabled": True, "placement": "bottom"}}
    found = findings({"TransportRule": [stop]}, bottom)
    assert found.get("shadow:Stop") is Severity.ERROR
    assert "shadow:Stop" not in findings({"TransportRule": [stop]})  # exoform's rules go above it


def test_accepting_a_risk_downgrades_it_and_an_unknown_id_is_reported() -> None:
    loop = Diagnostic(Severity.ERROR, "mail_loop", "m", id="loop:X")
    out = accept_risks([loop], ["LOOP:x", "loop:typo"])
    assert out[0].severity is Severity.WARNING and out[0].accepted and "--accept-risk loop:X" in out[0].message
    assert out[1].code == "unknown_risk_id" and "loop:typo" in out[1].message


def enabling_checks(changes: dict[Any, ResourceChange], observed: dict[Any, Observed]) -> list[Diagnostic]:
    request = request_for(spec_from(CONFIG), TenantRead.empty(), State.new("prop"))
    return enabling_blocked(CheckContext(request, plan_context(request, observed), changes))


def test_enabling_is_refused_while_a_dependency_is_missing_or_disabled() -> None:
    config = spec_from(CONFIG)
    desired = tuple(r for r in blueprint(config) if r.address != OUTBOUND_CONNECTOR)
    read = {"HostedConnectionFilterPolicy": POLICY}
    plan = make_plan(dataclasses.replace(request_for(config, TenantRead(read), State.new("prop")), desired=desired))
    blocked = [d for d in plan.errors if d.code == "enable_blocked"]
    assert {d.address for d in blocked} == {"transport_rule.inbound_emails", "transport_rule.outbound_emails"}
    assert "does not exist and this plan does not create it" in blocked[0].message
    off = {"Name": "OPSWAT MDCES - Outbound", "Comment": "[exoform:prop]", "Enabled": False, "IsTransportRuleScoped": True,
           "SmartHosts": ["ces.metadefender.opswat.com"], "UseMXRecord": False, "Guid": "g-1"}
    fixed = plan_on({"OutboundConnector": [off]})
    assert not [d for d in fixed.errors if d.code == "enable_blocked"]  # the plan enables the connector first
    changes = {c.address: c for c in fixed.changes if c.address != OUTBOUND_CONNECTOR}
    view = spec(Kind.OUTBOUND_CONNECTOR).managed_view
    seen = Observed(OUTBOUND_CONNECTOR, Resource(OUTBOUND_CONNECTOR, view(off)))
    found = enabling_checks(changes, {OUTBOUND_CONNECTOR: seen})
    assert len(found) == 2 and "'OPSWAT MDCES - Outbound' it depends on is disabled" in found[0].message
    unscoped = Resource(OUTBOUND_CONNECTOR, view({**off, "Enabled": True, "IsTransportRuleScoped": False}))
    found = enabling_checks(changes, {OUTBOUND_CONNECTOR: Observed(OUTBOUND_CONNECTOR, unscoped)})
    assert "not scoped to transport rules" in found[0].message


LOOPING_TENANT = {
    "OutboundConnector": [{"Name": "CP Outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                           "SmartHosts": ["x.checkpoint.com"], "UseMXRecord": False}],
    "TransportRule": [{"Name": "Protect", "Priority": 0, "FromScope": "NotInOrganization",
                       "RouteMessageOutboundConnector": "CP Outbound", "StopRuleProcessing": True,
                       "ExceptIfSenderIpRanges": CP_RANGES}],
}


def test_accept_risk_through_the_cli_and_the_saved_plan(workspace: Workspace) -> None:
    workspace.write_tenant(LOOPING_TENANT)
    workspace.write_config(CONFIG)
    code, out, _ = workspace.run("plan")
    assert code == 1 and "[loop:Protect]" in out and "Error" in out
    assert "--accept-risk loop:Protect" in out
    code, out, _ = workspace.run("plan", "--out", "p.json", "--accept-risk", "loop:Protect")
    assert code == 0, out
    saved = json.loads((workspace.root / "p.json").read_text())
    assert saved["applyable"] and saved["accepted_risks"] == ["loop:Protect"]
    finding = next(d for d in saved["diagnostics"] if d["id"] == "loop:Protect")
    assert finding["severity"] == "warning" and finding["accepted"]
    code, out, err = workspace.run("apply", "p.json")
    assert code == 0, out + err
    assert workspace.run("plan", "--detailed-exitcode", "--accept-risk", "loop:Protect")[0] == 0


def test_a_saved_plan_is_refused_when_a_new_finding_appeared(workspace: Workspace) -> None:
    workspace.write_tenant(None)
    workspace.write_config(CONFIG)
    assert workspace.run("plan", "--out", "p.json")[0] == 0
    for edit in [("New-OutboundConnector", LOOPING_TENANT["OutboundConnector"][0]),
                 ("New-TransportRule", {k: v for k, v in LOOPING_TENANT["TransportRule"][0].items() if k != "Priority"})]:
        workspace.outside(*edit)
    before = workspace.tenant.read_text()
    code, _, err = workspace.run("apply", "p.json")
    assert code == 1 and "can no longer be applied" in err and "loop" in err
    assert workspace.tenant.read_text() == before


def test_a_risk_accepted_in_the_config_lasts_and_a_stale_entry_is_reported(workspace: Workspace) -> None:
    workspace.write_tenant(LOOPING_TENANT)
    workspace.write_config({**CONFIG, "accept_risks": ["loop:Protect"]})
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0, out + err
    for _ in range(2):  # every later plan too, not only the one the flag was given to
        code, out, _ = workspace.run("plan", "--detailed-exitcode")
        assert code == 0 and "(risk accepted with loop:Protect in the config's accept_risks)" in out
        finding = next(d for d in workspace.plan_json()["exoform"]["diagnostics"] if d["id"] == "loop:Protect")
        assert finding["accepted"] and finding["severity"] == "warning"
    workspace.write_config({**CONFIG, "accept_risks": ["loop:Protect", "loop:Gone"]})
    stale = [d for d in workspace.plan_json()["exoform"]["diagnostics"] if d["code"] == "unknown_risk_id"]
    assert len(stale) == 1 and "'loop:Gone'" in stale[0]["message"] and "remove it from the config" in stale[0]["message"]


def test_an_exception_added_in_the_admin_center_is_reverted_or_carried_into_the_config(workspace: Workspace) -> None:
    workspace.write_tenant(None)
    workspace.write_config(CONFIG)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    workspace.outside("Set-TransportRule", {"Identity": "OPSWAT MDCES - Inbound emails",
                                            "ExceptIfSenderDomainIs": ["partner.example"]})
    plan = workspace.plan_json()
    [edit] = [d for d in plan["exoform"]["diagnostics"] if d["code"] == "edited_outside"]
    assert edit["address"] == "transport_rule.inbound_emails" and "ExceptIfSenderDomainIs = partner.example" in edit["message"]
    assert '"rules": {"exceptions": {"sender_domains": ["partner.example"]}}' in edit["message"]
    # Taking the advice: the exception now lives in the config, for both routing rules.
    workspace.write_config({**CONFIG, "rules": {"enabled": True, "exceptions": {"sender_domains": ["partner.example"]}}})
    plan = workspace.plan_json()
    changes = {c["address"]: c for c in plan["resource_changes"] if c["exoform"]["action"] != "no-op"}
    assert list(changes) == ["transport_rule.outbound_emails"]  # the inbound rule has it already
    assert changes["transport_rule.outbound_emails"]["exoform"]["changed"] == ["ExceptIfSenderDomainIs"]
    assert not [d for d in plan["exoform"]["diagnostics"] if d["code"] == "edited_outside"]
    assert workspace.run("apply", "--auto-approve")[0] == 0
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_config_exceptions_that_cover_a_whole_protected_class_are_a_bypass() -> None:
    config = {**CONFIG, "rules": {"enabled": True, "exceptions": {"recipient_domains": ["contoso.com"]}}}
    plan = plan_on({}, config)
    rule = dict(plan.change(Address(Kind.TRANSPORT_RULE, "inbound_emails")).after or ())
    assert rule["ExceptIfRecipientDomainIs"] == ("contoso.com",)
    bypass = [d for d in plan.errors if d.code == "mail_bypass"]
    assert bypass and "inbound" in bypass[0].message
    narrow = {**CONFIG, "rules": {"enabled": True, "exceptions": {"senders": ["scanner@partner.example"]}}}
    assert not [d for d in plan_on({}, narrow).errors if d.code.startswith("mail_")]
