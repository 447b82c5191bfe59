"""Issue 4's safety workflows through the exchange_online provider against the emulator: a
loop finding blocks until acknowledged, `import` takes over a wizard-made connector, a saved
plan's script replayed through the Admin API converges (`plan --verify`, `import PLANFILE`),
and the drift report sees an edit made in the tenant."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exoform.engine.cmdlets import from_wire
from exoform.providers.tenant_model import ALLOWED_PARAMETERS
from support.ps_replay import replay

CONFIG: dict[str, Any] = {
    "gateway": {"profile": "opswat-mdces", "ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-value"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
    "rules": {"enabled": True},
}
TENANT = {
    "OutboundConnector": [
        {"Name": "CP Outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
         "SmartHosts": ["eu.checkpoint.com"], "UseMXRecord": False},
        {"Name": "OPSWAT MDCES - Outbound", "ConnectorType": "Partner", "IsTransportRuleScoped": True,
         "SmartHosts": ["ces.metadefender.opswat.com"], "UseMXRecord": False, "Comment": "made by the wizard"},
    ],
    "TransportRule": [{"Name": "Protect", "Priority": 0, "State": "Enabled", "FromScope": "NotInOrganization",
                       "RouteMessageOutboundConnector": "CP Outbound", "StopRuleProcessing": True}],
}
RISK = ["--accept-risk", "loop:Protect"]


def test_findings_import_script_replay_and_drift_through_the_admin_api(start_emulator, connect, workspace, tmp_path: Path) -> None:
    tenant_file = tmp_path / "emulated-tenant.json"
    tenant_file.write_text(json.dumps(TENANT))
    emulator = start_emulator(tenant_file=tenant_file)
    workspace.write_config({**CONFIG, "tenant": emulator.tenant_options("secret")})
    code, out, _ = workspace.run("plan")
    assert code == 1 and "[loop:Protect]" in out and "run `exoform import`" in out
    code, out, err = workspace.run("import")
    assert code == 0 and "+ outbound_connector.outbound" in out, out + err

    code, out, err = workspace.run("plan", "--out", "p.json", *RISK)
    assert code == 0, out + err
    code, script, err = workspace.run("script", "p.json")
    assert code == 0 and emulator.client_secret not in script, err
    provider = connect(emulator)
    replay(script, provider)
    for record in emulator.stats.requests:
        assert not set(record.parameters) - ALLOWED_PARAMETERS[record.cmdlet], record.cmdlet
    assert workspace.run("plan", "--verify", *RISK)[0] == 0
    assert workspace.run("import", "p.json")[0] == 0
    assert workspace.run("plan", "--detailed-exitcode", *RISK)[0] == 0
    owned = [r for r in json.loads(workspace.state.read_text())["resources"] if r["address"].startswith("connection")]
    assert owned[0]["owned_entries"] == ["203.0.113.0/24"]

    assert workspace.run("drift")[0] == 0
    provider.invoke(from_wire("Set-TransportRule", {"Identity": "OPSWAT MDCES - Outbound emails", "StopRuleProcessing": False}))
    code, out, _ = workspace.run("drift", "--json")
    changed = [r for r in json.loads(out)["resources"] if r["status"] == "changed"]
    assert code == 2 and changed[0]["attributes"] == [{"name": "StopRuleProcessing", "last_applied": True, "actual": False}]
    assert workspace.run("apply", "--auto-approve", *RISK)[0] == 0
    assert workspace.run("drift")[0] == 0
    assert workspace.run("destroy", "--auto-approve")[0] == 0
    document = emulator.document()
    assert [c["Name"] for c in document["OutboundConnector"]] == ["CP Outbound"]
    assert document["HostedConnectionFilterPolicy"][0]["IPAllowList"] == []
