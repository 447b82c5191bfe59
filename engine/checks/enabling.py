"""Staged rule enabling: a rule may only be enabled (created enabled, or switched on) when
everything it depends on exists and is enabled once the plan has run - an enabled rule routing
to a missing or disabled connector would fail or drop mail. Pure.
"""
from __future__ import annotations

from typing import Any, Mapping

from exoform.engine.checks.context import CheckContext
from exoform.engine.kinds import handler
from exoform.engine.kinds.base import Observed
from exoform.engine.model import Address, attrs_dict
from exoform.engine.plan import Diagnostic, ResourceChange, Severity


def enabling_blocked(ctx: CheckContext) -> list[Diagnostic]:
    """An `enable_blocked` error for each object this plan enables while a dependency is not ready."""
    found = []
    for address, change in sorted(ctx.changes.items()):
        if not handler(address.kind).enables(change):
            continue
        for dep in change.dependencies:
            reason = _not_ready(dep, change, ctx.changes, ctx.observed)
            if reason:
                found.append(Diagnostic(
                    Severity.ERROR, "enable_blocked",
                    f"'{change.exchange_name}' cannot be enabled: {reason}. Keep rules.enabled false "
                    "until that is fixed (exoform plans it once the object is managed and enabled).",
                    str(address),
                ))
    return found


def _not_ready(dep: Address, dependent: ResourceChange, changes: Mapping[Address, ResourceChange],
               observed: Mapping[Address, Observed]) -> str | None:
    """Why `dep` will not be usable after the plan, or None."""
    attrs = _after(dep, changes, observed)
    if attrs is None:
        noun = dep.kind.exchange_type.replace("Connector", " connector").lower()
        return f"the {noun} it depends on ({dep}) does not exist and this plan does not create it"
    return handler(dep.kind).not_ready(attrs, dependent)


def _after(dep: Address, changes: Mapping[Address, ResourceChange],
           observed: Mapping[Address, Observed]) -> dict[str, Any] | None:
    change = changes.get(dep)
    if change is not None:
        return None if change.after is None else dict(change.after_dict)
    seen = observed.get(dep)
    return attrs_dict(seen.actual.attributes) if seen and seen.actual else None
