"""Third-party conflicts and loops (engine/checks/conflicts.py) as a pure function over a read,
acknowledging findings with --accept-risk (downgraded, recorded in the saved plan, re-checked
when the saved plan is applied), and the staged-enabling dependency check."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from support.workspace import Workspace
from exoform.engine.blueprint import INBOUND_RULE, OUTBOUND_CONNECTOR, blueprint
from exoform.engine.checks.context import CheckContext
from exoform.engine.checks.conflicts import covers_ranges, find_conflicts, vendor_of
from exoform.engine.checks.enabling import enabling_blocked
from exoform.engine.checks.risk import accept_risks
from exoform.engine.kinds import spec
from exoform.engine.kinds.base import Observed
from exoform.engine.model import Kind, Resource
from exoform.engine.operations import request_for
from exoform.engine.plan import Diagnostic, ResourceChange, Severity
from exoform.engine.planning import make_plan
from exoform.engine.planning.passes import plan_context
from exoform.engine.read import TenantRead
from exoform.engine.state import State
from support.harness import plan_for, spec_from

RANGES = ["203.0.113.0/24", "198.51.100.7"]
CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": RANGES, "tenant_info": "t"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
    "rules": {"enabled": True},
}


def findings(read: dict[str, Any], config: dict[str, Any] = CONFIG, top: bool = True) -> dict[str, Severity]:
    desired = blueprint(spec_from(config))
    return {d.id: d.severity for d in find_conflicts(TenantRead(read), desired, {}, "prop", top)}


def enabling_checks(changes: dict[Any, ResourceChange], observed: dict[Any, Observed]) -> list[Diagnostic]:
    request = request_for(spec_from(CONFIG), TenantRead.empty(), State.new("prop"))
    return enabling_blocked(CheckContext(request, plan_context(request, observed), changes))


def managed_view(kind: Kind, obj: dict[str, Any]) -> Any:
    return spec(kind).managed_view(obj)


def rule(name: str, **attrs: Any) -> dict[str, Any]:
    return {"Name": name, "State": "Enabled", "Priority": attrs.pop("Priority", 0), **attrs}


def connector(name: str, hosts: list[str], **attrs: Any) -> dict[str, Any]:
    return {"Name": name, "Enabled": True, "SmartHosts": hosts, "UseMXRecord": False, **attrs}


@pytest.mark.parametrize("host, product", [
    ("eu-smtp-o365-outbound-1.mimecast.com", "Mimecast"), ("mx0a-001.pphosted.com", "Proofpoint"),
    ("mx1-eu1.ppe-hosted.com", "Proofpoint"), ("contoso.avanan.net", "Check Point Harmony Email (Avanan)"),
    ("relay.tmes.trendmicro.eu", "Trend Micro"), ("d1.ess.barracudanetworks.com", "Barracuda"),
    ("mx-gate.hornetsecurity.com", "Hornetsecurity"), ("mail.example.net", None),
])
def test_gateways_are_recognised_by_smart_host(host: str, product: str | None) -> None:
    assert vendor_of([], [host]) == product


def test_another_gateways_routing_rule_is_a_loop_error_only_while_both_are_live() -> None:
    cp = connector("CP Outbound", ["x.checkpoint.com"], IsTransportRuleScoped=True)
    protect = rule("Protect", FromScope="NotInOrganization", RouteMessageOutboundConnector="CP Outbound")
    read = {"OutboundConnector": [cp], "TransportRule": [protect]}
    assert findings(read)["loop:Protect"] is Severity.ERROR
    assert findings(read, {**CONFIG, "rules": {"enabled": False}})["loop:Protect"] is Severity.WARNING
    disabled = {**read, "TransportRule": [{**protect, "State": "Disabled"}]}
    assert findings(disabled)["loop:Protect"] is Severity.WARNING
    audit = {**read, "TransportRule": [{**protect, "Mode": "Audit"}]}
    assert findings(audit)["loop:Protect"] is Severity.WARNING
    excepted = {**read, "TransportRule": [{**protect, "ExceptIfSenderIpRanges": ["203.0.113.0/24", "198.51.100.0/24"]}]}
    assert "loop:Protect" not in findings(excepted) and findings(excepted)["chain:Protect"] is Severity.WARNING
    outbound_only = {**read, "TransportRule": [{**protect, "FromScope": "InOrganization", "SentToScope": "NotInOrganization"}]}
    assert findings(outbound_only, {**CONFIG, "protection": {**CONFIG["protection"], "directions": ["inbound"]}}) \
        .get("loop:Protect") is None
    monitoring = {**CONFIG, "protection": {**CONFIG["protection"], "mode": "monitoring"}}
    assert "loop:Protect" not in findings(read, monitoring)


def test_an_unknown_service_routing_external_mail_counts_but_a_narrow_internal_route_does_not() -> None:
    relay = connector("Relay", ["relay.example.net"], IsTransportRuleScoped=True)
    external = rule("All external via relay", SentToScope="NotInOrganization", RouteMessageOutboundConnector="Relay")
    journal = rule("Journal VIPs", SentTo=["bob@contoso.com"], RouteMessageOutboundConnector="Relay")
    assert findings({"OutboundConnector": [relay], "TransportRule": [external]}) == {"loop:All external via relay": Severity.ERROR}
    assert findings({"OutboundConnector": [relay], "TransportRule": [journal]}) == {}


def test_anything_that_sends_mail_back_to_our_gateway_loops() -> None:
    ours = connector("OPSWAT MDCES - Outbound", ["ces.metadefender.opswat.com"], IsTransportRuleScoped=True,
                     Comment="[exoform:prop]")
    vip = rule("VIPs to gateway", SentTo=["bob@contoso.com"], RouteMessageOutboundConnector="OPSWAT MDCES - Outbound")
    assert findings({"OutboundConnector": [ours], "TransportRule": [vip]})["loop:VIPs to gateway"] is Severity.ERROR
    guarded = {**vip, "ExceptIfSenderIpRanges": ["203.0.113.0/24", "198.51.100.7"]}
    assert findings({"OutboundConnector": [ours], "TransportRule": [guarded]}) == {}
    old = connector("Old MDCES", ["ces.metadefender.opswat.com"], RecipientDomains=["smtp:*;1"])
    assert findings({"OutboundConnector": [old]}) == {"loop:Old MDCES": Severity.ERROR}
    scoped = connector("Old MDCES", ["ces.metadefender.opswat.com"], RecipientDomains=["metadefender.email"])
    assert findings({"OutboundConnector": [scoped]}) == {"gateway:Old MDCES": Severity.WARNING}
    assert findings({"OutboundConnector": [{**old, "Enabled": False}]}) == {}


def test_hybrid_overlap_and_shadowing_are_warnings() -> None:
    hybrid = connector("Outbound to 1b2c3d4e-0000-4000-8000-123456789abc", ["mail.contoso.com"], RecipientDomains=["x"])
    wizard = {"Name": "On-prem", "Enabled": True, "ConnectorSource": "HybridWizard"}
    overlap = {"Name": "Old inbound", "Enabled": True, "SenderIPAddresses": ["203.0.113.10"]}
    stop = rule("Stop", StopRuleProcessing=True, FromScope="NotInOrganization")
    read = {"OutboundConnector": [hybrid], "InboundConnector": [wizard, overlap], "TransportRule": [stop]}
    assert findings(read, top=False) == {
        "hybrid:Outbound to 1b2c3d4e-0000-4000-8000-123456789abc": Severity.WARNING,
        "hybrid:On-prem": Severity.WARNING, "overlap:Old inbound": Severity.WARNING,
        "shadow:Stop": Severity.WARNING}
    assert "shadow:Stop" not in findings(read, top=True)  # a new block goes above it
    assert "shadow:Stop" not in findings({"TransportRule": [{**stop, "StopRuleProcessing": False}]}, top=False)


def test_our_loop_guards_are_checked_in_the_tenant_and_after_the_plan() -> None:
    spec = spec_from(CONFIG)
    desired = blueprint(spec)
    plan = plan_for(spec, {"HostedConnectionFilterPolicy": [{"Name": "Default"}]}, State.new("prop"))
    change = plan.change(INBOUND_RULE)
    stripped = dataclasses.replace(change, before=tuple((k, None if k.startswith("ExceptIf") else v) for k, v in change.after))
    found = find_conflicts(TenantRead.empty(), desired, {INBOUND_RULE: stripped}, "prop")
    assert [(d.id, d.severity) for d in found] == [("loop_guard:OPSWAT MDCES - Inbound emails", Severity.WARNING)]
    broken = dataclasses.replace(stripped, after=stripped.before)
    found = find_conflicts(TenantRead.empty(), desired, {INBOUND_RULE: broken}, "prop")
    assert [(d.id, d.severity) for d in found] == [("loop_guard:OPSWAT MDCES - Inbound emails", Severity.ERROR)]


def test_covers_ranges() -> None:
    assert covers_ranges(["203.0.113.0/24", "198.51.100.0-198.51.100.10"], RANGES)
    assert not covers_ranges(["203.0.113.0/25", "198.51.100.7"], RANGES)
    assert not covers_ranges(["garbage"], RANGES)


def test_accepting_a_risk_downgrades_it_and_an_unknown_id_is_reported() -> None:
    loop = Diagnostic(Severity.ERROR, "mail_loop", "m", id="loop:X")
    out = accept_risks([loop], ["LOOP:x", "loop:typo"])
    assert out[0].severity is Severity.WARNING and out[0].accepted and "--accept-risk loop:X" in out[0].message
    assert out[1].code == "unknown_risk_id" and "loop:typo" in out[1].message


def test_enabling_is_refused_while_a_dependency_is_missing_or_disabled() -> None:
    spec = spec_from(CONFIG)
    desired = tuple(r for r in blueprint(spec) if r.address != OUTBOUND_CONNECTOR)
    read = {"HostedConnectionFilterPolicy": [{"Name": "Default"}]}
    plan = make_plan(dataclasses.replace(request_for(spec, TenantRead(read), State.new("prop")), desired=desired))
    blocked = [d for d in plan.errors if d.code == "enable_blocked"]
    assert {d.address for d in blocked} == {"transport_rule.inbound_emails", "transport_rule.outbound_emails"}
    assert "does not exist and this plan does not create it" in blocked[0].message
    off = {"Name": "OPSWAT MDCES - Outbound", "Comment": "[exoform:prop]", "Enabled": False, "IsTransportRuleScoped": True,
           "SmartHosts": ["ces.metadefender.opswat.com"], "UseMXRecord": False, "Guid": "g-1"}
    fixed = plan_for(spec, {**read, "OutboundConnector": [off]}, State.new("prop"))
    assert not [d for d in fixed.errors if d.code == "enable_blocked"]  # the plan enables the connector first
    changes = {c.address: c for c in fixed.changes if c.address != OUTBOUND_CONNECTOR}
    seen = Observed(OUTBOUND_CONNECTOR, Resource(OUTBOUND_CONNECTOR, managed_view(Kind.OUTBOUND_CONNECTOR, off)))
    found = enabling_checks(changes, {OUTBOUND_CONNECTOR: seen})
    assert len(found) == 2 and "'OPSWAT MDCES - Outbound' it depends on is disabled" in found[0].message
    unscoped = Resource(OUTBOUND_CONNECTOR, managed_view(Kind.OUTBOUND_CONNECTOR, {**off, "Enabled": True, "IsTransportRuleScoped": False}))
    found = enabling_checks(changes, {OUTBOUND_CONNECTOR: Observed(OUTBOUND_CONNECTOR, unscoped)})
    assert "not scoped to transport rules" in found[0].message


LOOPING_TENANT = {
    "OutboundConnector": [{"Name": "CP Outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                           "SmartHosts": ["x.checkpoint.com"], "UseMXRecord": False}],
    "TransportRule": [{"Name": "Protect", "Priority": 0, "FromScope": "NotInOrganization",
                       "RouteMessageOutboundConnector": "CP Outbound", "StopRuleProcessing": True}],
}


def test_accept_risk_through_the_cli_and_the_saved_plan(workspace: Workspace) -> None:
    workspace.write_tenant(LOOPING_TENANT)
    workspace.write_config(CONFIG)
    code, out, _ = workspace.run("plan")
    assert code == 1 and "Error (transport_rule.inbound_emails) [loop:Protect]" in out
    assert "--accept-risk loop:Protect" in out
    code, out, _ = workspace.run("plan", "--out", "p.json", "--accept-risk", "loop:Protect")
    assert code == 0
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
