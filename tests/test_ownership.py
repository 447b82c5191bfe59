"""Ownership that cannot be lost, through the CLI on the sandbox and the emulator: the tenant's
markers decide what destroy removes when the state is gone, a forged state record cannot steer
exoform onto an admin's object, and allow-list entries two integrations share stay while either
needs them - destroyed in either order, the tenant ends exactly as it was before both."""
from __future__ import annotations

import json
from typing import Any

import pytest

from exoform.engine.operations import Reporter, Session
from exoform.providers import registry
from exoform.providers.faults import FaultPlan
from support.workspace import Workspace

RANGES = ["203.0.113.0/24", "198.51.100.7"]
CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": RANGES, "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
ADMIN = {"TransportRule": [{"Name": "Disclaimer", "Priority": 0, "SetHeaderName": "X-D", "SetHeaderValue": "1"}],
         "HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default", "IPAllowList": ["192.0.2.0/24"]}]}
PROVIDERS = ["workspace", "emulated_workspace"]


@pytest.fixture(params=PROVIDERS, ids=["sandbox", "emulator"])
def ws(request: pytest.FixtureRequest) -> Workspace:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_destroy_with_a_lost_state_removes_every_marked_object_and_the_entries_it_added(ws: Workspace) -> None:
    original = ws.write_tenant(ADMIN)
    ws.write_config(CONFIG)
    assert ws.run("apply", "--auto-approve")[0] == 0
    ws.state.unlink()  # a new laptop, a fresh CI runner
    code, out, _ = ws.run("plan", "--destroy", "--verify")
    assert code == 2 and "carries this integration's marker" in out
    code, out, err = ws.run("destroy", "--auto-approve")
    assert code == 0, err
    assert "6 destroyed" in out
    assert ws.run("plan", "--destroy", "--verify")[0] == 0
    assert ws.tenant.read_text(encoding="utf-8") == original


def test_a_forged_state_record_never_touches_the_admins_object(ws: Workspace) -> None:
    ws.write_tenant(ADMIN)
    ws.write_config(CONFIG)
    assert ws.run("apply", "--auto-approve")[0] == 0
    admin_guid = next(r["Guid"] for r in ws.document()["TransportRule"] if r["Name"] == "Disclaimer")
    state = json.loads(ws.state.read_text())
    for record in state["resources"]:
        if record["address"] == "transport_rule.spf":
            record["guid"] = admin_guid
    ws.state.write_text(json.dumps(state))
    before = ws.document()
    code, out, err = ws.run("destroy", "--auto-approve")
    assert code == 1 and "is not the object exoform made" in out and "nothing was changed" in err
    assert ws.document() == before


@pytest.mark.parametrize("first", ["a", "b"])
def test_two_integrations_sharing_a_range_leave_the_tenant_as_before_both_in_either_order(ws: Workspace, first: str) -> None:
    original = ws.write_tenant(ADMIN)
    configs = {}
    for name, prefix, extra in (("a", "GW A", []), ("b", "GW B", ["192.0.2.77"])):
        config = {**CONFIG, "gateway": {**CONFIG["gateway"], "name_prefix": prefix,
                                        "ip_ranges": RANGES + extra}}
        configs[name] = ws.write_config(config, integration=name, path=ws.root / f"{name}.json")
    for name in ("a", "b"):
        assert ws.run("apply", "-c", str(configs[name]), "--auto-approve")[0] == 0
    policy = ws.document()["HostedConnectionFilterPolicy"][0]["IPAllowList"]
    assert sorted(policy) == sorted(["192.0.2.0/24", *RANGES, "192.0.2.77"])
    second = "b" if first == "a" else "a"
    code, out, err = ws.run("destroy", "-c", str(configs[first]), "--auto-approve")
    assert code == 0, err
    left = ws.document()["HostedConnectionFilterPolicy"][0]["IPAllowList"]
    assert set(RANGES) <= set(left)  # the other integration still uses them
    assert ws.run("drift", "-c", str(configs[second]))[0] == 0
    assert ws.run("destroy", "-c", str(configs[second]), "--auto-approve")[0] == 0
    assert ws.tenant.read_text(encoding="utf-8") == original


def test_each_provider_names_its_tenant_by_a_stable_id(ws: Workspace) -> None:
    ws.write_tenant(None)
    ws.write_config(CONFIG)
    session = Session.open(ws.config, Reporter(), registry)
    with session.connected() as provider:
        first = provider.identity()
    with session.connected() as provider:
        assert provider.identity() == first
    if ws.emulator is not None:
        assert first.tenant_id == ws.emulator.tenant_id  # the token's tid, whatever the config names
    else:
        document = json.loads(ws.tenant.read_text())
        ws.tenant.write_text(json.dumps({**document, "tenant_id": "1b2c3d4e-0000-4000-8000-123456789abc"}))
        with session.connected() as provider:
            assert provider.identity().tenant_id == "1b2c3d4e-0000-4000-8000-123456789abc"


