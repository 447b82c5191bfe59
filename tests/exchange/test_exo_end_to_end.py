"""exoform's own commands against the emulator through the exchange_online provider: plan,
apply, a second empty plan, destroy. Every request the provider sends names only parameters of
Microsoft's cmdlet reference (TenantModel.ALLOWED_PARAMETERS, exact spelling)."""
from __future__ import annotations

import json
from typing import Any

from exoform.providers.emulator.conditions import Conditions
from exoform.providers.tenant_model import ALLOWED_PARAMETERS

CONFIG: dict[str, Any] = {
    "gateway": {"profile": "opswat-mdces", "ip_ranges": ["203.0.113.0/24"],
                "tenant_info": "tenant-info-value"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
    "rules": {"enabled": True, "placement": "top"},
    "allowlist": {"connection_filter": True},
}


def test_apply_and_destroy_through_the_admin_api(start_emulator, workspace) -> None:
    emulator = start_emulator(Conditions(latency_ms=5, redirect=True, max_page_size=2))
    workspace.write_config({**CONFIG, "tenant": emulator.tenant_options("secret")})
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0, out + err
    tenant = emulator.document()
    assert len(tenant["TransportRule"]) == 3 and len(tenant["InboundConnector"]) == 1
    assert "203.0.113.0/24" in tenant["HostedConnectionFilterPolicy"][0]["IPAllowList"]
    code, out, err = workspace.run("plan", "--detailed-exitcode")
    assert code == 0, out + err
    code, out, err = workspace.run("destroy", "--auto-approve")
    assert code == 0, out + err
    tenant = emulator.document()
    assert tenant["TransportRule"] == [] and tenant["OutboundConnector"] == []
    assert tenant["HostedConnectionFilterPolicy"][0]["IPAllowList"] == []
    assert emulator.stats.token_requests == 1  # later commands used the token cache

    sent = emulator.stats.requests
    assert {r.cmdlet.split("-")[0] for r in sent} >= {"Get", "New", "Set", "Remove"}
    for record in sent:
        unknown = set(record.parameters) - ALLOWED_PARAMETERS[record.cmdlet]
        assert not unknown, f"{record.cmdlet} sent {sorted(unknown)}"
    assert all(r.status in (200, 302) for r in sent), json.dumps([r.status for r in sent])
