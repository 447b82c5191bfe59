"""Driving one kind's handler by hand against the in-memory tenant model: observe an address,
diff it against the blueprint, lower the change, run the calls, record them, undo them."""
from __future__ import annotations

from typing import Any

from exoform.engine.blueprint import blueprint
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.kinds import handler
from exoform.engine.kinds.base import APPLY, DESTROY, DiffOptions, ObserveContext
from exoform.engine.model import Address, Resource
from exoform.engine.operations import request_for
from exoform.engine.plan import Plan, ResourceChange
from exoform.engine.planning import make_plan
from exoform.engine.read import TenantRead
from exoform.engine.state import State
from exoform.providers.tenant_model import TenantModel, empty_tenant
from support.harness import spec_from

TYPES = ("InboundConnector", "OutboundConnector", "TransportRule", "HostedConnectionFilterPolicy")
CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24", "198.51.100.7"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
INTEGRATION = "kind"


def tenant(**objects: Any) -> TenantModel:
    return TenantModel({**empty_tenant(), **objects})


def read_of(model: TenantModel) -> TenantRead:
    # The whole directory stands in for the plan-time Get-Recipient of the config's identities.
    objects = {t: model.invoke(CmdletCall.of(f"Get-{t}")) for t in TYPES + ("AcceptedDomain",)}
    return TenantRead({**objects, "Recipient": model.invoke(CmdletCall.of("Get-Recipient"))})


def desired(address: Address, config: dict[str, Any] | None = None) -> Resource:
    return next(r for r in blueprint(spec_from(config or CONFIG, INTEGRATION)) if r.address == address)


def change_for(model: TenantModel, address: Address, want: Resource | None, state: State,
               options: DiffOptions = DiffOptions()) -> ResourceChange | None:
    kind = handler(address.kind)
    seen = kind.observe(read_of(model), address, want, ObserveContext(INTEGRATION, state)).observed
    return kind.diff(address, want, seen, state.get(address), options)


def run(model: TenantModel, change: ResourceChange, state: State,
        phases: tuple[str, ...] = (DESTROY, APPLY)) -> tuple[State, list[tuple[CmdletCall, list[dict[str, Any]]]]]:
    """Lower `change` phase by phase, run each call on `model` and record it."""
    kind = handler(change.address.kind)
    lowering = kind.lowering(read_of(model), {change.address: change}, True)
    done = []
    for phase in (p for p in phases if p in kind.phases(change)):
        for _, call in lowering.calls(phase, change):
            result = model.invoke(call)
            state = kind.record(state, change, call, result)
            done.append((call, result))
    return state, done


def undo(model: TenantModel, change: ResourceChange,
         done: list[tuple[CmdletCall, list[dict[str, Any]]]]) -> None:
    kind = handler(change.address.kind)
    for call, result in reversed(done):
        model.invoke(kind.inverse(change, call, result))


def applied(model: TenantModel, plan: Plan, state: State) -> State:
    """Run a plan's steps on the in-memory tenant, recording each in state as apply does."""
    for step in plan.steps:
        result = model.invoke(step.call)
        state = handler(step.address.kind).record(state, plan.change(step.address), step.call, result)
    return state


def install(model: TenantModel, state: State, config: dict[str, Any] | None = None) -> State:
    """exoform's objects for `config` planned and applied on the in-memory tenant."""
    spec = spec_from(config or CONFIG, state.integration)
    return applied(model, make_plan(request_for(spec, read_of(model), state)), state)
