"""Exchange's limits, checked before any call: at most 300 transport rules in the tenant, and
what each kind checks of its own objects (the allow list's size and entry forms)."""
from __future__ import annotations

from exoform.engine.checks.context import CheckContext
from exoform.engine.kinds import handler
from exoform.engine.model import Action, Kind
from exoform.engine.plan import Diagnostic, Severity

RULE_LIMIT = 300  # Exchange Online's transport rules per organization


def rule_limit(ctx: CheckContext) -> list[Diagnostic]:
    rules = [c for c in ctx.changes.values() if c.address.kind is Kind.TRANSPORT_RULE]
    total = (len(ctx.request.read.rules()) + sum(c.action is Action.CREATE for c in rules)
             - sum(c.action is Action.DELETE for c in rules))
    if total <= RULE_LIMIT:
        return []
    return [Diagnostic(
        Severity.ERROR, "too_many_rules",
        f"the tenant would have {total} transport rules; Exchange Online allows at most {RULE_LIMIT}. "
        "Remove unused rules in the Exchange admin center first.",
    )]


def kind_checks(ctx: CheckContext) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    wanted = ctx.wanted
    for address, seen in ctx.observed.items():
        found += handler(address.kind).checks(ctx.request.read, seen, ctx.changes.get(address),
                                              address in wanted)
    return found
