"""The Admin API client on the wire, against the emulator: headers, retries on 429 and 503
(bounded and reported), paging (and a paging failure that refuses a partial list), the
regional 302 re-POSTed with its token, replication lag, concurrent reads and the crash fault."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import ServerError, Transient, ValidationFailed
from exoform.engine.provider import READ_TYPES
from exoform.engine.reporter import Reporter
from support.reporter import RecordingReporter
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.exchange import make_session
from exoform.providers.exchange.auth import TokenSource
from exoform.providers.exchange.client import AdminApiClient, regional_url, strip_annotations
from exoform.providers.exchange.settings import ExchangeSettings
from exoform.providers.exchange.provider import RESULT_SIZE_GETS
from exoform.providers.faults import FaultPlan
from exoform.providers.retry import RetryPolicy
from exoform.providers.tenant_model import ALLOWED_PARAMETERS, dump_tenant, empty_tenant

FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.5, max_total_wait=2.0)

OUTBOUND = {"Name": "GW - Outbound", "ConnectorType": "Partner", "SmartHosts": ["gw.example.com"],
            "UseMXRecord": False, "TlsSettings": "EncryptionOnly", "IsTransportRuleScoped": True}


def retries(reporter: RecordingReporter) -> list[tuple[object, ...]]:
    return [args for hook, args in reporter.events if hook == "retry"]


def test_request_headers_and_body(emulator, connect) -> None:
    provider = connect(emulator)
    provider.invoke(CmdletCall.of("New-OutboundConnector", OUTBOUND))
    provider.invoke(CmdletCall.of("Remove-OutboundConnector", {"Identity": "GW - Outbound"}))
    new, remove = emulator.stats.requests
    headers = dict(new.headers)
    assert headers["X-ResponseFormat"] == "json"
    assert headers["Prefer"] == "odata.maxpagesize=1000"
    assert headers["Accept-Encoding"] == "identity"
    assert headers["X-AnchorMailbox"] == (
        "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@" + emulator.tenant_id)
    assert uuid.UUID(new.client_request_id) and new.client_request_id != remove.client_request_id
    assert new.authorization and "Confirm" not in new.parameters
    assert remove.parameters == ("Identity", "Confirm")


def test_reads_ask_for_unlimited_results_where_supported(emulator, connect) -> None:
    reporter = RecordingReporter()
    connect(emulator, reporter=reporter).read(READ_TYPES)
    progress = [(hook, args) for hook, args in reporter.events if hook.startswith("refresh")]
    assert progress == [("refresh_started", (t,)) for t in READ_TYPES] + [
        ("refresh_done", (t, 1 if t in ("HostedConnectionFilterPolicy", "AcceptedDomain") else 0))
        for t in READ_TYPES]
    sent = {r.cmdlet: r.parameters for r in emulator.stats.requests}
    for cmdlet, parameters in sent.items():
        assert ("ResultSize" in parameters) == (cmdlet in RESULT_SIZE_GETS)
        assert ("ResultSize" in ALLOWED_PARAMETERS[cmdlet]) == (cmdlet in RESULT_SIZE_GETS)


def test_throttle_waits_fractional_retry_after_and_reports(start_emulator, connect) -> None:
    emulator = start_emulator(faults=FaultPlan.parse("New-OutboundConnector#1:throttle"))
    reporter = RecordingReporter()
    output = connect(emulator, reporter=reporter).invoke(CmdletCall.of("New-OutboundConnector", OUTBOUND))
    assert output[0]["Name"] == "GW - Outbound"
    assert retries(reporter) == [("New-OutboundConnector", 1, 0.25, "HTTP 429 Throttled")]
    first, second = emulator.stats.requests
    assert (first.status, second.status) == (429, 200)
    assert first.client_request_id == second.client_request_id  # one command, retried


def test_503_burst_is_retried_with_backoff(start_emulator, connect) -> None:
    emulator = start_emulator(Conditions(unavailable_burst=2))
    reporter = RecordingReporter()
    assert connect(emulator, reporter=reporter).read(["TransportRule"]) == {"TransportRule": []}
    assert [(c, a, r) for c, a, _, r in retries(reporter)] == [
        ("Get-TransportRule", 1, "HTTP 503 Transient"), ("Get-TransportRule", 2, "HTTP 503 Transient")]


def test_503_retries_are_bounded(start_emulator, connect) -> None:
    emulator = start_emulator(Conditions(unavailable_burst=50))
    reporter = RecordingReporter()
    with pytest.raises(Transient, match="HTTP 503"):
        connect(emulator, reporter=reporter).read(["TransportRule"])
    assert emulator.stats.invoke_calls == {"Get-TransportRule": 4}  # FAST_RETRIES.max_attempts
    assert len(retries(reporter)) == 3


def _tenant_with_rules(tmp_path, count: int):
    document = empty_tenant()
    document["TransportRule"] = [{"Name": f"Rule {i}", "Priority": i} for i in range(count)]
    path = tmp_path / "tenant.json"
    path.write_text(dump_tenant(document))
    return path


def test_paging_follows_next_links(start_emulator, connect, tmp_path) -> None:
    emulator = start_emulator(Conditions(max_page_size=2), tenant_file=_tenant_with_rules(tmp_path, 5))
    rules = connect(emulator).read(["TransportRule"])["TransportRule"]
    assert [r["Name"] for r in rules] == [f"Rule {i}" for i in range(5)]
    assert all("@" not in key for rule in rules for key in rule)
    assert emulator.stats.invoke_calls == {"Get-TransportRule": 3}


def test_paging_error_fails_loudly(start_emulator, connect, tmp_path) -> None:
    emulator = start_emulator(Conditions(max_page_size=2, paging_error=True),
                              tenant_file=_tenant_with_rules(tmp_path, 5))
    with pytest.raises(ValidationFailed) as caught:
        connect(emulator).read(["TransportRule"])
    message = str(caught.value)
    assert "page 2" in message and "after 2 objects" in message
    assert "Expired or Invalid pagination request" in message


def test_regional_redirect_is_reposted_with_token_and_remembered(start_emulator, connect) -> None:
    emulator = start_emulator(Conditions(redirect=True))
    provider = connect(emulator)
    provider.read(["TransportRule"])
    provider.invoke(CmdletCall.of("New-OutboundConnector", OUTBOUND))
    provider.read(READ_TYPES)
    records = emulator.stats.requests
    assert [(r.base_url == emulator.endpoint, r.status) for r in records[:2]] == [(True, 302), (False, 200)]
    assert all(r.base_url == emulator.regional_endpoint and r.authorization for r in records[1:])
    assert emulator.document()["OutboundConnector"][0]["Name"] == "GW - Outbound"


def test_replication_lag_is_tolerated(start_emulator, connect) -> None:
    emulator = start_emulator(Conditions(replication_lag=30))
    provider, observer = connect(emulator), connect(emulator)
    created = provider.invoke(CmdletCall.of("New-OutboundConnector", OUTBOUND))[0]
    assert observer.read(["OutboundConnector"]) == {"OutboundConnector": []}  # the replica lags
    seen = provider.read(["OutboundConnector"])["OutboundConnector"]
    assert [c["Guid"] for c in seen] == [created["Guid"]]
    provider.invoke(CmdletCall.of("Remove-OutboundConnector", {"Identity": created["Guid"]}))
    assert provider.read(["OutboundConnector"]) == {"OutboundConnector": []}


def test_removed_object_still_listed_by_a_lagging_replica_is_hidden(start_emulator, connect, tmp_path) -> None:
    document = empty_tenant()
    document["OutboundConnector"] = [dict(OUTBOUND, Guid=str(uuid.uuid4()))]
    path = tmp_path / "tenant.json"
    path.write_text(dump_tenant(document))
    emulator = start_emulator(Conditions(replication_lag=30), tenant_file=path)
    provider, observer = connect(emulator), connect(emulator)
    provider.invoke(CmdletCall.of("Remove-OutboundConnector", {"Identity": "GW - Outbound"}))
    assert len(observer.read(["OutboundConnector"])["OutboundConnector"]) == 1
    assert provider.read(["OutboundConnector"]) == {"OutboundConnector": []}


def test_reads_run_concurrently(start_emulator, connect) -> None:
    emulator = start_emulator(Conditions(latency_ms=50))
    provider = connect(emulator)
    # Sign in and open one pooled connection per type: what is timed is the fan-out, not the
    # TLS handshakes of new connections (slow on a loaded machine).
    provider.read(READ_TYPES)
    started = time.perf_counter()
    provider.read(READ_TYPES)
    elapsed = time.perf_counter() - started
    gets = [r for r in emulator.stats.requests[len(READ_TYPES):]]
    assert len(gets) == len(READ_TYPES)
    assert max(r.started for r in gets) < min(r.finished for r in gets)  # all of them overlap
    assert elapsed < 0.19, elapsed  # five 50 ms calls one after another take >= 0.25 s


def test_crash_fault_kills_the_process_after_the_call_took_effect(emulator, tmp_path) -> None:
    script = (
        "import json, sys\n"
        "from exoform.engine.cmdlets import CmdletCall\n"
        "from exoform.engine.reporter import Reporter\n"
        "from exoform.providers.exchange import make_provider\n"
        "provider = make_provider(json.loads(sys.argv[1]), Reporter(), token_cache=False)\n"
        "provider.invoke(CmdletCall.of('New-OutboundConnector', json.loads(sys.argv[2])))\n"
        "print('survived')\n")
    env = {**os.environ, "EXOFORM_FAULTS": "New-OutboundConnector#1:crash"}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(emulator.tenant_options()),
                           json.dumps(OUTBOUND)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 137, done.stderr
    assert "survived" not in done.stdout
    assert [c["Name"] for c in emulator.document()["OutboundConnector"]] == ["GW - Outbound"]


def test_crash_counts_attempts_like_the_service(start_emulator) -> None:
    plan = "New-OutboundConnector#1:throttle,New-OutboundConnector#2:crash"
    emulator = start_emulator(faults=FaultPlan.parse(plan))
    settings = ExchangeSettings.from_options(emulator.tenant_options())
    session = make_session(settings)
    crashes: list[int] = []
    tokens = TokenSource.for_settings(settings, session, Reporter(), persistent=False)
    client = AdminApiClient(settings, session, tokens, Reporter(), policy=FAST_RETRIES,
                            faults=FaultPlan.parse(plan), crash=lambda: crashes.append(1))
    client.invoke(CmdletCall.of("New-OutboundConnector", OUTBOUND))
    # The throttled first attempt counted as call 1; the retry (call 2) took effect, then "died".
    assert crashes == [1] and [r.status for r in emulator.stats.requests] == [429, 200]


def test_strip_annotations_at_every_depth() -> None:
    value = {"A": 1, "A@data.type": "System.Int32", "B": [{"C@odata.type": "x", "C": 2}]}
    assert strip_annotations(value) == {"A": 1, "B": [{"C": 2}]}


def test_regional_url_rewrites_446_and_refuses_http() -> None:
    current = "https://outlook.office365.com/adminapi/beta/t/InvokeCommand"
    assert regional_url("https://eur.outlook.com:446/adminapi/beta/t/InvokeCommand", current) == \
        "https://eur.outlook.com/adminapi/beta/t/InvokeCommand"
    with pytest.raises(ServerError, match="non-https"):
        regional_url("http://eur.outlook.com/x", current)
