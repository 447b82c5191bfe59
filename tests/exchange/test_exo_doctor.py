"""`exoform doctor` (issue 14, point 9) through the CLI, on the sandbox and against the
emulator: it signs in, reads each kind once, checks the app's permission and role (the token's
roles and wids, then one harmless read per cmdlet family), the recipients, the accepted domains
and where MX points (the emulator's DNS-over-HTTPS resolver, the sandbox file's mx_records),
prints each missing piece with its fix, and changes nothing."""
from __future__ import annotations

import json
from typing import Any

import pytest

from exoform.providers.emulator.conditions import Conditions
from exoform.providers.emulator.tokens import GLOBAL_READER

TENANT: dict[str, Any] = {
    "organization": "contoso.onmicrosoft.com",
    "accepted_domains": ["contoso.com", "fabrikam.com", {"DomainName": "relay.contoso.com",
                                                         "DomainType": "InternalRelay"}],
    "recipients": [{"address": "alice@contoso.com", "type": "UserMailbox"},
                   {"address": "finance@contoso.com", "type": "MailUniversalDistributionGroup",
                    "name": "Finance Team"}],
    "mx_records": {"contoso.com": ["contoso-com.mail.protection.outlook.com"],
                   "fabrikam.com": ["mx1.othergateway.example"]},
}
CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "monitoring", "directions": ["inbound"],
                   "scope": {"users": "selected", "recipients": ["alice@contoso.com"],
                             "groups": ["Finance Team"]}},
}


def _doctor(workspace: Any, config: dict[str, Any] | None = None) -> tuple[int, dict[str, Any], str]:
    before = workspace.tenant.read_text(encoding="utf-8")
    workspace.write_config(config or CONFIG)
    code, out, err = workspace.run("doctor", "--json")
    assert workspace.tenant.read_text(encoding="utf-8") == before  # nothing changed
    assert not workspace.state.exists() and "Traceback" not in err
    report = json.loads(out)
    return code, {f["check"]: f for f in report["findings"]}, err


def _emulated(workspace: Any, start_emulator: Any, conditions: Conditions | None = None) -> None:
    workspace.write_tenant(TENANT)
    workspace.emulator = start_emulator(conditions, tenant_file=workspace.tenant)


def _tenant_on(provider: str, workspace: Any, start_emulator: Any) -> None:
    if provider == "emulator":
        _emulated(workspace, start_emulator)
    else:
        workspace.write_tenant(TENANT)


@pytest.mark.parametrize("provider", ["sandbox", "emulator"])
def test_a_ready_tenant_passes_with_mx_findings(provider: str, workspace, start_emulator) -> None:
    _tenant_on(provider, workspace, start_emulator)
    code, found, _ = _doctor(workspace)
    assert code == 0
    for cmdlet in ("InboundConnector", "OutboundConnector", "TransportRule",
                   "HostedConnectionFilterPolicy", "AcceptedDomain", "Recipient"):
        assert found[f"read Get-{cmdlet}"]["status"] == "ok"
    assert found["recipient Finance Team"]["detail"] == "is finance@contoso.com"
    assert found["MX contoso.com"]["status"] == "ok"
    assert found["MX fabrikam.com"]["status"] == "warning" and "othergateway" in found["MX fabrikam.com"]["detail"]
    assert "MX relay.contoso.com" not in found  # only authoritative domains receive mail from MX
    if provider == "emulator":
        assert found["permission"]["status"] == found["role"]["status"] == "ok"


def test_missing_role_and_refused_cmdlets_are_named_with_the_fix(workspace, start_emulator) -> None:
    _emulated(workspace, start_emulator, Conditions(directory_roles=(GLOBAL_READER,),
                                                    denied_cmdlets=("Get-TransportRule",)))
    code, found, _ = _doctor(workspace)
    assert code == 1
    assert found["role"]["status"] == "problem" and "Exchange Administrator" in found["role"]["fix"]
    refused = found["read Get-TransportRule"]
    assert refused["status"] == "problem" and "Enable-TransportRule" in refused["detail"]
    assert "Roles and administrators" in refused["fix"]
    assert found["read Get-InboundConnector"]["status"] == "ok"  # a reader may read the rest


def test_no_directory_role_refuses_every_cmdlet(workspace, start_emulator) -> None:
    _emulated(workspace, start_emulator, Conditions(directory_roles=()))
    code, found, _ = _doctor(workspace)
    assert code == 1
    assert all(found[f"read Get-{t}"]["status"] == "problem" for t in ("InboundConnector", "TransportRule"))


@pytest.mark.parametrize("provider", ["sandbox", "emulator"])
def test_unknown_recipient_and_human_output(provider: str, workspace, start_emulator) -> None:
    _tenant_on(provider, workspace, start_emulator)
    config = json.loads(json.dumps(CONFIG))
    config["protection"]["scope"]["groups"] = ["alice@contoso.com"]
    config["gateway"]["monitoring_domain"] = "contoso.com"
    config["gateway"]["bcc_address"] = "copies@contoso.com"
    code, found, _ = _doctor(workspace, config)
    assert code == 1
    assert "not a group" in found["recipient alice@contoso.com"]["detail"]
    assert found["monitoring domain"]["status"] == "problem"
    code, out, _ = workspace.run("doctor")
    assert code == 1 and "MISSING" in out and "fix:" in out and "nothing was changed" in out


def test_mx_is_skipped_without_a_resolver(workspace, start_emulator) -> None:
    _emulated(workspace, start_emulator)
    block = workspace.emulator.tenant_options("secret")
    del block["dns_over_https"]
    workspace.tenant_block = lambda: block  # type: ignore[method-assign]
    code, found, _ = _doctor(workspace)
    assert code == 0 and found["MX records"]["status"] == "skipped"
    assert "dns_over_https" in found["MX records"]["fix"]


def test_a_failed_sign_in_is_the_first_finding_with_its_fix(workspace, start_emulator, monkeypatch) -> None:
    _emulated(workspace, start_emulator)
    monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", "not-the-secret")
    code, found, _ = _doctor(workspace)
    assert code == 1 and list(found) == ["sign-in"]
    assert found["sign-in"]["status"] == "problem" and "credential" in found["sign-in"]["fix"]
