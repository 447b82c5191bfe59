"""`exoform fleet` end to end on sandbox tenants: overrides and waves, plan -> apply -> re-plan
with no changes, a faulted canary stopping the rollout after rolling itself back, --max-failures,
shards covering each tenant once, destroy restoring every tenant byte for byte, drift after hand
edits, saved plans per tenant (stale ones refused) and the report's formats."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from exoform.engine.fleet import Shard
from support.fleet import FleetSpace, by_tenant, results

ALL = ("alpha", "bravo", "charlie")


def test_overrides_and_waves_then_apply_converges(fleet: FleetSpace) -> None:
    fleet.overrides = {"bravo": {"protection": {"mode": "monitoring", "directions": ["inbound"],
                                                "scope": {"users": "selected", "recipients": ["alice@bravo.example"]}}},
                       "charlie": {"gateway": {"smart_host": "eu.gateway.example", "ip_ranges": ["192.0.2.0/24"]}}}
    fleet.write()
    plan = fleet.report("plan", "--detailed-exitcode", codes=(2,))
    assert [(r["tenant"], r["wave"]) for r in plan["tenants"]] == [
        ("alpha", "canary"), ("bravo", "early"), ("charlie", "broad")]
    assert set(results(plan).values()) == {"changes"}
    applied = fleet.report("apply", "--auto-approve")
    assert results(applied) == dict.fromkeys(ALL, "applied")
    again = fleet.report("plan", "--detailed-exitcode")
    assert results(again) == dict.fromkeys(ALL, "no_changes") and again["exit"] == 0
    outbound = {n: [c["SmartHosts"] for c in fleet.document(n)["OutboundConnector"]] for n in ALL}
    assert outbound["charlie"] == [["eu.gateway.example"]]
    copies = {n: [bool(r.get("BlindCopyTo")) for r in fleet.document(n)["TransportRule"]] for n in ALL}
    assert any(copies["bravo"]) and not any(copies["alpha"])  # monitoring copies by BCC
    allow = fleet.document("charlie")["HostedConnectionFilterPolicy"][0]["IPAllowList"]
    assert allow == ["192.0.2.0/24"]


def test_a_faulted_canary_rolls_back_and_stops_the_rollout(fleet: FleetSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet.write()
    before = fleet.snapshot()
    monkeypatch.setenv("EXOFORM_FLEET_FAULTS", "alpha=New-TransportRule#2:error")
    report = fleet.report("apply", "--auto-approve", codes=(1,))
    rows = by_tenant(report)
    assert rows["alpha"]["result"] == "rolled_back"
    assert "rolled back, the tenant is as before" in rows["alpha"]["detail"]
    assert rows["bravo"]["result"] == rows["charlie"]["result"] == "not_run"
    assert "stopped in wave canary" in report["stopped"]
    assert fleet.snapshot()["alpha"] == before["alpha"]  # the rollback restored it
    assert fleet.snapshot() == before  # nothing else was touched


def test_max_failures_lets_the_rollout_go_on(fleet: FleetSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet.waves = {"alpha": "canary", "bravo": "canary", "charlie": "broad"}
    fleet.write()
    monkeypatch.setenv("EXOFORM_FLEET_FAULTS", "alpha=New-InboundConnector#1:error")
    report = fleet.report("apply", "--auto-approve", "--max-failures", "1", "--concurrency", "1", codes=(1,))
    assert results(report) == {"alpha": "rolled_back", "bravo": "applied", "charlie": "applied"}
    assert report["stopped"] == ""
    monkeypatch.setenv("EXOFORM_FLEET_FAULTS", "bravo=New-InboundConnector#1:error;charlie=New-InboundConnector#1:error")
    fleet.run("destroy", "--auto-approve")
    # Without --max-failures, a failure stops the wave from starting more tenants (one at a time).
    again = fleet.report("apply", "--auto-approve", "--concurrency", "1", codes=(1,))
    assert results(again) == {"alpha": "applied", "bravo": "rolled_back", "charlie": "not_run"}


def test_tenants_whose_plan_has_errors_are_skipped(fleet: FleetSpace) -> None:
    fleet.overrides = {"bravo": {"protection": {"mode": "inline", "directions": ["inbound"], "scope": {
        "users": "selected", "recipients": ["nobody@elsewhere.example"], "groups": ["No Such Group"]}}}}
    fleet.write()
    report = fleet.report("apply", "--auto-approve", codes=(1,))
    assert results(report) == {"alpha": "applied", "bravo": "skipped", "charlie": "applied"}
    bravo = by_tenant(report)["bravo"]
    assert bravo["errors"] == 2 and "nobody@elsewhere.example" in bravo["detail"]
    assert any("No Such Group" in f["message"] for f in bravo["findings"] if f["severity"] == "error")


def test_shards_together_cover_each_tenant_once(fleet: FleetSpace) -> None:
    fleet.waves = {f"t{i:02}": ("canary" if i < 2 else "broad") for i in range(9)}
    fleet.write_tenants()
    fleet.write()
    seen: list[str] = []
    for k in (1, 2, 3):
        report = fleet.report("apply", "--auto-approve", "--shard", f"{k}/3")
        assert all(r["result"] == "applied" for r in report["tenants"])
        assert [r["tenant"] for r in report["tenants"]] == [n for n in fleet.waves if Shard(k, 3).holds(n)]
        seen += [r["tenant"] for r in report["tenants"]]
    assert sorted(seen) == sorted(fleet.waves)  # once each
    assert set(results(fleet.report("plan")).values()) == {"no_changes"}


def test_destroy_leaves_every_tenant_exactly_as_before(fleet: FleetSpace) -> None:
    fleet.write()
    before = fleet.snapshot()
    fleet.report("apply", "--auto-approve")
    assert fleet.snapshot() != before
    report = fleet.report("destroy", "--auto-approve")
    assert results(report) == dict.fromkeys(ALL, "destroyed")
    assert fleet.snapshot() == before


def test_drift_across_tenants_after_hand_edits(fleet: FleetSpace) -> None:
    fleet.write()
    fleet.report("apply", "--auto-approve")
    fleet.outside("bravo", "Set-OutboundConnector", {"Identity": "OPSWAT MDCES - Outbound",
                                                      "SmartHosts": ["evil.example"]})
    fleet.outside("charlie", "Remove-TransportRule", {"Identity": "OPSWAT MDCES - SPF"})
    report = fleet.report("drift", codes=(2,))
    rows = by_tenant(report)
    assert results(report) == {"alpha": "in_sync", "bravo": "drifted", "charlie": "drifted"}
    assert any("SmartHosts changed" in f["message"] for f in rows["bravo"]["findings"])
    assert any(f["code"] == "deleted" for f in rows["charlie"]["findings"])
    status = fleet.report("status", "--smart-host", "evil.example")
    assert [r["tenant"] for r in status["tenants"] if r["matches"]] == ["bravo"]
    assert results(fleet.report("apply", "--auto-approve")) == {"alpha": "no_changes", "bravo": "applied",
                                                               "charlie": "applied"}
    assert fleet.report("drift")["exit"] == 0


def test_saved_plans_per_tenant_and_stale_ones_refused(fleet: FleetSpace) -> None:
    fleet.write()
    plans = fleet.root / "plans"
    plan = fleet.report("plan", "--out", str(plans), "--wave", "canary", "--wave", "early")
    assert sorted(p.name for p in plans.iterdir()) == ["alpha.plan.json", "bravo.plan.json"]
    assert all(r["plan_file"] for r in plan["tenants"])
    # An admin allowlists the gateway's range meanwhile: bravo's saved edit is no longer what exoform would do.
    fleet.outside("bravo", "Set-HostedConnectionFilterPolicy", {"Identity": "Default", "IPAllowList": ["203.0.113.0/24"]})
    report = fleet.report("apply", "--plans", str(plans), codes=(1,))
    assert results(report) == {"alpha": "applied", "bravo": "refused"}  # charlie had no plan
    assert "stale" in by_tenant(report)["bravo"]["detail"]
    code, _, err = fleet.run("apply", "--plans", str(fleet.root / "nowhere"))
    assert code == 1 and "no such folder" in err


def test_missing_env_value_and_bad_override_name_tenant_and_path(fleet: FleetSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet.overrides = {"bravo": {"gateway": {"ip_ranges": ["203.0.113.0/33"]}},
                       "charlie": {"gateway": {"tenant_info": {"env": "CHARLIE_INFO"}}}}
    fleet.write()
    code, out, err = fleet.run("plan")
    assert code == 1 and out == "" and "Traceback" not in err
    assert "tenants[1] (bravo).overrides.gateway.ip_ranges[0]:" in err
    assert "tenants[2] (charlie).overrides.gateway.tenant_info: the environment variable CHARLIE_INFO is not set" in err
    monkeypatch.setenv("CHARLIE_INFO", "secret-ish-tenant-info")
    fleet.overrides = {"charlie": {"gateway": {"tenant_info": {"env": "CHARLIE_INFO"}, "header_name": "bad header"}}}
    fleet.write()
    code, out, err = fleet.run("validate")
    assert code == 1 and "tenants[2] (charlie).overrides.gateway.header_name" in err
    assert "secret-ish-tenant-info" not in out + err


def test_report_formats_and_selection(fleet: FleetSpace) -> None:
    fleet.write()
    code, out, err = fleet.run("plan", "--format", "markdown", "--tenant", "bravo")
    assert code == 0 and out.startswith("## exoform fleet plan: test-fleet")
    assert "| bravo | early |" in out and "alpha" not in out
    code, out, _ = fleet.run("plan")
    assert code == 0 and "tenant" in out.splitlines()[2] and "3 tenant(s)" in out
    assert "fleet-tenant-info-value" not in out
    body = fleet.report("plan", "--wave", "broad")
    assert [r["tenant"] for r in body["tenants"]] == ["charlie"]
    assert "fleet-tenant-info-value" not in json.dumps(body)
    code, _, err = fleet.run("plan", "--tenant", "bravoo")
    assert code == 1 and "did you mean 'bravo'" in err
    code, _, err = fleet.run("plan", "--shard", "4/3")
    assert code == 1 and "K/N" in err


def test_the_example_manifest_plans(workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from support.workspace import REPO

    shutil.copytree(REPO / "examples", workspace.root / "examples")
    for name in ("CONTOSO", "FABRIKAM", "TAILSPIN"):
        monkeypatch.setenv(f"{name}_TENANT_INFO", f"{name.lower()}-info")
    code, out, err = workspace.run("fleet", "plan", "-f", str(workspace.root / "examples" / "fleet.json"),
                                   "--json", "--detailed-exitcode")
    assert code == 2, out + err
    report = json.loads(out)
    assert [(r["tenant"], r["wave"], r["result"]) for r in report["tenants"]] == [
        ("contoso", "canary", "changes"), ("fabrikam", "early", "changes"), ("tailspin", "broad", "changes")]
    assert not Path(workspace.root / "examples" / ".exoform").exists()  # planning writes nothing


def test_apply_shows_the_fleet_plan_and_asks(fleet: FleetSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    fleet.overrides = {"charlie": {"gateway": {"header_name": "X-Charlie"}}}
    fleet.write()
    before = fleet.snapshot()
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    code, out, err = fleet.run("apply")
    assert code == 1 and "Apply cancelled" in err and "3 tenant(s)" in out
    assert fleet.snapshot() == before
    fleet.report("apply", "--auto-approve", "--tenant", "alpha")
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    code, out, err = fleet.run("apply")
    assert code == 0, out + err
    assert "perform these actions on 2 tenant(s)" in err  # the question goes to stderr
    final = out[out.index("exoform fleet apply"):]
    assert "3 tenant(s) in" in final and ": 1 no changes, 2 applied." in final
    code, _, err = fleet.run("apply", "--json")
    assert code == 1 and "--auto-approve" in err


def test_an_interrupted_rollout_starts_no_tenant(fleet: FleetSpace) -> None:
    from exoform.engine.fleet import FleetContext, Rollout, Selection, fleet_apply, load_manifest, select
    from exoform.engine.operations import Interrupts, PlanOptions
    from exoform.providers.fleet import FleetProviders

    fleet.write()
    manifest = load_manifest(fleet.manifest)
    interrupts = Interrupts()
    interrupts.request()
    report = fleet_apply(FleetContext(manifest, FleetProviders(concurrency=2)), select(manifest, Selection()),
                         Selection(), Rollout(PlanOptions(), interrupts))
    assert {r.result.value for r in report.rows} == {"not_run"} and report.interrupted == "SIGINT"
    assert {r.detail for r in report.rows} == {"not started: the run was interrupted (SIGINT) in wave canary"}


def test_the_progress_line_on_a_terminal() -> None:
    import io

    from exoform.engine.fleet import Result, TenantRow
    from exoform.views.fleet import ProgressLine

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = ProgressLine(2, stream)
    progress.wave("canary", 2)
    progress.started(None)  # type: ignore[arg-type]
    progress.finished(TenantRow("a", "canary", Result.ROLLED_BACK, 0.1))
    progress.close()
    text = stream.getvalue()
    assert "\r\x1b[K[wave canary] 0/2 done, 1 running, 0 failed or skipped" in text
    assert "[wave canary] 1/2 done, 0 running, 1 failed or skipped" in text and text.endswith("\r\x1b[K")
