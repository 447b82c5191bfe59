"""Recipients and groups resolved once at plan time (issue 14, point 2): an identity that
matches nothing, or a mailbox where a group is needed (and the reverse), is a plan error naming
it on both providers, and nothing is changed; the shipped monitoring example (whose sandbox file
describes recipients with proxy addresses, names and types) applies, converges and uninstalls.
Names and proxy addresses converging on both providers: tests/scenarios/fidelity-recipients-resolved.json."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from support.workspace import REPO
from test_cli import exoform

TENANT: dict[str, Any] = {
    "organization": "contoso.onmicrosoft.com",
    "accepted_domains": ["contoso.com"],
    "recipients": [
        {"address": "alice@contoso.com", "type": "UserMailbox", "proxy_addresses": ["a.smith@contoso.com"]},
        {"address": "finance@contoso.com", "type": "MailUniversalDistributionGroup", "name": "Finance Team"},
    ],
}


def _config(recipients: list[str], groups: list[str]) -> dict[str, Any]:
    return {
        "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
        "protection": {"mode": "monitoring", "directions": ["inbound"],
                       "scope": {"users": "selected", "recipients": recipients, "groups": groups}},
    }


@pytest.mark.parametrize("provider", ["sandbox", "emulator"])
@pytest.mark.parametrize("recipients, groups, named, fragment", [
    (["nobody@contoso.com"], [], "nobody@contoso.com", "matches no recipient"),
    ([], ["Ghost Group"], "Ghost Group", "matches no recipient"),
    (["finance@contoso.com"], [], "finance@contoso.com", "is a group"),
    ([], ["a.smith@contoso.com"], "a.smith@contoso.com", "not a group"),
], ids=["unknown-recipient", "unknown-group", "group-as-recipient", "mailbox-as-group"])
def test_unresolved_identity_is_a_plan_error_naming_it(provider: str, recipients: list[str], groups: list[str],
                                                       named: str, fragment: str,
                                                       request: pytest.FixtureRequest) -> None:
    workspace = request.getfixturevalue("emulated_workspace" if provider == "emulator" else "workspace")
    before = workspace.write_tenant(TENANT)
    workspace.write_config(_config(recipients, groups))
    code, out, _ = workspace.run("plan", "--json")
    errors = [d for d in json.loads(out)["exoform"]["diagnostics"] if d["code"] == "recipient_unresolved"]
    assert code == 1 and len(errors) == 1
    assert f"'{named}'" in errors[0]["message"] and fragment in errors[0]["message"]
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 1 and named in out and "nothing was changed" in err and "Traceback" not in err
    assert workspace.tenant.read_text(encoding="utf-8") == before  # nothing changed


def test_monitoring_example_applies_converges_and_uninstalls(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shipped = (tmp_path / "examples" / "monitoring.tenant.json").read_text(encoding="utf-8")
    first = exoform(tmp_path, "apply", "-c", "examples/monitoring.json", "--auto-approve")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Apply complete! Resources: 6 added" in first.stdout
    tenant = json.loads((tmp_path / "examples" / "monitoring.tenant.json").read_text(encoding="utf-8"))
    rules = {r["Name"].rsplit(" - ", 1)[1]: r for r in tenant["TransportRule"]}
    assert rules["Inbound emails"]["SentTo"] == ["alice@contoso.com"]  # the group by its address:
    assert rules["Inbound emails (groups)"]["SentToMemberOf"] == ["finance@contoso.com"]
    again = exoform(tmp_path, "plan", "-c", "examples/monitoring.json", "--detailed-exitcode")
    assert again.returncode == 0 and "No changes." in again.stdout
    gone = exoform(tmp_path, "destroy", "-c", "examples/monitoring.json", "--auto-approve")
    assert gone.returncode == 0, gone.stderr
    assert (tmp_path / "examples" / "monitoring.tenant.json").read_text(encoding="utf-8") == shipped
