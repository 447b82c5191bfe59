"""Hypothesis properties of plan/apply on random configs and random pre-existing tenants:
convergence (apply then an empty re-plan, destroy restores the tenant), dependency order of
steps, rollback after a fault at any step, and recovery after a crash at any step."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from hypothesis import given, note, strategies as st

from exoform.engine.model import Kind
from exoform.engine.ownership import owner
from exoform.engine.plan import Plan, StepOp
from support.harness import Run, SimulatedCrash, configs, crash, spec_from, tenants
from support.harness import scratch_run


_ROOTS: list[Path] = []


@pytest.fixture(autouse=True, scope="module")
def _remove_example_folders() -> Iterator[None]:
    yield
    for root in _ROOTS:
        shutil.rmtree(root, ignore_errors=True)


def _fresh(tenant: dict[str, Any]) -> tuple[Run, str]:
    return scratch_run(tenant, _ROOTS)


def _assert_converged(run: Run, spec: Any) -> None:
    again = run.plan(spec)
    assert not again.has_changes, [(str(c.address), c.action.value, c.changed) for c in again.changes if c.action.value != "no-op"]


def _destroy_restores(run: Run, spec: Any, original: str) -> None:
    result = run.apply(spec, "destroy")
    assert result.ok, result.error
    assert run.tenant.read_text(encoding="utf-8") == original
    assert run.state()[1].resources == ()


@given(tenant=tenants(), config=configs(), second=configs())
def test_apply_converges_and_destroy_restores(tenant: dict[str, Any], config: dict[str, Any], second: dict[str, Any]) -> None:
    run, original = _fresh(tenant)
    for cfg in (config, second):
        spec = spec_from(cfg)
        result = run.apply(spec)
        assert result.ok, result.error
        _assert_converged(run, spec)
    _destroy_restores(run, spec, original)


def _check_order(plan: Plan) -> None:
    position: dict[tuple[str, str], int] = {}
    for step in plan.steps:
        assert all(d < step.index for d in step.depends_on)
        position[(str(step.address), step.op.value)] = step.index
    for step in plan.steps:
        change = plan.change(step.address)
        for dep in change.dependencies:
            created = position.get((str(dep), StepOp.CREATE.value))
            if step.op is StepOp.CREATE and created is not None:
                assert created < step.index, f"{step.address} created before {dep}"
        if step.op is StepOp.DELETE and step.address.kind is not Kind.TRANSPORT_RULE:
            for other in plan.steps:
                if other.op is StepOp.DELETE and other.address.kind is Kind.TRANSPORT_RULE:
                    refs = plan.change(other.address).before_dict.get("RouteMessageOutboundConnector")
                    if refs and str(refs).casefold() == plan.change(step.address).before_dict.get("Name", "").casefold():
                        assert other.index < step.index


@given(tenant=tenants(), config=configs(), second=configs())
def test_every_step_runs_after_its_dependencies(tenant: dict[str, Any], config: dict[str, Any], second: dict[str, Any]) -> None:
    run, _ = _fresh(tenant)
    _check_order(run.plan(spec_from(config)))
    assert run.apply(spec_from(config)).ok
    _check_order(run.plan(spec_from(second)))
    _check_order(run.plan(spec_from(second), "destroy"))


def _fault_at(plan: Plan, index: int, kind: str) -> str:
    step = plan.steps[index]
    occurrence = sum(s.call.name == step.call.name for s in plan.steps[: index + 1])
    return f"{step.call.name}#{occurrence}:{kind}"


@given(tenant=tenants(), config=configs(), data=st.data())
def test_fault_at_any_step_rolls_back_exactly(tenant: dict[str, Any], config: dict[str, Any], data: st.DataObject) -> None:
    run, original = _fresh(tenant)
    spec = spec_from(config)
    plan = run.plan(spec)
    index = data.draw(st.integers(0, len(plan.steps) - 1))
    note(f"fault at step {index}: {plan.steps[index].description}")
    result = run.apply(spec, faults=_fault_at(plan, index, "error"), plan=plan)
    assert not result.ok and result.rolled_back and result.rollback_complete, result.leftovers
    assert run.tenant.read_text(encoding="utf-8") == original
    _, state = run.state()
    assert state.resources == () and state.pending is None
    replan = run.plan(spec)
    assert [s.call for s in replan.steps] == [s.call for s in plan.steps]


@given(tenant=tenants(), config=configs(), second=configs(), data=st.data())
def test_fault_in_a_change_plan_restores_the_previous_tenant(tenant: dict[str, Any], config: dict[str, Any], second: dict[str, Any], data: st.DataObject) -> None:
    run, original = _fresh(tenant)
    assert run.apply(spec_from(config)).ok
    before = run.plan(spec_from(config))
    spec = spec_from(second)
    plan = run.plan(spec)
    if not plan.steps:
        return
    index = data.draw(st.integers(0, len(plan.steps) - 1))
    note(f"fault at step {index}: {plan.steps[index].description}")
    result = run.apply(spec, faults=_fault_at(plan, index, "error"), plan=plan)
    assert not result.ok and result.rollback_complete, result.leftovers
    assert not run.plan(spec_from(config)).has_changes, "rollback did not restore the applied config"
    assert not before.has_changes
    _destroy_restores(run, spec_from(config), original)


def _crash_after_a_step(run: Run, spec: Any, plan: Plan, data: st.DataObject) -> bool:
    """Apply `plan` with the process dying after a drawn step; whether the crash fired."""
    index = data.draw(st.integers(0, len(plan.steps) - 1))
    note(f"crash after step {index}: {plan.steps[index].description}")
    try:
        run.apply(spec, faults=_fault_at(plan, index, "crash"), crash_hook=crash, plan=plan)
    except SimulatedCrash:
        return True
    return False


def _ours(run: Run) -> list[tuple[str, str]]:
    """(type, name) of every object in the tenant carrying this integration's marker."""
    document = __import__("json").loads(run.tenant.read_text())
    return sorted((k.exchange_type, str(o["Name"])) for k in (Kind.INBOUND_CONNECTOR, Kind.OUTBOUND_CONNECTOR, Kind.TRANSPORT_RULE)
                  for o in document[k.exchange_type] if owner(k, o) == "prop")


