"""Staged enabling and additive IP allowlisting through the CLI: what plan and apply say about
enabling disabled rules and Audit mode, the allow list edited with add/remove only (never the
admin's entries), Exchange's 1,273-entry limit and the /24../32 rule checked at plan time, and
the CIS 2.1.12 warning whenever exoform adds entries."""
from __future__ import annotations

import ipaddress
import json
from typing import Any

from support.workspace import Workspace
from exoform.engine.model import Address, Kind, Resource, freeze_attrs
from exoform.engine.kinds.allowlist import ALLOWLIST_LIMIT
from exoform.engine.planning import PlanRequest, make_plan
from exoform.engine.read import TenantRead
from exoform.engine.state import State

CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24", "198.51.100.7"], "tenant_info": "t"},
    "protection": {"mode": "inline", "directions": ["inbound"], "scope": {"users": "all"}},
}
ADMIN = ["192.0.2.0/24", "203.0.113.0/24"]


def test_plan_and_apply_say_how_to_enable_staged_rules_and_leave_audit_mode(workspace: Workspace) -> None:
    workspace.write_tenant(None)
    workspace.write_config(CONFIG)
    code, out, _ = workspace.run("plan")
    assert code == 0 and "are created disabled" in out and "\"enabled\": true" in out
    code, out, _ = workspace.run("apply", "--auto-approve")
    tail = out.split("Apply complete!", 1)[1]
    assert code == 0 and "were created disabled" in tail and "Mail flow > Rules" in tail
    workspace.write_config({**CONFIG, "rules": {"enabled": True, "mode": "audit"}})
    code, out, _ = workspace.run("apply", "--auto-approve")
    assert code == 0 and "Enable-TransportRule" in out and "Audit mode" in out.split("Apply complete!", 1)[1]
    rules = workspace.document()["TransportRule"]
    assert {(r["State"], r["Mode"]) for r in rules} == {("Enabled", "Audit")}


def test_the_allow_list_is_edited_additively_and_destroy_removes_only_exoforms_entries(workspace: Workspace) -> None:
    workspace.write_tenant({"HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default", "IPAllowList": ADMIN}]})
    workspace.write_config(CONFIG)
    plan = workspace.plan_json()
    step = next(s for s in plan["exoform"]["steps"] if s["cmdlet"] == "Set-HostedConnectionFilterPolicy")
    assert step["parameters"]["IPAllowList"] == {"@odata.type": "#Exchange.GenericHashTable", "Add": ["198.51.100.7"]}
    assert {d["code"] for d in plan["exoform"]["diagnostics"]} >= {"allowlist_cis"}
    cis = next(d for d in plan["exoform"]["diagnostics"] if d["code"] == "allowlist_cis")
    assert cis["severity"] == "warning" and "2.1.12" in cis["message"] and "enhanced_filtering" in cis["message"]
    assert workspace.run("apply", "--auto-approve")[0] == 0
    state = json.loads(workspace.state.read_text())
    assert next(r for r in state["resources"] if r["address"] == "connection_filter_allowlist.default")["owned_entries"] == ["198.51.100.7"]
    workspace.outside("Set-HostedConnectionFilterPolicy", {"Identity": "Default", "IPAllowList": {
        "@odata.type": "#Exchange.GenericHashTable", "Add": ["9.9.9.9"]}})  # the admin adds one of their own
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0
    assert workspace.run("destroy", "--auto-approve")[0] == 0
    assert workspace.document()["HostedConnectionFilterPolicy"][0]["IPAllowList"] == [*ADMIN, "9.9.9.9"]


def _allowlist_plan(existing: list[str], wanted: list[str]) -> Any:
    address = Address(Kind.CONNECTION_FILTER_ALLOWLIST, "default")
    desired = (Resource(address, freeze_attrs({"Name": "Default", "IPAllowList": tuple(wanted)})),)
    read = {"HostedConnectionFilterPolicy": [{"Name": "Default", "IPAllowList": existing}]}
    return make_plan(PlanRequest("i", desired, TenantRead(read), State.new("i")))


def test_the_entry_limit_and_prefix_rule_are_checked_at_plan_time() -> None:
    full = [str(ipaddress.IPv4Address("11.0.0.0") + i) for i in range(ALLOWLIST_LIMIT)]
    plan = _allowlist_plan(full, ["203.0.113.0/24"])
    assert [d.code for d in plan.errors] == ["allowlist_full"] and "1274 entries" in plan.errors[0].message
    assert not _allowlist_plan(full[1:], ["203.0.113.0/24"]).errors
    plan = _allowlist_plan([], ["203.0.112.0/23", "2001:db8::1", "203.0.113.7/32"])
    assert [d.code for d in plan.errors] == ["allowlist_entry"]
    assert "2001:db8::1, 203.0.112.0/23 cannot be added" in plan.errors[0].message


def test_script_for_destroy_removes_only_exoforms_entries(workspace: Workspace) -> None:
    workspace.write_tenant({"HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default", "IPAllowList": ADMIN}]})
    workspace.write_config(CONFIG)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    code, out, _ = workspace.run("script", "--destroy")
    assert code == 0 and "exoform destroy script" in out
    assert "-IPAllowList @{Remove=@('198.51.100.7')}" in out and "203.0.113.0/24')}" not in out
    assert out.count("Remove-TransportRule") == 2 and "exoform plan --destroy --verify" in out
