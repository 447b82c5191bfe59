"""`exoform fleet` over HTTPS against the multi-tenant emulator: one app registration signing in
to each tenant's own authority (one token request per tenant cold, none warm, one cache file),
reads one call per kind, a tenant without consent or role failing alone with the fix, a faulted
canary rolling back and stopping the rollout, throttling counted and honoured per tenant, at
most three calls of a tenant in flight, and a slow tenant not holding up the others."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exoform.engine.exchange import READ_TYPES
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.emulator.fleet import FleetEmulator, TenantSetup, serve_fleet
from exoform.providers.faults import FaultPlan
from support.fleet import by_tenant, results

ALL = ("alpha", "bravo", "charlie")


def _gets(emulator: FleetEmulator, name: str) -> dict[str, int]:
    return {k: v for k, v in emulator.stats(name).invoke_calls.items() if k.startswith("Get-")}


def test_plan_apply_replan_with_one_token_per_tenant(emulated_fleet: Any, tmp_path: Path) -> None:
    fleet = emulated_fleet()
    emulator = fleet.emulator
    plan = fleet.report("plan", "--detailed-exitcode", codes=(2,))
    assert set(results(plan).values()) == {"changes"}
    for name in ALL:
        assert _gets(emulator, name) == {f"Get-{t}": 1 for t in READ_TYPES}  # one read per kind
        assert emulator.stats(name).token_requests == 1  # cold: one per tenant, at its own authority
        assert by_tenant(plan)[name]["traffic"]["calls"] == len(READ_TYPES)
    caches = sorted(p.name for p in (tmp_path / "token-cache").glob("msal-token-cache-*.json"))
    assert len(caches) == 1 and caches[0].startswith("msal-token-cache-fleet-")  # one cache, keyed by tenant
    assert results(fleet.report("apply", "--auto-approve")) == dict.fromkeys(ALL, "applied")
    assert results(fleet.report("plan", "--detailed-exitcode")) == dict.fromkeys(ALL, "no_changes")
    assert all(emulator.stats(name).token_requests == 1 for name in ALL)  # warm: none since
    assert all(fleet.document(n)["TransportRule"] for n in ALL)


def test_missing_consent_or_role_fails_alone_with_the_fix(emulated_fleet: Any) -> None:
    fleet = emulated_fleet(setups={"bravo": TenantSetup(consent=False),
                                   "charlie": TenantSetup(conditions={"directory_roles": ()})})
    report = fleet.report("apply", "--auto-approve", "--max-failures", "5", codes=(1,))
    rows = by_tenant(report)
    assert rows["alpha"]["result"] == "applied"
    assert rows["bravo"]["result"] == "failed" and "AADSTS700016" in rows["bravo"]["detail"]
    consent = f"/{fleet.emulator.tenant_id('bravo')}/adminconsent?client_id={fleet.emulator.client_id}"
    assert consent in rows["bravo"]["fix"] and "Exchange Administrator" in rows["bravo"]["fix"]
    assert rows["charlie"]["result"] == "failed" and "Exchange Administrator" in rows["charlie"]["fix"]
    doctor = fleet.report("doctor", codes=(1,))
    assert results(doctor) == {"alpha": "ready", "bravo": "not_ready", "charlie": "not_ready"}
    assert consent in by_tenant(doctor)["bravo"]["fix"]
    assert any(f["code"] == "role" for f in by_tenant(doctor)["charlie"]["findings"])
    assert fleet.emulator.stats("bravo").invoke_calls == {}  # never reached without a token


def test_a_faulted_canary_rolls_back_over_https_and_stops_the_rollout(emulated_fleet: Any) -> None:
    fleet = emulated_fleet(setups={"alpha": TenantSetup(faults=FaultPlan.parse("New-OutboundConnector#1:error"))})
    before = {n: fleet.tenant_file(n).read_bytes() for n in ALL}
    report = fleet.report("apply", "--auto-approve", codes=(1,))
    assert results(report) == {"alpha": "rolled_back", "bravo": "not_run", "charlie": "not_run"}
    assert {n: fleet.tenant_file(n).read_bytes() for n in ALL} == before
    assert fleet.emulator.stats("bravo").invoke_calls == {}


def test_throttling_is_counted_and_honoured_per_tenant(emulated_fleet: Any) -> None:
    faults = FaultPlan.parse("Get-TransportRule#1:throttle,Get-InboundConnector#1:unavailable")
    fleet = emulated_fleet(setups={"alpha": TenantSetup(faults=faults)},
                           conditions=Conditions(throttle_retry_after=0.4))
    report = fleet.report("plan", "--detailed-exitcode", codes=(2,))
    traffic = {name: row["traffic"] for name, row in by_tenant(report).items()}
    assert (traffic["alpha"]["throttled_429"], traffic["alpha"]["unavailable_503"]) == (1, 1)
    assert traffic["alpha"]["paused_s"] > 0  # the tenant's other calls waited too
    assert all((traffic[n]["throttled_429"], traffic[n]["unavailable_503"]) == (0, 0) for n in ("bravo", "charlie"))
    # Retry-After was honoured: the retry of alpha's rule read came at least 0.4 s after the 429.
    reads = [r for r in fleet.emulator.stats("alpha").requests if r.cmdlet == "Get-TransportRule"]
    assert [r.status for r in reads] == [429, 200] and reads[1].started - reads[0].finished >= 0.39


def test_calls_in_flight_per_tenant_and_a_slow_tenant_does_not_stall_others(emulated_fleet: Any) -> None:
    fleet = emulated_fleet(setups={"alpha": TenantSetup(conditions={"latency_ms": 300.0})},
                           conditions=Conditions(latency_ms=20.0))
    report = fleet.report("plan", "--concurrency", "3", codes=(0,))
    rows = by_tenant(report)
    assert rows["alpha"]["duration_ms"] >= 600  # five reads, three at a time: two rounds
    assert rows["bravo"]["duration_ms"] < rows["alpha"]["duration_ms"] / 2
    assert rows["charlie"]["duration_ms"] < rows["alpha"]["duration_ms"] / 2
    records = fleet.emulator.stats("alpha").requests
    events = sorted([(r.started, 1) for r in records] + [(r.finished, -1) for r in records])
    in_flight = [sum(change for _, change in events[:i + 1]) for i in range(len(events))]
    assert max(in_flight) == 3


def test_drift_and_status_across_tenants_over_https(emulated_fleet: Any) -> None:
    fleet = emulated_fleet()
    fleet.report("apply", "--auto-approve")
    fleet.outside("charlie", "Set-InboundConnector", {"Identity": "OPSWAT MDCES - Inbound",
                                                       "RequireTls": False})
    drift = fleet.report("drift", codes=(2,))
    assert results(drift) == {"alpha": "in_sync", "bravo": "in_sync", "charlie": "drifted"}
    status = fleet.report("status", "--name", "OPSWAT MDCES - Out*")
    assert all(r["matches"] == ["outbound connector OPSWAT MDCES - Outbound -> ces.metadefender.opswat.com",
                                "transport rule OPSWAT MDCES - Outbound emails"] for r in status["tenants"])


def test_emulator_serve_tenants_dir_announces_a_fleet(fleet: Any, tmp_path: Path) -> None:
    import threading

    lines: list[str] = []
    stop = threading.Event()

    def ready(emulator: FleetEmulator) -> None:
        from exoform.providers.emulator.cli import announce_fleet

        import io
        out = io.StringIO()
        announce_fleet(emulator, out)
        lines.extend(out.getvalue().splitlines())
        stop.set()

    serve_fleet(fleet.root / "tenants", 0, Conditions(), workdir=tmp_path / "emu", client_id="c1d2",
                client_secret=None, ready=ready, stop=stop)
    text = "\n".join(lines)
    assert "serving 3 tenant(s)" in text and '"authority": "https://127.0.0.1:' in text
    start = text.index('Fleet manifest "tenants":') + len('Fleet manifest "tenants":')
    members = json.loads(text[start:text.index("Press Ctrl-C")])
    assert [m["name"] for m in members] == list(ALL)
    code, _, err = fleet.space.run("emulator", "serve", "--tenants-dir", "tenants", "--redirect")
    assert code == 1 and "cannot be combined" in err


def test_worker_processes_give_the_same_report_and_share_the_token_cache(emulated_fleet: Any) -> None:
    fleet = emulated_fleet()
    forked = fleet.report("plan", "--processes", "2", "--detailed-exitcode", codes=(2,))
    assert all(fleet.emulator.stats(n).token_requests == 1 for n in ALL)
    single = fleet.report("plan", "--detailed-exitcode", codes=(2,))
    assert all(fleet.emulator.stats(n).token_requests == 1 for n in ALL)  # both workers' tokens were kept

    def comparable(report: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k not in ("duration_ms", "traffic")} for row in report["tenants"]]

    assert comparable(forked) == comparable(single)
    assert [r["traffic"]["calls"] for r in forked["tenants"]] == [len(READ_TYPES)] * 3