def test_claim_entry_owns_the_gateways_entries_a_lost_state_left_unowned(ws: Workspace) -> None:
    """The gateway's range is in the allow list but nothing says exoform added it (a script's
    run recorded nowhere, a lost state): the plan says how to claim it, `import --claim-entry`
    does, and destroy then removes it; claiming anything else is refused, changing nothing."""
    tenant = json.loads(json.dumps(ADMIN))
    tenant["HostedConnectionFilterPolicy"][0]["IPAllowList"] = ["192.0.2.0/24", "203.0.113.0/24"]
    ws.write_tenant(tenant)
    ws.write_config({**CONFIG, "allowlist": {"connection_filter": True}})
    code, out, err = ws.run("plan")
    assert code == 0 and "--claim-entry 203.0.113.0/24" in out + err
    for wrong, says in (("192.0.2.0/24", "not one of the gateway's ranges"), ("198.51.100.7", "not in the Default")):
        code, out, err = ws.run("import", "--claim-entry", wrong)
        assert code == 1 and says in err and "Traceback" not in err
        assert not ws.state.exists(), "nothing was imported"
    code, out, err = ws.run("import", "--claim-entry", "203.0.113.0/24")
    assert code == 0, out + err
    assert "--claim-entry" not in ws.run("plan")[1]
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    assert ws.run("destroy", "--auto-approve")[0] == 0
    assert ws.document()["HostedConnectionFilterPolicy"][0]["IPAllowList"] == ["192.0.2.0/24"]


def _faults(ws: Workspace, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Make the tenant fail the calls `text` names (EXOFORM_FAULTS syntax; "" for none)."""
    if ws.emulator is None:
        monkeypatch.setenv("EXOFORM_FAULTS", text)
    else:
        ws.emulator.serve_tenant(ws.tenant, FaultPlan.parse(text))


def _ours(ws: Workspace, exchange_type: str) -> list[str]:
    return sorted(o["Name"] for o in ws.document().get(exchange_type, []) if "[exoform:" in str(o.get("Comment") or o.get("Comments")))


def test_a_prefix_change_stopped_half_way_then_a_lost_state_leaves_nothing_behind(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rename stopped before the old outbound connector went (kept by --no-rollback), then a
    lost state: the next apply removes the old connector, whose marker names it, and leaves an
    admin's copy of an exoform rule alone (its marker names the rule it was copied from)."""
    original = ws.write_tenant(ADMIN)
    ws.write_config({**CONFIG, "gateway": {**CONFIG["gateway"], "name_prefix": "Old GW"}})
    assert ws.run("apply", "--auto-approve")[0] == 0
    spf = next(r for r in ws.document()["TransportRule"] if r["Name"] == "Old GW - SPF")
    ws.outside("New-TransportRule", {"Name": "Copy of Old GW - SPF", "Comments": spf["Comments"],
                                     "SetHeaderName": "X-Copy", "SetHeaderValue": "1", "Enabled": False})
    ws.write_config(CONFIG)
    _faults(ws, monkeypatch, "Remove-OutboundConnector#1:error")
    code, out, err = ws.run("apply", "--auto-approve", "--no-rollback")
    assert code == 1 and "Traceback" not in err, out + err
    _faults(ws, monkeypatch, "")
    assert _ours(ws, "OutboundConnector") == ["OPSWAT MDCES - Outbound", "Old GW - Outbound"]
    ws.state.unlink()  # a new laptop
    code, out, err = ws.run("plan")
    assert code == 0, err
    assert "outbound_connector.outbound_deposed" in out and "Remove-OutboundConnector" in out
    assert "'Copy of Old GW - SPF' carries this integration's marker" in out + err
    assert ws.run("apply", "--auto-approve")[0] == 0
    assert ws.run("plan", "--detailed-exitcode")[0] == 0
    assert _ours(ws, "OutboundConnector") == ["OPSWAT MDCES - Outbound"]
    assert "Copy of Old GW - SPF" in _ours(ws, "TransportRule")
    assert not [n for n in _ours(ws, "TransportRule") + _ours(ws, "InboundConnector") if n.startswith("Old GW")]
    code, out, err = ws.run("destroy", "--auto-approve")  # the markers decide: the copy goes too
    assert code == 0, err
    assert ws.tenant.read_text() == original
