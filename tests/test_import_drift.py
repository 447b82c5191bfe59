"""Import and adoption (`exoform import`, `--adopt`): objects from the vendor's wizard or a manual
install are taken into state by name, kept (same Guid) and fixed in place, never taken from
another integration. The drift report (`exoform drift`, `plan --refresh-only`): per attribute,
deletions, removed allow-list entries, broken rule order, exit codes 0/2/1, JSON, read-only."""
from __future__ import annotations

import json
from typing import Any

from support.workspace import Workspace

RANGES = ["203.0.113.0/24", "198.51.100.7"]
CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": RANGES, "tenant_info": "tenant-secret-ish"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
WIZARD = "[OPSWAT wizard]"


def wizard_tenant(comment: str = WIZARD) -> dict[str, Any]:
    """What the vendor's wizard (or a manual PowerShell install) left: our names, no marker."""
    rule = {"State": "Enabled", "SetHeaderName": "X-MDCES-Data", "SetHeaderValue": "tenant-secret-ish",
            "RouteMessageOutboundConnector": "OPSWAT MDCES - Outbound", "StopRuleProcessing": True,
            "ExceptIfSenderIpRanges": RANGES, "Comments": comment}
    return {
        "recipients": [{"address": "alice@contoso.com", "type": "UserMailbox"}],
        "InboundConnector": [{"Name": "OPSWAT MDCES - Inbound", "ConnectorType": "OnPremises", "SenderDomains": ["*"],
                              "SenderIPAddresses": RANGES, "RequireTls": True, "Comment": comment}],
        "OutboundConnector": [{"Name": "OPSWAT MDCES - Outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
                               "SmartHosts": ["ces.metadefender.opswat.com"], "UseMXRecord": False,
                               "TlsSettings": "EncryptionOnly", "Comment": comment}],
        "TransportRule": [
            {"Name": "OPSWAT MDCES - SPF", "Priority": 0, "State": "Enabled", "SenderIpRanges": RANGES,
             "RemoveHeader": "X-MDCES-Data", "Comments": comment},
            {**rule, "Name": "OPSWAT MDCES - Inbound emails", "Priority": 1, "SentToScope": "InOrganization",
             "FromScope": "NotInOrganization"},
            {**rule, "Name": "OPSWAT MDCES - Outbound emails", "Priority": 2, "SentToScope": "NotInOrganization",
             "FromScope": "InOrganization"},
            {"Name": "Disclaimer", "Priority": 3, "SetHeaderName": "X-D", "SetHeaderValue": "1"},
        ],
        "HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default", "IPAllowList": RANGES}],
    }


def guids(workspace: Workspace) -> dict[str, str]:
    doc = workspace.document()
    return {o["Name"]: o["Guid"] for k in ("InboundConnector", "OutboundConnector", "TransportRule") for o in doc[k]}


def test_import_takes_a_wizard_install_into_state_and_the_next_apply_fixes_it_in_place(workspace: Workspace) -> None:
    workspace.write_tenant(wizard_tenant())
    workspace.write_config(CONFIG)
    before = guids(workspace)
    code, out, _ = workspace.run("plan")
    assert code == 1 and "already has a TransportRule named" in out and "run `exoform import`" in out
    code, out, err = workspace.run("import")
    assert code == 0, out + err
    assert "Import complete: 6 taken into state" in out and "(no exoform marker yet" in out
    assert "~ Comments" in out and "Plan: 0 to add, 5 to change, 0 to destroy." in out  # the differences to fix
    state = json.loads(workspace.state.read_text())
    assert {r["address"]: r["guid"] for r in state["resources"] if r["guid"]} == {
        "inbound_connector.inbound": before["OPSWAT MDCES - Inbound"],
        "outbound_connector.outbound": before["OPSWAT MDCES - Outbound"],
        "transport_rule.spf": before["OPSWAT MDCES - SPF"],
        "transport_rule.inbound_emails": before["OPSWAT MDCES - Inbound emails"],
        "transport_rule.outbound_emails": before["OPSWAT MDCES - Outbound emails"]}
    allow = next(r for r in state["resources"] if r["address"] == "connection_filter_allowlist.default")
    assert "owned_entries" not in allow  # present before exoform: the admin's, never removed
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0 and "New-" not in out, out + err
    assert guids(workspace) == before  # updated in place, never recreated
    rules = {r["Name"]: r for r in workspace.document()["TransportRule"]}
    assert rules["OPSWAT MDCES - SPF"]["Comments"].startswith("[exoform:scenario]")
    assert rules["OPSWAT MDCES - SPF"]["State"] == "Enabled"  # admin-enabled rules stay enabled
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0
    assert workspace.run("import")[1].startswith("Nothing to import")
    assert workspace.run("destroy", "--auto-approve")[0] == 0
    doc = workspace.document()
    assert [r["Name"] for r in doc["TransportRule"]] == ["Disclaimer"] and doc["OutboundConnector"] == []
    assert doc["HostedConnectionFilterPolicy"][0]["IPAllowList"] == RANGES


