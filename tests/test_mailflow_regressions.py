"""The mail-flow bugs a new user met (issue 9), each through the CLI on the sandbox and over
HTTPS against the emulator: admin-center edits that let mail bypass the gateway, monitoring
mode stopping other outbound rules, a range added, risks accepted in the config, a destroy
blocked by a foreign rule, drift that sees a loop, another integration's objects named as
such, a second integration applied while the first runs, and `exoform trace` itself."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from support.workspace import Workspace
from exoform.engine.errors import ConcurrentChangeError
from exoform.engine.operations import PlanOptions, Session, applying
from exoform.engine.interrupt import Interrupts
from exoform.engine.reporter import Reporter
from exoform.providers import registry

PROVIDERS = ["workspace", "emulated_workspace"]
RANGES = ["203.0.113.0/24"]
INLINE: dict[str, Any] = {
    "gateway": {"ip_ranges": RANGES, "tenant_info": "info-1"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
    "rules": {"enabled": True},
}
TENANT: dict[str, Any] = {"recipients": [{"address": "alice@contoso.com", "type": "UserMailbox"}]}
INBOUND_RULE, OUTBOUND_RULE = "OPSWAT MDCES - Inbound emails", "OPSWAT MDCES - Outbound emails"


@pytest.fixture(params=PROVIDERS, ids=["sandbox", "emulator"])
def ws(request: pytest.FixtureRequest) -> Workspace:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def _installed(ws: Workspace, config: dict[str, Any] = INLINE, tenant: dict[str, Any] = TENANT) -> str:
    original = ws.write_tenant(copy.deepcopy(tenant))
    ws.write_config(config)
    code, out, err = ws.run("apply", "--auto-approve")
    assert code == 0, out + err
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    return original


def _trace(ws: Workspace, *extra: str) -> dict[str, Any]:
    code, out, err = ws.run("trace", "--json", *extra)
    assert code in (0, 2), out + err
    return json.loads(out)  # type: ignore[no-any-return]


def _verdicts(state: dict[str, Any]) -> dict[str, list[str]]:
    return {p["class"]: p["possible"] for p in state["paths"]}


def _unsafe(traced: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["at"], p["class"]) for s in traced["states"] for p in s["paths"]
            if {"loop", "rejected", "lost"} & set(p["possible"])]


def _never_worse(traced: dict[str, Any]) -> None:
    """No step makes a class fail that did not before the plan (judged by the config's gateway:
    a gateway already switched to monitoring or sending from a new range may fail now), and
    the planned state fails none."""
    unsafe = _unsafe(traced)
    now = {c for at, c in unsafe if at == "now"}
    assert {c for at, c in unsafe if at != "now"} <= now, unsafe
    assert not [c for at, c in unsafe if at == "planned"], unsafe


def _destroyed_back(ws: Workspace, original: str) -> None:
    code, out, err = ws.run("destroy", "--auto-approve")
    assert code == 0, out + err
    assert ws.tenant.read_text(encoding="utf-8") == original


def test_trace_shows_every_step_of_an_install_safe_and_the_intended_verdicts(ws: Workspace) -> None:
    ws.write_tenant(copy.deepcopy(TENANT))
    ws.write_config(INLINE)
    traced = _trace(ws)
    steps = ws.plan_json()["exoform"]["steps"]
    assert [s["at"] for s in traced["states"]] == ["now", *(f"step {i + 1}" for i in range(len(steps))), "planned"]
    assert _unsafe(traced) == []
    assert _verdicts(traced["states"][0])["inbound"] == ["bypassed"]
    planned = {p["class"]: p for p in traced["states"][-1]["paths"]}
    assert planned["inbound"]["verdict"] == planned["inbound"]["intended"] == "scanned"
    assert planned["outbound"]["verdict"] == "scanned" and planned["internal"]["verdict"] == "bypassed"
    assert INBOUND_RULE in planned["inbound"]["rules"] and traced["findings"] == []
    code, out, _ = ws.run("trace")
    assert code == 0 and "Mail flow after this plan:" in out and "NOT OK" not in out
    code, mermaid, _ = ws.run("trace", "--format", "mermaid")
    assert code == 0 and mermaid.startswith("flowchart LR") and "gateway" in mermaid
    code, dot, _ = ws.run("trace", "--format", "dot")
    assert code == 0 and dot.startswith("digraph mailflow {") and dot.rstrip().endswith("}")
    code, out, _ = ws.run("plan")
    table = out[out.index("Mail flow after this plan"):].splitlines()
    assert [line.split() for line in table if line.split()[:1] == ["inbound"]] == [["inbound", "scanned", "scanned"]]


def test_trace_of_a_saved_plan_and_a_stale_one(ws: Workspace) -> None:
    original = _installed(ws)
    config = copy.deepcopy(INLINE)
    config["protection"]["mode"] = "monitoring"
    ws.write_config(config)
    assert ws.run("plan", "--out", "switch.plan")[0] == 0
    traced = _trace(ws, "switch.plan")
    _never_worse(traced)
    assert _verdicts(traced["states"][-1])["inbound"] == ["copied"]
    ws.outside("Set-TransportRule", {"Identity": INBOUND_RULE, "ExceptIfRecipientDomainIs": ["contoso.com"]})
    code, out, err = ws.run("trace", "switch.plan")
    assert code == 1 and "stale" in err and "Traceback" not in err
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    _destroyed_back(ws, original)


def test_admin_center_edits_that_bypass_the_gateway_are_drift_and_are_reverted(ws: Workspace) -> None:
    original = _installed(ws)
    ws.outside("Set-TransportRule", {"Identity": INBOUND_RULE, "ExceptIfRecipientDomainIs": ["contoso.com"]})
    ws.outside("Set-InboundConnector", {"Identity": "OPSWAT MDCES - Inbound", "TreatMessagesAsInternal": True})
    code, out, err = ws.run("plan", "--detailed-exitcode")
    assert code == 2, out + err
    assert "ExceptIfRecipientDomainIs" in out and "TreatMessagesAsInternal" in out
    code, out, err = ws.run("drift")
    assert code == 2 and "ExceptIfRecipientDomainIs" in out
    assert "Mail does not flow as the configuration intends now" in out and "bypass" in out.lower()
    code, out, _ = ws.run("drift", "--json")
    body = json.loads(out)
    assert code == 2 and body["mail_flow"]["as_intended"] is False
    assert any(f["code"] == "mail_bypass" for f in body["mail_flow"]["findings"])
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    code, out, _ = ws.run("drift")
    assert code == 0 and "Mail does not flow" not in out
    _destroyed_back(ws, original)


def test_drift_and_verify_report_a_loop_the_tenant_has_now(ws: Workspace) -> None:
    original = _installed(ws)
    # Without its exception for the gateway's addresses, mail coming back is routed out again.
    ws.outside("Set-TransportRule", {"Identity": INBOUND_RULE, "ExceptIfSenderIpRanges": None})
    code, out, _ = ws.run("drift", "--json")
    body = json.loads(out)
    assert code == 2 and any(f["code"] == "mail_loop" for f in body["mail_flow"]["findings"])
    code, out, err = ws.run("plan", "--verify")
    assert code == 2 and "loop" in out + err
    code, out, _ = ws.run("plan", "--verify", "--json")
    assert code == 2 and json.loads(out)["matches"] is False
    assert any(f["code"] == "mail_loop" for f in json.loads(out)["mail_flow_now"])
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--verify")[0] == 0 and ws.run("drift")[0] == 0
    _destroyed_back(ws, original)


def test_adding_a_range_is_described_as_adding_a_range(ws: Workspace) -> None:
    original = _installed(ws)
    config = copy.deepcopy(INLINE)
    config["gateway"]["ip_ranges"] = [*RANGES, "198.51.100.0/24"]
    ws.write_config(config)
    code, out, err = ws.run("plan", "--detailed-exitcode")
    assert code == 2, out + err
    assert "loop" not in (out + err).lower() and "removed outside exoform" not in out + err
    assert "198.51.100.0/24" in out
    _never_worse(_trace(ws))
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    _destroyed_back(ws, original)


def test_monitoring_names_the_outbound_rules_it_stops_and_the_header_that_leaves(ws: Workspace) -> None:
    tenant = copy.deepcopy(TENANT)
    tenant["TransportRule"] = [
        {"Name": "Encrypt finance", "Priority": 0, "SentToScope": "NotInOrganization",
         "ApplyRightsProtectionTemplate": "Encrypt"},
        {"Name": "Legal disclaimer", "Priority": 1, "SentToScope": "NotInOrganization",
         "ApplyHtmlDisclaimerText": "Confidential", "ApplyHtmlDisclaimerLocation": "Append"}]
    config = copy.deepcopy(INLINE)
    config["protection"] = {"mode": "monitoring", "directions": ["inbound", "outbound"], "scope": {"users": "all"}}
    original = ws.write_tenant(tenant)
    ws.write_config(config)
    code, out, err = ws.run("plan")
    assert code == 0, out + err
    stopped = [line for line in out.splitlines() if "no longer runs" in line]
    assert any("Encrypt finance" in line for line in stopped) and any("Legal disclaimer" in line for line in stopped)
    assert "X-MDCES-Data" in out and "leaves the organisation" in out
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    _destroyed_back(ws, original)


def test_a_risk_accepted_in_the_config_stays_accepted(ws: Workspace) -> None:
    tenant = copy.deepcopy(TENANT)
    tenant["TransportRule"] = [{"Name": "Stop all", "Priority": 0, "StopRuleProcessing": True,
                                "SetHeaderName": "X-Stop", "SetHeaderValue": "1"}]
    original = ws.write_tenant(tenant)
    config = {**INLINE, "rules": {"enabled": True, "placement": "bottom"}}
    ws.write_config(config)
    code, out, err = ws.run("plan")
    assert code == 1 and "Error" in out + err
    ident = next(d["id"] for d in json.loads(ws.run("plan", "--json")[1])["exoform"]["diagnostics"]
                 if d["severity"] == "error" and d["id"])
    assert ident.startswith("shadow:")
    # A rule with no conditions stops every class, not only inbound mail.
    message = next(d["message"] for d in json.loads(ws.run("plan", "--json")[1])["exoform"]["diagnostics"]
                   if d["id"] == ident)
    assert "inbound mail" in message and "outbound mail" in message
    ws.write_config({**config, "accept_risks": [ident]})
    for _ in range(2):
        body = ws.plan_json()
        accepted = [d for d in body["exoform"]["diagnostics"] if d["id"] == ident]
        assert accepted and accepted[0]["accepted"] and accepted[0]["severity"] == "warning"
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    _destroyed_back(ws, original)


def test_destroy_sees_a_foreign_rule_that_routes_through_exoforms_connector(ws: Workspace) -> None:
    _installed(ws)
    ws.outside("New-TransportRule", {"Name": "Admin routing", "SentToScope": "NotInOrganization",
                                     "RouteMessageOutboundConnector": "OPSWAT MDCES - Outbound"})
    before = ws.tenant.read_text(encoding="utf-8")
    code, out, err = ws.run("destroy", "--auto-approve")
    assert code == 1 and "Admin routing" in out + err and "Traceback" not in err
    assert "cannot be removed" in out + err
    assert ws.tenant.read_text(encoding="utf-8") == before, "nothing was changed"
    ws.outside("Remove-TransportRule", {"Identity": "Admin routing"})
    assert ws.run("destroy", "--auto-approve")[0] == 0


def test_another_integrations_objects_are_named_as_such(ws: Workspace) -> None:
    original = _installed(ws)
    other = copy.deepcopy(INLINE)
    other["gateway"] = {"ip_ranges": RANGES, "tenant_info": "info-2", "name_prefix": "Beta GW",
                        "smart_host": "beta.gateway.example"}
    ws.write_config(other, integration="beta", path=ws.root / "beta.json")
    code, out, err = ws.run("plan", "-c", "beta.json")
    text = out + err
    assert "exoform integration 'scenario'" in text, text
    assert "left from an earlier install" not in text
    _destroyed_back(ws, original)


def _session(ws: Workspace, config: str) -> Session:
    return Session.open(ws.root / config, Reporter(), registry)


def test_a_second_integration_applied_during_an_apply_stops_it_before_routing_goes_live(ws: Workspace) -> None:
    """Both plans are made against a tenant without the other (at the same moment); beta then
    runs to completion while alpha is between its plan and its first routing rule."""
    original = ws.write_tenant(copy.deepcopy(TENANT))
    alpha = copy.deepcopy(INLINE)
    alpha["gateway"] = {"ip_ranges": RANGES, "tenant_info": "a", "name_prefix": "Alpha GW",
                        "smart_host": "alpha.gateway.example"}
    beta = copy.deepcopy(INLINE)
    beta["gateway"] = {"ip_ranges": ["198.51.100.0/24"], "tenant_info": "b", "name_prefix": "Beta GW",
                       "smart_host": "beta.gateway.example"}
    ws.write_config(alpha, integration="alpha", path=ws.root / "alpha.json")
    ws.write_config(beta, integration="beta", path=ws.root / "beta.json")
    with applying(_session(ws, "alpha.json"), PlanOptions()) as run:
        assert not run.plan.errors and run.plan.live_step is not None
        code, out, err = ws.run("apply", "-c", "beta.json", "--auto-approve")
        assert code == 0, out + err
        after_beta = ws.tenant.read_text(encoding="utf-8")
        result = run.execute(rollback=True, interrupts=Interrupts(), reread=False)
    assert not result.ok and isinstance(result.error, ConcurrentChangeError)
    assert result.failed_step == run.plan.live_step and result.rollback_complete
    assert "Beta GW" in str(result.error) and "(new)" in str(result.error)
    assert ws.tenant.read_text(encoding="utf-8") == after_beta, "alpha rolled back, beta untouched"
    # Sequentially, the second integration is refused by its own plan.
    code, out, err = ws.run("plan", "-c", "alpha.json")
    assert code == 1 and "loop" in (out + err).lower()
    assert ws.run("destroy", "-c", "beta.json", "--auto-approve")[0] == 0
    assert ws.tenant.read_text(encoding="utf-8") == original


def test_a_prefix_rename_keeps_mail_protected_at_every_step(ws: Workspace) -> None:
    original = _installed(ws)
    config = copy.deepcopy(INLINE)
    config["gateway"]["name_prefix"] = "Contoso GW"
    ws.write_config(config)
    steps = ws.plan_json()["exoform"]["steps"]
    cmdlets = [s["cmdlet"] for s in steps]
    assert "Remove-TransportRule" not in cmdlets and "Remove-InboundConnector" not in cmdlets, cmdlets
    assert "New-TransportRule" not in cmdlets, "rules are renamed in place"
    # The replaced outbound connector goes last, after the rules point at its successor.
    assert cmdlets.index("New-OutboundConnector") < cmdlets.index("Remove-OutboundConnector") == len(cmdlets) - 1
    traced = _trace(ws)
    _never_worse(traced)
    for state in traced["states"][1:]:
        verdicts = _verdicts(state)
        assert verdicts["inbound"] == ["scanned"] and verdicts["outbound"] == ["scanned"], state["at"]
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    _destroyed_back(ws, original)


def test_disabling_turns_the_routing_rules_off_before_spf_and_says_protection_stops(ws: Workspace) -> None:
    original = _installed(ws)
    ws.write_config({**INLINE, "rules": {"enabled": False}})
    code, out, err = ws.run("plan")
    assert code == 0 and "protection stops" in (out + err).lower()
    steps = ws.plan_json()["exoform"]["steps"]
    disabled = [s["address"] for s in steps if s["cmdlet"] == "Disable-TransportRule"]
    assert disabled[-1] == "transport_rule.spf" and len(disabled) == 3, disabled
    _never_worse(_trace(ws))
    assert ws.run("apply", "--auto-approve")[0] == 0
    ws.write_config(INLINE)
    steps = ws.plan_json()["exoform"]["steps"]
    enabled = [s["address"] for s in steps if s["cmdlet"] == "Enable-TransportRule"]
    assert enabled[0] == "transport_rule.spf" and len(enabled) == 3, enabled
    _never_worse(_trace(ws))
    assert ws.run("apply", "--auto-approve")[0] == 0
    _destroyed_back(ws, original)


def test_rules_enabled_in_the_admin_center_stay_enabled_without_contradicting_the_plan(ws: Workspace) -> None:
    config = {k: v for k, v in INLINE.items() if k != "rules"}  # rules.enabled left out
    original = _installed(ws, config)
    for name in ("OPSWAT MDCES - SPF", INBOUND_RULE, OUTBOUND_RULE):
        ws.outside("Enable-TransportRule", {"Identity": name})
    code, out, err = ws.run("plan", "--detailed-exitcode")
    body = ws.plan_json()
    assert not body["exoform"]["steps"], "the admin's choice is kept: nothing to disable"
    # Each rule is said to stay enabled once, and no step says otherwise.
    assert code in (0, 2) and out.count("stays enabled") <= 3 and "Disable-TransportRule" not in out
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    assert all(r["State"] == "Enabled" for r in ws.document()["TransportRule"])
    # An edit exoform reverts on a rule the admin enabled: the apply's Set- keeps it enabled,
    # and the state records it so (drift must not call the admin's choice a change).
    ws.outside("Set-TransportRule", {"Identity": INBOUND_RULE, "ExceptIfSenderDomainIs": ["partner.example"]})
    assert ws.run("apply", "--auto-approve")[0] == 0
    code, out, _ = ws.run("drift")
    assert code == 0, out
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    _destroyed_back(ws, original)


def test_a_rule_the_admin_enabled_alone_reads_as_staged_not_as_a_contradiction(ws: Workspace) -> None:
    config = {k: v for k, v in INLINE.items() if k != "rules"}
    original = _installed(ws, config)
    ws.outside("Enable-TransportRule", {"Identity": INBOUND_RULE})
    # Inbound mail is scanned by the one enabled rule; staged rules make either verdict fine,
    # and the table says so rather than "intended: bypassed" beside "scanned".
    code, out, _ = ws.run("trace")
    now = out.split("\n\n")[0].splitlines()
    inbound = next(line for line in now if line.split()[:1] == ["inbound"])
    assert code == 0 and "scanned" in inbound and "either (rules staged)" in inbound and "NOT OK" not in inbound
    assert json.loads(ws.run("trace", "--json")[1])["states"][0]["paths"][0]["intended"] == "bypassed"
    _destroyed_back(ws, original)
