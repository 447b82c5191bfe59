"""Shared by the mail-flow tests: a case's config and tenant turned into the model's inputs
(exoform's canonical install built with the real blueprint), and readable views of a result."""
from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Any, Mapping

from support.harness import spec_from

from exoform.engine.blueprint import blueprint
from exoform.engine.mailflow import (
    Branch, Gateway, Intent, MailTenant, Simulation, Simulator, install, tenant_from_document)
from exoform.engine.model import Resource, freeze_attrs
from exoform.engine.spec import IntegrationSpec

RANGES = ["203.0.113.0/24", "198.51.100.7"]
DEFAULT_CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": RANGES, "tenant_info": "tenant-info"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
    "rules": {"enabled": True},
}
DEFAULT_TENANT: dict[str, Any] = {
    "accepted_domains": ["contoso.com", "contoso.onmicrosoft.com"],
    "recipients": [
        {"address": "alice@contoso.com", "type": "UserMailbox"},
        {"address": "bob@contoso.com", "type": "UserMailbox"},
        {"address": "finance@contoso.com", "type": "MailUniversalDistributionGroup"},
    ],
}


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`extra` over `base`, objects merged key by key, everything else replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def spec_for(config: Mapping[str, Any], integration: str = "prop") -> IntegrationSpec:
    return spec_from(merged(DEFAULT_CONFIG, config), integration)


def edited(resources: tuple[Resource, ...], edits: Mapping[str, Mapping[str, Any]],
           omit: tuple[str, ...] = ()) -> tuple[Resource, ...]:
    """exoform's resources with attributes changed (None removes one) and some left out."""
    out = []
    for resource in resources:
        address = str(resource.address)
        if address in omit:
            continue
        change = edits.get(address)
        if change:
            attrs = dict(resource.attributes)
            for key, value in change.items():
                if value is None:
                    attrs.pop(key, None)
                else:
                    attrs[key] = value
            resource = replace(resource, attributes=freeze_attrs(attrs))
        out.append(resource)
    return tuple(out)


def case_inputs(case: Mapping[str, Any]) -> tuple[MailTenant, Gateway, Intent, datetime | None]:
    spec = spec_for(case.get("config", {}))
    tenant = tenant_from_document(merged(DEFAULT_TENANT, case.get("tenant", {})))
    if case.get("install", True):
        resources = edited(blueprint(spec), case.get("edit", {}), tuple(case.get("omit", ())))
        tenant = install(tenant, resources, spec.placement)
    intent = Intent.nothing(spec.integration) if case.get("intent") == "nothing" else Intent.from_spec(spec)
    at = datetime.fromisoformat(case["at"]) if case.get("at") else None
    return tenant, Gateway.from_spec(spec), intent, at


def simulate_case(case: Mapping[str, Any]) -> Simulation:
    tenant, gateway, intent, at = case_inputs(case)
    return Simulator(gateway, intent, at).simulate(tenant)


def hop_tokens(branch: Branch) -> list[str]:
    """A branch's hops as `kind` / `kind:name` strings (for expectations in cases)."""
    return [f"{h.kind.value}:{h.name}" if h.name else h.kind.value for h in branch.hops]


def is_subsequence(wanted: list[str], tokens: list[str]) -> bool:
    it = iter(tokens)
    return all(any(t == w or t.split(":", 1)[0] == w for t in it) for w in wanted)
