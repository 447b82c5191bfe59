"""Checks about where the last run and the admin left things: an interrupted apply whose
pending call this plan reconciles, and rules an admin switched on that stay on."""
from __future__ import annotations

from exoform.engine.checks.context import CheckContext
from exoform.engine.plan import Diagnostic, Severity


def interrupted_apply(ctx: CheckContext) -> list[Diagnostic]:
    pending = ctx.request.state.pending
    if pending is None:
        return []
    return [Diagnostic(
        Severity.WARNING, "interrupted_apply",
        f"the previous run was interrupted during step {pending.step + 1} ({pending.cmdlet} "
        f"'{pending.identity}', started {pending.started}); exoform re-read the tenant and "
        "plans from what is really there (objects it had created are adopted by their marker).",
        pending.address,
    )]


def kept_enabled(ctx: CheckContext) -> list[Diagnostic]:
    """An object the admin enabled outside exoform that stays enabled (rules.enabled absent)."""
    found = []
    for address, change in sorted(ctx.changes.items()):
        if change.enabled is not None and change.enabled.kept:
            found.append(Diagnostic(
                Severity.INFO, "rule_enabled_outside",
                f"'{change.exchange_name}' was enabled outside exoform and stays enabled; set "
                "rules.enabled to true in the config to record that (or to false to disable it).",
                str(address),
            ))
    return found
