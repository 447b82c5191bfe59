"""Engine contracts that are not scenarios: a plan reads each object kind with one call
whatever the tenant size, planning is pure and deterministic, and a saved plan records what
staleness checks need."""
from __future__ import annotations

import json
from pathlib import Path

from exoform.engine.operations import request_for
from exoform.engine.planning import make_plan
from exoform.engine.provider import READ_TYPES
from exoform.engine.read import TenantRead
from exoform.engine.statefile import StateStore
from exoform.providers.faults import FaultPlan
from exoform.providers.sandbox import SandboxProvider
from support.harness import Run, canonical_tenant, plan_for, spec_from

CONFIG = {"gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t"},
          "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}}}


def _big_tenant(rules: int) -> dict[str, object]:
    return {"TransportRule": [{"Name": f"R{i}", "Priority": i, "SetHeaderName": "X-A", "SetHeaderValue": "1"} for i in range(rules)]}


def test_a_plan_reads_each_kind_once_whatever_the_tenant_size(tmp_path: Path) -> None:
    for size in (0, 50, 290):
        (tmp_path / "tenant.json").write_text(canonical_tenant(_big_tenant(size)))
        provider = SandboxProvider(tmp_path / "tenant.json", faults=FaultPlan())
        state = StateStore.at(tmp_path / "s.json").load("prop")
        plan_for(spec_from(CONFIG), provider.read(READ_TYPES), state)
        assert sorted(provider.calls) == sorted(f"Get-{t}" for t in READ_TYPES)


def test_apply_makes_one_call_per_step_plus_one_read_per_kind(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.tenant.write_text(canonical_tenant(_big_tenant(20)))
    spec = spec_from(CONFIG)
    plan = run.plan(spec)
    store, state = run.state()
    provider = run.provider()
    from exoform.engine.apply import Executor

    assert Executor(provider, store).apply(plan, state).ok
    mutating = [c for c in provider.calls if not c.startswith("Get-")]
    assert mutating == [s.call.name for s in plan.steps]


def test_planning_is_deterministic(tmp_path: Path) -> None:
    (tmp_path / "tenant.json").write_text(canonical_tenant(_big_tenant(5)))
    provider = SandboxProvider(tmp_path / "tenant.json", faults=FaultPlan())
    read = provider.read(READ_TYPES)
    state = StateStore.at(tmp_path / "s.json").load("prop")
    request = request_for(spec_from(CONFIG), TenantRead(read), state)
    before = json.dumps(read, sort_keys=True)
    assert make_plan(request) == make_plan(request)
    assert json.dumps(read, sort_keys=True) == before  # the read is not mutated


def test_apply_reuses_the_plan_read_as_its_snapshot(tmp_path: Path) -> None:
    from exoform.engine.apply import Executor

    run = Run(tmp_path)
    run.tenant.write_text(canonical_tenant(_big_tenant(3)))
    spec = spec_from(CONFIG)
    provider = run.provider()
    store, state = run.state()
    read = provider.read(READ_TYPES)
    plan = plan_for(spec, read, state)
    assert Executor(provider, store).apply(plan, state, read=TenantRead(read)).ok
    assert len([c for c in provider.calls if c.startswith("Get-")]) == len(READ_TYPES)
    assert len(provider.calls) == len(READ_TYPES) + len(plan.steps)


def test_rollback_leftovers_name_objects_as_the_tenant_spells_them() -> None:
    """The snapshot matches names case-insensitively (as Exchange does) but a leftover keeps the
    object's real name, not its case-folded key."""
    from exoform.engine.outcome import LeftoverKind
    from exoform.engine.read import TenantRead
    from exoform.engine.snapshot import compare_snapshots, snapshot

    inbound = {"Name": "OPSWAT MDCES - Inbound", "Guid": "g1", "SenderIPAddresses": ["203.0.113.0/24"]}
    before = snapshot(TenantRead({"InboundConnector": [inbound]}))
    after = snapshot(TenantRead({"OutboundConnector": [{"Name": "Contoso Relay", "Guid": "g2"}]}))
    found = {(item.kind, item.object_type, item.name) for item in compare_snapshots(before, after)}
    assert found == {(LeftoverKind.MISSING, "InboundConnector", "OPSWAT MDCES - Inbound"),
                     (LeftoverKind.STILL_PRESENT, "OutboundConnector", "Contoso Relay")}
    renamed = snapshot(TenantRead({"InboundConnector": [{**inbound, "Name": "opswat mdces - inbound"}]}))
    assert compare_snapshots(before, renamed) == []  # a case change is no difference to Exchange


def test_input_errors_agree_with_a_plural_subject() -> None:
    from exoform.engine.errors import InputError, Issue

    first = [InputError(source, [Issue("a", "b")]).message.splitlines()[0] for source in
             ("the exchange_online tenant settings", "EXOFORM_FAULTS", "state/x.json", "my configs/exoform.json")]
    assert first == ["the exchange_online tenant settings are not valid:", "EXOFORM_FAULTS is not valid:",
                     "state/x.json is not valid:", "my configs/exoform.json is not valid:"]
