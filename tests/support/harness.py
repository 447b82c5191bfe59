"""In-process helpers for property tests: plan and apply with the real engine against a real
sandbox tenant file, and random configs / tenants as hypothesis strategies."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from exoform.engine.apply import ApplyResult, Executor
from exoform.engine.config import parse_config
from exoform.engine.operations import request_for
from exoform.engine.plan import Plan
from exoform.engine.planning import make_plan
from exoform.engine.provider import READ_TYPES
from exoform.engine.read import TenantRead, read_tenant
from exoform.engine.spec import IntegrationSpec
from exoform.engine.state import State
from exoform.engine.statefile import StateStore
from exoform.providers.faults import FaultPlan
from exoform.providers.sandbox import SandboxProvider
from exoform.providers.tenant_model import TenantModel, dump_tenant, empty_tenant
from exoform.engine.cmdlets import CmdletCall

RECIPIENTS = [
    {"address": "alice@contoso.com", "type": "UserMailbox"},
    {"address": "bob@contoso.com", "type": "UserMailbox"},
    {"address": "finance@contoso.com", "type": "MailUniversalDistributionGroup"},
]
OUR_RANGES = ["203.0.113.0/24", "198.51.100.0/25", "198.51.100.200", "8.8.4.0/24", "1.1.1.1"]


def canonical_tenant(document: dict[str, Any] | None) -> str:
    """The bytes the sandbox writes for a document (ids and defaults filled in)."""
    base = empty_tenant() if document is None else {**empty_tenant(), **document}
    model = TenantModel(base)
    full = model.document()
    for exchange_type in ("InboundConnector", "OutboundConnector", "TransportRule", "HostedConnectionFilterPolicy"):
        full[exchange_type] = model.invoke(CmdletCall.of(f"Get-{exchange_type}"))
    return dump_tenant(full)


class SimulatedCrash(BaseException):
    """Stands in for os._exit(137) in-process: nothing after the call runs, nothing catches it."""


def crash() -> None:
    raise SimulatedCrash()


class Run:
    """One integration on one sandbox tenant file, driven through the engine."""

    def __init__(self, root: Path, integration: str = "prop") -> None:
        self.tenant = root / "tenant.json"
        self.store_path = root / "state.json"
        self.integration = integration

    def provider(self, faults: str = "", crash_hook: Any = None) -> SandboxProvider:
        kwargs: dict[str, Any] = {"faults": FaultPlan.parse(faults)}
        if crash_hook is not None:
            kwargs["crash"] = crash_hook
        return SandboxProvider(self.tenant, **kwargs)

    def state(self) -> tuple[StateStore, State]:
        store = StateStore.at(self.store_path)
        return store, store.load(self.integration)

    def plan(self, spec: IntegrationSpec, operation: str = "apply") -> Plan:
        _, state = self.state()
        return plan_for(spec, read_tenant(self.provider(), spec.scope.identities), state, operation)

    def apply(self, spec: IntegrationSpec, operation: str = "apply", faults: str = "",
              crash_hook: Any = None, plan: Plan | None = None) -> ApplyResult:
        store, state = self.state()
        plan = plan or self.plan(spec, operation)
        executor = Executor(self.provider(faults, crash_hook), store)
        return executor.apply(plan, state)


def plan_for(spec: IntegrationSpec, read: Any, state: State, operation: str = "apply",
             **options: Any) -> Plan:
    """The plan for `spec` on a raw read (Get- output by type), straight through the planner."""
    raw = read.raw() if isinstance(read, TenantRead) else read
    return make_plan(request_for(spec, TenantRead(raw), state, operation=operation, **options))


def spec_from(config: dict[str, Any], integration: str = "prop") -> IntegrationSpec:
    return parse_config({"integration": integration, **config}, source="<test>", base_dir=Path("."))


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    mode = draw(st.sampled_from(["inline", "monitoring"]))
    directions = draw(st.sampled_from([["inbound"], ["outbound"], ["inbound", "outbound"]]))
    scope: dict[str, Any] = {"users": "all"}
    if draw(st.booleans()):
        recipients = draw(st.lists(st.sampled_from(["alice@contoso.com", "bob@contoso.com"]), max_size=2, unique=True))
        groups = [] if recipients and draw(st.booleans()) else ["finance@contoso.com"]
        scope = {"users": "selected", "recipients": recipients, "groups": groups}
    gateway: dict[str, Any] = {
        "ip_ranges": draw(st.lists(st.sampled_from(OUR_RANGES), min_size=1, max_size=3, unique=True)),
        "tenant_info": draw(st.sampled_from(["t-1", "tenant info 2"])),
    }
    if draw(st.booleans()):
        gateway["name_prefix"] = draw(st.sampled_from(["Contoso GW", "MDCES", "Gateway Ü"]))
    rules: dict[str, Any] = {"placement": draw(st.sampled_from(["top", "bottom"]))}
    if draw(st.booleans()):
        rules["enabled"] = draw(st.booleans())
    return {
        "gateway": gateway,
        "protection": {"mode": mode, "directions": directions, "scope": scope},
        "rules": rules,
        "allowlist": {"connection_filter": draw(st.booleans())},
    }


@st.composite
def tenants(draw: st.DrawFn) -> dict[str, Any]:
    """A tenant with unmanaged rules, connectors and allow-list entries."""
    n_rules = draw(st.integers(0, 6))
    rules = [
        {"Name": f"Admin rule {i}", "Priority": i, "State": draw(st.sampled_from(["Enabled", "Disabled"])),
         "SetHeaderName": f"X-Admin-{i}", "SetHeaderValue": "1",
         "StopRuleProcessing": draw(st.booleans())}
        for i in range(n_rules)
    ]
    connectors = [
        {"Name": f"Partner {i}", "ConnectorType": "Partner", "SmartHosts": [f"mx{i}.partner.example"],
         "UseMXRecord": False, "RecipientDomains": [f"partner{i}.example"]}
        for i in range(draw(st.integers(0, 2)))
    ]
    allow = draw(st.lists(st.sampled_from(["192.0.2.0/24", "203.0.113.0/24", "1.1.1.1", "9.9.9.9"]), unique=True))
    return {
        "organization": "contoso.onmicrosoft.com",
        "recipients": RECIPIENTS,
        "TransportRule": rules,
        "OutboundConnector": connectors,
        "HostedConnectionFilterPolicy": [{"Name": "Default", "Identity": "Default", "IPAllowList": allow}],
    }
