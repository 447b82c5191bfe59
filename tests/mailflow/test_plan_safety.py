"""Hypothesis: for random tenants (foreign rules that stop processing or route mail, another
mail-security product, hybrid connectors) and random configs, installs and change plans are
safe at every step - no state on the way makes a class loop, be rejected or be lost that did
not already fail before the plan or in the planned state - and an accepted plan whose planned
state misses the intent says so in a mail-flow diagnostic. Then crashes: a `crash` fault at
each step of an install, a mode switch, a direction change, a rename and a destroy leaves a
tenant that the model, tracing it, finds no less safe than before the apply."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st

from exoform.engine.operations.session import mail_context
from exoform.engine.plan import Plan
from exoform.engine.planning.mailsafety import failures
from exoform.engine.planning.mailtrace import MailTrace, simulate_now, trace_plan
from exoform.engine.read import TenantRead, read_tenant
from exoform.engine.spec import IntegrationSpec
from support.harness import RECIPIENTS, Run, SimulatedCrash, configs, crash, scratch_run, spec_from

HYBRID = "0b0b5e2c-1111-4222-8333-944445555666"


@st.composite
def busy_tenants(draw: st.DrawFn) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 4))):
        rule: dict[str, Any] = {"Name": f"Admin rule {i}", "Priority": i,
                                "State": draw(st.sampled_from(["Enabled", "Disabled"])),
                                "SetHeaderName": f"X-Admin-{i}", "SetHeaderValue": "1",
                                "StopRuleProcessing": draw(st.booleans())}
        scope = draw(st.sampled_from([None, "InOrganization", "NotInOrganization"]))
        if scope:
            rule["FromScope"] = scope
        rules.append(rule)
    connectors: list[dict[str, Any]] = []
    if draw(st.booleans()):  # another product, reached by a rule of its own
        connectors.append({"Name": "CP Outbound", "ConnectorType": "Partner", "SmartHosts": ["x.checkpoint.com"],
                           "UseMXRecord": False, "IsTransportRuleScoped": True})
        rules.append({"Name": "CP route", "Priority": len(rules), "State": "Enabled", "FromScope": "InOrganization",
                      "SentToScope": "NotInOrganization", "RouteMessageOutboundConnector": "CP Outbound",
                      "ExceptIfSenderIpRanges": draw(st.sampled_from([[], ["192.0.2.128/25"]]))})
    if draw(st.booleans()):  # a hybrid deployment
        connectors.append({"Name": f"Outbound to {HYBRID}", "ConnectorType": "OnPremises", "ConnectorSource": "HybridWizard",
                           "SmartHosts": ["mail.onprem.contoso.com"], "UseMXRecord": False,
                           "RecipientDomains": ["onprem.contoso.com"]})
    return {"organization": "contoso.onmicrosoft.com", "recipients": RECIPIENTS, "TransportRule": rules,
            "OutboundConnector": connectors,
            "HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default", "IPAllowList": []}]}


_ROOTS: list[Path] = []


@pytest.fixture(autouse=True, scope="module")
def _remove_folders() -> Iterator[None]:
    yield
    for root in _ROOTS:
        shutil.rmtree(root, ignore_errors=True)


def _fresh(tenant: dict[str, Any]) -> Run:
    return scratch_run(tenant, _ROOTS, "exoform-mailsafety-")[0]


def _read(run: Run, spec: IntegrationSpec) -> TenantRead:
    return read_tenant(run.provider(), spec.scope.identities)


def _traced(run: Run, spec: IntegrationSpec, operation: str = "apply") -> tuple[Plan, MailTrace]:
    read = _read(run, spec)
    plan = run.plan(spec, operation)
    return plan, trace_plan(mail_context(spec, read, operation), read, plan)


def _assert_safe_on_the_way(plan: Plan, traced: MailTrace) -> None:
    if plan.errors:
        return  # refused plans are never applied
    allowed = failures(traced.now) | failures(traced.planned)
    for state in traced.states[1:-1]:
        assert not failures(state.simulation) - allowed, (state.at, failures(state.simulation) - allowed)
    if not traced.planned.ok:
        assert any(d.code.startswith("mail_") for d in plan.diagnostics), "a missed intent is explained"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tenant=busy_tenants(), config=configs(), second=configs())
def test_every_state_of_an_accepted_install_and_change_plan_is_safe(
        tenant: dict[str, Any], config: dict[str, Any], second: dict[str, Any]) -> None:
    run = _fresh(tenant)
    first = spec_from(config)
    plan, traced = _traced(run, first)
    _assert_safe_on_the_way(plan, traced)
    if plan.errors:
        return
    assert run.apply(first, plan=plan).ok
    change = spec_from(second)
    plan, traced = _traced(run, change)
    note(f"change plan: {[s.description for s in plan.steps]}")
    _assert_safe_on_the_way(plan, traced)
    plan, traced = _traced(run, change, "destroy")
    _assert_safe_on_the_way(plan, traced)


INLINE: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t-1"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
    "rules": {"enabled": True},
}


def _variant(change: str) -> dict[str, Any]:
    config = copy.deepcopy(INLINE)
    if change == "mode switch":
        config["protection"]["mode"] = "monitoring"
    elif change == "direction change":
        config["protection"]["directions"] = ["inbound"]
    elif change == "rename":
        config["gateway"]["name_prefix"] = "Contoso GW"
    return config


SCENARIOS = ("install", "mode switch", "direction change", "rename", "destroy")


def _prepared(change: str) -> tuple[Run, IntegrationSpec, str]:
    tenant = {"organization": "contoso.onmicrosoft.com", "recipients": RECIPIENTS,
              "TransportRule": [{"Name": "Disclaimer", "Priority": 0, "State": "Enabled",
                                 "SentToScope": "NotInOrganization", "SetHeaderName": "X-D", "SetHeaderValue": "1"}]}
    run = _fresh(tenant)
    if change != "install":
        assert run.apply(spec_from(INLINE)).ok
    return run, spec_from(_variant(change)), "destroy" if change == "destroy" else "apply"


def _fault(plan: Plan, index: int) -> str:
    step = plan.steps[index]
    occurrence = sum(s.call.name == step.call.name for s in plan.steps[: index + 1])
    return f"{step.call.name}#{occurrence}:crash"


def _steps(change: str) -> int:
    run, spec, operation = _prepared(change)
    return len(run.plan(spec, operation).steps)


@pytest.mark.parametrize("change", SCENARIOS)
def test_a_crash_at_any_step_leaves_mail_no_less_safe(change: str) -> None:
    for index in range(_steps(change)):
        run, spec, operation = _prepared(change)
        plan = run.plan(spec, operation)
        context = mail_context(spec, _read(run, spec), operation)
        before = failures(simulate_now(context, _read(run, spec)))
        with pytest.raises(SimulatedCrash):
            run.apply(spec, operation, faults=_fault(plan, index), crash_hook=crash, plan=plan)
        after = simulate_now(context, _read(run, spec))
        assert not failures(after) - before, (change, index, plan.steps[index].description, failures(after))
        # And the next run converges from there.
        assert run.apply(spec, operation).ok
        assert not run.plan(spec, operation).has_changes
