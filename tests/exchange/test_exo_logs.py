"""The debug log (--log-level / EXOFORM_LOG) against the HTTPS emulator: each Admin API attempt is
one record with its cmdlet, object, duration, HTTP status, attempt and client-request-id (the
emulator's own request log is the reference), and the log never holds the client secret or the
tenant information, in text or JSON lines, on stderr or in --log-file."""
from __future__ import annotations

import json
import re
import stat

import pytest

from support.workspace import Workspace
from exoform.providers.faults import FaultPlan

INFO = "tenant-info-log-7731"
CONFIG = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": INFO},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def test_json_log_lines_name_every_call_and_hold_no_secret(emulated_workspace: Workspace) -> None:
    workspace = emulated_workspace
    assert workspace.emulator is not None
    workspace.write_config(CONFIG)
    workspace.emulator.serve_tenant(workspace.tenant, FaultPlan.parse("New-InboundConnector#1:throttle"))
    earlier = len(workspace.emulator.stats.requests)  # the emulator is shared by the session's tests
    code, out, err = workspace.run("apply", "--auto-approve", "--log-level", "debug", "--log-format", "json",
                                   "--log-file", "exoform.log")
    assert code == 0, out + err
    log = workspace.root / "exoform.log"
    text = log.read_text(encoding="utf-8")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    secret = workspace.emulator.client_secret
    for leaked in (secret, INFO):
        assert leaked not in text + out + err
    records = [json.loads(line) for line in text.splitlines()]
    calls = [r for r in records if r.get("cmdlet") and "status" in r]
    served = workspace.emulator.stats.requests[earlier:]
    assert len(calls) == len(served)  # one record per HTTP attempt, retries included
    assert {(c["client_request_id"], c["status"]) for c in calls} == {(r.client_request_id, r.status) for r in served}
    throttled = next(c for c in calls if c["status"] == 429)
    assert throttled["cmdlet"] == "New-InboundConnector" and throttled["object"] == "OPSWAT MDCES - Inbound"
    retried = [c for c in calls if c["client_request_id"] == throttled["client_request_id"]]
    assert [c["attempt"] for c in retried] == [1, 2] and retried[-1]["status"] == 200
    assert all(GUID.match(c["client_request_id"]) and c["duration_ms"] >= 0 and c["provider"] == "exchange_online"
               for c in calls)
    assert any(r["message"] == "retry" and r["reason"] == "HTTP 429 Throttled" for r in records)


def test_exoform_log_writes_text_lines_to_stderr_and_nothing_without_it(emulated_workspace: Workspace,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = emulated_workspace
    workspace.write_config(CONFIG)
    code, _, quiet = workspace.run("plan")
    assert code == 0 and "Get-TransportRule" not in quiet
    monkeypatch.setenv("EXOFORM_LOG", "info")
    code, out, err = workspace.run("plan")
    lines = [line for line in err.splitlines() if "Get-TransportRule" in line]
    assert code == 0 and lines and "status=200" in lines[0] and "client_request_id=" in lines[0]
    assert "Get-TransportRule" not in out
    assert workspace.emulator is not None and workspace.emulator.client_secret not in err and INFO not in err