@given(tenant=tenants(), config=configs(), data=st.data())
def test_crash_at_any_step_then_apply_converges_without_duplicates(tenant: dict[str, Any], config: dict[str, Any], data: st.DataObject) -> None:
    run, original = _fresh(tenant)
    spec = spec_from(config)
    plan = run.plan(spec)
    assert _crash_after_a_step(run, spec, plan, data), "the crash fault did not fire"
    result = run.apply(spec)
    assert result.ok, result.error
    _assert_converged(run, spec)
    wanted = [c for c in plan.changes if c.address.kind is not Kind.CONNECTION_FILTER_ALLOWLIST]
    assert len(_ours(run)) == len(wanted)
    _destroy_restores(run, spec, original)


@given(tenant=tenants(), config=configs(), second=configs(), data=st.data())
def test_a_change_crashed_at_any_step_then_a_lost_state_recovers_with_nothing_left(
        tenant: dict[str, Any], config: dict[str, Any], second: dict[str, Any], data: st.DataObject) -> None:
    """What the lost-state chaos mode does, exhaustively in memory: the apply of `second`
    crashes after any step, the state is gone, and the next apply of either config converges
    with exactly that config's objects marked as ours (a replacement's old half, a dropped
    direction's rules, listed allow-list entries all removed); destroy then restores the tenant."""
    run, original = _fresh(tenant)
    assert run.apply(spec_from(config)).ok
    spec = spec_from(second)
    plan = run.plan(spec)
    if plan.steps:
        _crash_after_a_step(run, spec, plan, data)
    run.store_path.unlink(missing_ok=True)  # a new laptop
    final = spec_from(data.draw(st.sampled_from([config, second])))
    result = run.apply(final)
    assert result.ok, result.error
    _assert_converged(run, final)
    _, state = run.state()
    wanted = sorted((r.address.kind.exchange_type, r.exchange_name) for r in state.resources
                    if r.address.kind is not Kind.CONNECTION_FILTER_ALLOWLIST)
    assert _ours(run) == wanted
    _destroy_restores(run, final, original)
