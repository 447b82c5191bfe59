"""Exchange's limits, checked before any call: each kind's limits over all its changes (at most
300 transport rules in the tenant) and what each kind checks of its own objects (the allow
list's size and entry forms)."""
from __future__ import annotations

from exoform.engine.checks.context import CheckContext
from exoform.engine.kinds import HANDLERS, handler
from exoform.engine.plan import Diagnostic


def kind_limits(ctx: CheckContext) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for kind_handler in HANDLERS.values():
        found += kind_handler.limits(ctx.request.read, ctx.changes)
    return found


def kind_checks(ctx: CheckContext) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for address in ctx.observed:
        found += handler(address.kind).checks(address, ctx.changes.get(address), ctx.plan)
    return found