def test_adopt_flag_plans_and_applies_the_takeover_in_one_go(workspace: Workspace) -> None:
    workspace.write_tenant(wizard_tenant())
    workspace.write_config(CONFIG)
    before = guids(workspace)
    plan = workspace.plan_json("--adopt")
    assert plan["exoform"]["adopt"] and {c["address"] for c in plan["resource_changes"] if c["exoform"]["adopted"]} >= {
        "inbound_connector.inbound", "transport_rule.spf"}
    assert "adopted by name" in next(c for c in plan["resource_changes"] if c["address"] == "transport_rule.spf")["exoform"]["reason_text"]
    assert not [s for s in plan["exoform"]["steps"] if s["cmdlet"].startswith("New-")]
    assert workspace.run("plan", "--adopt", "--out", "p.json")[0] == 0
    code, out, err = workspace.run("apply", "p.json")
    assert code == 0, out + err
    assert guids(workspace) == before and workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_objects_marked_by_another_integration_are_never_taken(workspace: Workspace) -> None:
    workspace.write_tenant(wizard_tenant("[exoform:someone-else] Managed by exoform"))
    workspace.write_config(CONFIG)
    before = workspace.tenant.read_text()
    code, _, err = workspace.run("import")
    assert code == 1 and "integration 'someone-else'" in err and "nothing was imported" in err
    assert not workspace.state.exists() and workspace.tenant.read_text() == before
    code, out, _ = workspace.run("plan", "--adopt")
    assert code == 1 and "never takes over another integration's object" in out
    assert workspace.run("apply", "--auto-approve", "--adopt")[0] == 1 and workspace.tenant.read_text() == before


def _apply_fresh(workspace: Workspace, config: dict[str, Any] = CONFIG) -> None:
    workspace.write_tenant({"TransportRule": [{"Name": "Disclaimer", "Priority": 0, "SetHeaderName": "X-D", "SetHeaderValue": "1"}]})
    workspace.write_config(config)
    assert workspace.run("apply", "--auto-approve")[0] == 0


def test_drift_report_exit_codes_and_no_drift_after_apply(workspace: Workspace) -> None:
    workspace.write_tenant(None)
    workspace.write_config(CONFIG)
    code, out, _ = workspace.run("drift")
    assert code == 0 and "no state" in out
    _apply_fresh(workspace)
    for command in (["drift"], ["plan", "--refresh-only"]):
        code, out, _ = workspace.run(*command)
        assert code == 0 and "No drift" in out and "6 resource(s) checked" in out
    code, out, _ = workspace.run("drift", "--json")
    assert code == 0 and json.loads(out)["drift"] is False
    code, _, err = workspace.run("plan", "--refresh-only", "--out", "x.plan")
    assert code == 1 and "cannot be combined" in err
    workspace.config.write_text("{not json")
    assert workspace.run("drift")[0] == 1


def test_drift_report_names_every_change_made_outside(workspace: Workspace) -> None:
    _apply_fresh(workspace)
    workspace.outside("Set-TransportRule", {"Identity": "OPSWAT MDCES - Inbound emails", "StopRuleProcessing": False,
                                            "SetHeaderValue": "changed-secret-ish"})
    workspace.outside("Enable-TransportRule", {"Identity": "OPSWAT MDCES - SPF"})
    workspace.outside("Set-TransportRule", {"Identity": "Disclaimer", "Priority": 1})  # splits our block
    workspace.outside("Remove-InboundConnector", {"Identity": "OPSWAT MDCES - Inbound", "Confirm": False})
    workspace.outside("Set-HostedConnectionFilterPolicy", {"Identity": "Default", "IPAllowList": {
        "@odata.type": "#Exchange.GenericHashTable", "Remove": ["198.51.100.7"]}})
    workspace.outside("New-OutboundConnector", {"Name": "Copy", "Comment": "[exoform:scenario]", "IsTransportRuleScoped": True,
                                                "SmartHosts": ["x.example.net"], "UseMXRecord": False})
    tenant, state = workspace.tenant.read_text(), workspace.state.read_text()
    code, out, _ = workspace.run("drift")
    assert code == 2, out
    for fragment in ('~ StopRuleProcessing = true -> false', 'SetHeaderValue = (sensitive value) -> (sensitive value)',
                     '~ State = "Disabled" -> "Enabled"', 'inbound_connector.inbound "OPSWAT MDCES - Inbound": deleted outside exoform',
                     'entries exoform added were removed: 198.51.100.7', 'no longer together', "unrecorded object: OutboundConnector 'Copy'"):
        assert fragment in out, fragment
    assert "changed-secret-ish" not in out and "tenant-secret-ish" not in out
    code, out, _ = workspace.run("plan", "--refresh-only", "--json")
    body = json.loads(out)
    assert code == 2 and body["drift"] and "secret" not in out
    statuses = {(r["address"], r["status"]) for r in body["resources"]}
    assert statuses >= {("transport_rule.inbound_emails", "changed"), ("inbound_connector.inbound", "deleted"),
                        ("connection_filter_allowlist.default", "entries_removed"), ("transport_rule.spf", "changed"),
                        ("", "unrecorded")}
    assert any(s == "moved" for _, s in statuses)
    spf = next(r for r in body["resources"] if r["address"] == "transport_rule.spf" and r["status"] == "changed")
    assert spf["attributes"] == [{"name": "State", "last_applied": "Disabled", "actual": "Enabled"}]
    assert workspace.tenant.read_text() == tenant and workspace.state.read_text() == state  # proposes nothing
    assert workspace.run("import")[0] == 0  # accept what changed into state
    code, out, _ = workspace.run("drift")
    assert code == 2 and "Copy" in out and "StopRuleProcessing" not in out  # only the unrecorded object remains
