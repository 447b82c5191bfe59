"""The sandbox provider: file round trips, validation of the tenant file, locking, atomic writes
and injected faults (error, throttle, crash)."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.errors import AlreadyExists, InputError, ServerError, Throttled
from exoform.engine.provider import READ_TYPES
from support.reporter import RecordingReporter
from exoform.providers.faults import ENV_VAR, FaultPlan
from exoform.providers.retry import RetryPolicy
from exoform.providers.sandbox import SandboxProvider, TenantFile, tenant_issues
from exoform.providers.tenant_model import dump_tenant, empty_tenant

OUTBOUND = {
    "Name": "Gateway - Outbound", "ConnectorType": "Partner", "SmartHosts": ["ces.example.net"],
    "UseMXRecord": False, "TlsSettings": "EncryptionOnly", "IsTransportRuleScoped": True,
}
INBOUND = {"Name": "Gateway - Inbound", "SenderDomains": ["*"],
           "SenderIPAddresses": ["203.0.113.0/24"], "ConnectorType": "OnPremises"}


class Crashed(Exception):
    """Stands in for the process dying, so the in-process test can look at the file after."""


def raise_crashed() -> None:
    raise Crashed()


def sandbox(path: Path, faults: str = "", **kwargs: Any) -> SandboxProvider:
    return SandboxProvider(path, faults=FaultPlan.parse(faults), **kwargs)


def call(cmdlet: str, **params: Any) -> CmdletCall:
    return CmdletCall.of(cmdlet, params)


def names(provider: SandboxProvider, exchange_type: str) -> list[str]:
    return [obj["Name"] for obj in provider.read([exchange_type])[exchange_type]]


@pytest.fixture
def tenant(tmp_path: Path) -> Path:
    return tmp_path / "tenant.json"


def test_missing_file_reads_as_the_empty_tenant_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "not-yet" / "tenant.json"
    provider = sandbox(path)
    objects = provider.read(READ_TYPES)
    assert {t: len(objs) for t, objs in objects.items()} == {
        "InboundConnector": 0, "OutboundConnector": 0, "TransportRule": 0,
        "HostedConnectionFilterPolicy": 1, "AcceptedDomain": 1,  # the initial domain
    }
    assert provider.calls == [f"Get-{t}" for t in READ_TYPES]  # one read per kind
    assert not path.parent.exists()
    provider.read(READ_TYPES)
    assert objects == provider.read(READ_TYPES)  # the Default policy's Guid is stable


def test_first_change_writes_a_canonical_schema_valid_file(tenant: Path) -> None:
    provider = sandbox(tenant)
    assert not tenant.exists()
    [created] = provider.invoke(call("New-InboundConnector", **INBOUND))
    text = tenant.read_text(encoding="utf-8")
    document = json.loads(text)
    assert text == dump_tenant(document)
    assert tenant_issues(document) == []
    assert document["InboundConnector"] == [created]
    assert sorted(os.listdir(tenant.parent)) == ["tenant.json", "tenant.json.lock"]


def test_every_call_rereads_the_file(tenant: Path) -> None:
    first, second = sandbox(tenant), sandbox(tenant)
    first.invoke(call("New-OutboundConnector", **OUTBOUND))
    assert names(second, "OutboundConnector") == [OUTBOUND["Name"]]
    second.invoke(call("Remove-OutboundConnector", Identity=OUTBOUND["Name"], Confirm=False))
    assert names(first, "OutboundConnector") == []


def test_apply_then_destroy_leaves_the_file_byte_identical(tenant: Path) -> None:
    seeded = {
        **empty_tenant(),
        "recipients": [{"address": "sales@contoso.com", "type": "MailUniversalDistributionGroup"}],
        "TransportRule": [{"Name": "Admin rule", "Priority": 0, "State": "Enabled",
                           "Guid": "00000000-0000-0000-0000-0000000000aa", "Identity": "Admin rule"}],
    }
    tenant.write_text(dump_tenant(seeded), encoding="utf-8")
    start = tenant.read_bytes()
    provider = sandbox(tenant)
    steps = [
        call("New-InboundConnector", **INBOUND),
        call("New-OutboundConnector", **OUTBOUND),
        call("New-TransportRule", Name="SPF", Priority=0, SenderIpRanges=["203.0.113.0/24"],
             RemoveHeader="X-MDCES-Data", Enabled=False),
        call("New-TransportRule", Name="Inbound emails", Priority=1, Enabled=False,
             RouteMessageOutboundConnector=OUTBOUND["Name"], SentToMemberOf=["sales@contoso.com"],
             SetHeaderName="X-MDCES-Data", SetHeaderValue="info"),
        call("Set-HostedConnectionFilterPolicy", Identity="Default",
             IPAllowList=ListEdit(add=("203.0.113.0/24",))),
    ]
    for step in steps:
        provider.invoke(step)
    assert tenant.read_bytes() != start
    for undo in [
        call("Set-HostedConnectionFilterPolicy", Identity="Default",
             IPAllowList=ListEdit(remove=("203.0.113.0/24",))),
        call("Remove-TransportRule", Identity="Inbound emails", Confirm=False),
        call("Remove-TransportRule", Identity="SPF", Confirm=False),
        call("Remove-OutboundConnector", Identity=OUTBOUND["Name"], Confirm=False),
        call("Remove-InboundConnector", Identity=INBOUND["Name"], Confirm=False),
    ]:
        provider.invoke(undo)
    assert tenant.read_bytes() == start


def test_a_call_that_changes_nothing_does_not_rewrite(tenant: Path) -> None:
    provider = sandbox(tenant)
    provider.invoke(call("New-TransportRule", Name="R"))
    inode = tenant.stat().st_ino
    provider.invoke(call("Set-HostedConnectionFilterPolicy", Identity="Default",
                         IPAllowList=ListEdit(remove=("198.51.100.1",))))
    provider.invoke(call("Remove-TransportRule", Identity="R", WhatIf=True))
    assert tenant.stat().st_ino == inode


def test_provider_errors_pass_through_and_leave_the_file(tenant: Path) -> None:
    provider = sandbox(tenant)
    provider.invoke(call("New-TransportRule", Name="R"))
    before = tenant.read_bytes()
    with pytest.raises(AlreadyExists) as caught:
        provider.invoke(call("New-TransportRule", Name="r"))
    assert caught.value.cmdlet == "New-TransportRule"
    assert tenant.read_bytes() == before


# ---- a bad tenant file is reported, never repaired -------------------------------------------------


def test_unparsable_file_names_file_and_position(tenant: Path) -> None:
    tenant.write_text('{"organization": "x",\n  "TransportRule": [}\n', encoding="utf-8")
    before = tenant.read_bytes()
    with pytest.raises(InputError) as caught:
        sandbox(tenant).invoke(call("New-TransportRule", Name="R"))
    assert caught.value.source == str(tenant)
    # The one strict reader (engine/jsonread.py) gives the position in the message, as for
    # every exoform file.
    assert caught.value.issues[0].path == ""
    assert "at line 2, column 21" in caught.value.issues[0].message
    assert str(tenant) in str(caught.value)
    assert tenant.read_bytes() == before


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"TransportRules": []}, "TransportRules"),
        ([], "(top level)"),
        ({"TransportRule": [{"Priority": 0}]}, "TransportRule[0].Name"),
        ({"TransportRule": [{"Name": "a", "Priority": "1"}]}, "TransportRule[0].Priority"),
        ({"TransportRule": [{"Name": "a", "State": "On"}]}, "TransportRule[0].State"),
        ({"InboundConnector": [{"Name": "x", "lowercase": 1}]}, "InboundConnector[0]"),
        ({"OutboundConnector": [{"Name": "x", "Guid": "not-a-guid"}]}, "OutboundConnector[0].Guid"),
        ({"recipients": [{"address": "nobody", "type": "UserMailbox"}]}, "recipients[0].address"),
        ({"recipients": [{"address": "a@b.c"}]}, "recipients[0].type"),
        ({"organization": 5}, "organization"),
        ({"TransportRule": [{"Name": "A"}, {"Name": "a"}]}, "TransportRule[1].Name"),
    ],
    ids=["unknown-key", "not-an-object", "no-name", "priority-text", "bad-state",
         "lowercase-property", "bad-guid", "bad-address", "no-type", "organization-number",
         "duplicate-names"],
)
def test_invalid_file_names_json_path_and_is_left_alone(
    tenant: Path, document: Any, path: str
) -> None:
    tenant.write_text(json.dumps(document), encoding="utf-8")
    before = tenant.read_bytes()
    provider = sandbox(tenant)
    for attempt in (call("Get-TransportRule"), call("New-TransportRule", Name="R")):
        with pytest.raises(InputError) as caught:
            provider.invoke(attempt)
        assert caught.value.source == str(tenant)
        assert caught.value.issues[0].path == path
    assert tenant.read_bytes() == before


def test_tenant_file_parses_an_unchanged_file_once(tenant: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = TenantFile(tenant)
    shared.run(call("New-TransportRule", Name="A"))
    parsed: list[Path] = []
    original = TenantFile._parse
    monkeypatch.setattr(TenantFile, "_parse", lambda self: parsed.append(self.path) or original(self))
    for _ in range(3):
        shared.run(call("Get-TransportRule"))
    assert parsed == []  # its own write is cached: inode, size and mtime unchanged since
    sandbox(tenant).invoke(call("New-TransportRule", Name="B"))  # another writer: a new file
    assert [r["Name"] for r in shared.run(call("Get-TransportRule"))] == ["A", "B"]
    # One parse by the other writer, one by `shared` after the file changed; none since.
    assert shared.document()["TransportRule"][1]["Name"] == "B"
    assert len(parsed) == 2


def test_schema_is_valid_draft_2020_12_and_loaded_from_the_package() -> None:
    from importlib import resources

    text = resources.files("exoform.schemas").joinpath("tenant.schema.json").read_text("utf-8")
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert tenant_issues(empty_tenant()) == []


# ---- faults -------------------------------------------------------------------------------------


def test_error_fault_changes_nothing(tenant: Path) -> None:
    provider = sandbox(tenant, "New-TransportRule#2")
    provider.invoke(call("New-TransportRule", Name="A"))
    before = tenant.read_bytes()
    with pytest.raises(ServerError) as caught:
        provider.invoke(call("New-TransportRule", Name="B"))
    assert not caught.value.retryable
    assert "New-TransportRule#2:error" in caught.value.detail
    assert tenant.read_bytes() == before
    provider.invoke(call("New-TransportRule", Name="B"))  # the third call is fine again
    assert names(provider, "TransportRule") == ["A", "B"]


def test_throttle_is_retried_transparently_and_reported(tenant: Path) -> None:
    reporter = RecordingReporter()
    provider = sandbox(tenant, "New-TransportRule#1:throttle,Get-TransportRule#1:throttle",
                       reporter=reporter)
    [created] = provider.invoke(call("New-TransportRule", Name="R"))
    assert created["Name"] == "R"
    assert names(provider, "TransportRule") == ["R"]
    assert provider.calls == ["New-TransportRule"] * 2 + ["Get-TransportRule"] * 2
    retries = [args for hook, args in reporter.events if hook == "retry"]
    assert retries == [("New-TransportRule", 1, 0.01, "HTTP 429 Throttled"),
                       ("Get-TransportRule", 1, 0.01, "HTTP 429 Throttled")]


def test_throttle_beyond_the_retry_budget_surfaces(tenant: Path) -> None:
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01, max_total_wait=1.0)
    provider = sandbox(tenant, "New-TransportRule#1:throttle,New-TransportRule#2:throttle",
                       retry_policy=policy)
    with pytest.raises(Throttled) as caught:
        provider.invoke(call("New-TransportRule", Name="R"))
    assert caught.value.retry_after == 0.01
    assert not tenant.exists()


def test_crash_fault_lands_the_change_then_crashes(tenant: Path) -> None:
    provider = sandbox(tenant, "New-OutboundConnector#1:crash", crash=raise_crashed)
    with pytest.raises(Crashed):
        provider.invoke(call("New-OutboundConnector", **OUTBOUND))
    assert [c["Name"] for c in json.loads(tenant.read_text())["OutboundConnector"]] == [
        OUTBOUND["Name"]
    ]


def test_crash_fault_kills_the_process_with_137(tenant: Path) -> None:
    script = textwrap.dedent(
        f"""
        from exoform.engine.cmdlets import CmdletCall
        from exoform.providers.sandbox import SandboxProvider
        provider = SandboxProvider({str(tenant)!r})
        provider.invoke(CmdletCall.of("New-InboundConnector", {INBOUND!r}))
        print("still alive")
        """
    )
    env = {**os.environ, ENV_VAR: "New-InboundConnector#1:crash"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 137, result.stderr
    assert "still alive" not in result.stdout
    assert json.loads(tenant.read_text())["InboundConnector"][0]["Name"] == INBOUND["Name"]


def test_faults_default_to_the_environment(tenant: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "Get-TransportRule#1")
    with pytest.raises(ServerError):
        SandboxProvider(tenant).read(["TransportRule"])
    monkeypatch.setenv(ENV_VAR, "Get-TransportRule#one")
    with pytest.raises(InputError, match=ENV_VAR):
        SandboxProvider(tenant)


# ---- locking and atomic writes --------------------------------------------------------------------


def test_concurrent_writers_never_lose_a_change(tenant: Path) -> None:
    def worker(prefix: str) -> None:
        provider = sandbox(tenant)
        for i in range(8):
            provider.invoke(call("New-TransportRule", Name=f"{prefix}{i}"))

    threads = [threading.Thread(target=worker, args=(p,)) for p in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rules = sandbox(tenant).read(["TransportRule"])["TransportRule"]
    assert len(rules) == 24
    assert [rule["Priority"] for rule in rules] == list(range(24))
    assert sorted(os.listdir(tenant.parent)) == ["tenant.json", "tenant.json.lock"]


def test_a_call_waits_for_the_lock(tenant: Path) -> None:
    done = threading.Event()
    lock_path = tenant.with_name(tenant.name + ".lock")
    with open(lock_path, "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        worker = threading.Thread(
            target=lambda: (sandbox(tenant).invoke(call("New-TransportRule", Name="R")), done.set())
        )
        worker.start()
        assert not done.wait(0.3)
        assert not tenant.exists()
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    worker.join(10)
    assert done.is_set()
    assert tenant.exists()


def test_provider_shape(tenant: Path) -> None:
    provider = sandbox(tenant)
    assert provider.name == "sandbox"
    assert provider.calls == []
    provider.close()


def test_reads_leave_no_lock_file_next_to_a_tenant_file_never_written(tmp_path: Path) -> None:
    """A plan against a hand-written (or missing) tenant file creates no `<file>.lock`; the first
    write does, and reads take it from then on."""
    written_by_hand = tmp_path / "tenant.json"
    written_by_hand.write_text(json.dumps({"organization": "contoso.onmicrosoft.com"}), encoding="utf-8")
    for path in (written_by_hand, tmp_path / "missing.json"):
        provider = SandboxProvider(path, faults=FaultPlan())
        provider.read(["TransportRule", "InboundConnector"])
        provider.identity()
        assert not path.with_name(path.name + ".lock").exists()
    provider = SandboxProvider(written_by_hand, faults=FaultPlan())
    provider.invoke(call("New-TransportRule", Name="R"))
    assert written_by_hand.with_name("tenant.json.lock").exists()
