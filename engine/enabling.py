"""Staged rule enabling: a rule may only be enabled (created enabled, or flipped to Enabled)
when everything it depends on exists and is enabled once the plan has run — an enabled rule
routing to a missing or disabled connector would fail or drop mail. Pure.
"""
from __future__ import annotations

from typing import Any, Mapping

from exoform.engine.kinds import as_bool, rule_enabled
from exoform.engine.model import Action, Address, Kind, attrs_dict
from exoform.engine.observe import Observed
from exoform.engine.plan import Diagnostic, ResourceChange, Severity


def enabling_checks(
    changes: Mapping[Address, ResourceChange], observed: Mapping[Address, Observed]
) -> list[Diagnostic]:
    """An `enable_blocked` error for each rule this plan enables while a dependency is not ready."""
    found = []
    for address, change in sorted(changes.items()):
        if not _enables(change):
            continue
        for dep in change.dependencies:
            reason = _not_ready(dep, change, changes, observed)
            if reason:
                found.append(Diagnostic(
                    Severity.ERROR, "enable_blocked",
                    f"'{change.exchange_name}' cannot be enabled: {reason}. Keep rules.enabled false "
                    "until that is fixed (exoform plans it once the object is managed and enabled).",
                    str(address),
                ))
    return found


def _enables(change: ResourceChange) -> bool:
    if change.address.kind is not Kind.TRANSPORT_RULE or change.after is None:
        return False
    enabled = rule_enabled(change.after_dict)
    new = change.action in (Action.CREATE, Action.REPLACE)
    return enabled and (new or "State" in change.changed)


def _not_ready(
    dep: Address,
    rule: ResourceChange,
    changes: Mapping[Address, ResourceChange],
    observed: Mapping[Address, Observed],
) -> str | None:
    """Why `dep` will not be usable after the plan, or None."""
    attrs = _after(dep, changes, observed)
    noun = "outbound connector" if dep.kind is Kind.OUTBOUND_CONNECTOR else "inbound connector"
    if attrs is None:
        return f"the {noun} it depends on ({dep}) does not exist and this plan does not create it"
    name = attrs.get("Name") or dep.name
    if not as_bool(attrs.get("Enabled", True)):
        return f"the {noun} '{name}' it depends on is disabled and this plan does not enable it"
    routes = rule.after_dict.get("RouteMessageOutboundConnector")
    scoped = as_bool(attrs.get("IsTransportRuleScoped", False))
    if routes and dep.kind is Kind.OUTBOUND_CONNECTOR and not scoped:
        return f"it routes mail to '{name}', which is not scoped to transport rules (IsTransportRuleScoped)"
    return None


def _after(
    dep: Address, changes: Mapping[Address, ResourceChange], observed: Mapping[Address, Observed]
) -> dict[str, Any] | None:
    change = changes.get(dep)
    if change is not None:
        return None if change.after is None else dict(change.after_dict)
    seen = observed.get(dep)
    return attrs_dict(seen.actual.attributes) if seen and seen.actual else None
