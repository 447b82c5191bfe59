"""Every plan diagnostic comes from this one registry of checks, run in order over the same
context; acknowledging findings (`--accept-risk`) is the last pass over all of them. Nothing is
filtered back out by its code afterwards."""
from __future__ import annotations

from typing import Sequence

from exoform.engine.checks.conflicts import conflicts
from exoform.engine.checks.context import Check, CheckContext
from exoform.engine.checks.enabling import enabling_blocked
from exoform.engine.checks.limits import kind_checks, kind_limits
from exoform.engine.checks.recipients import unresolved_recipients
from exoform.engine.checks.rule_size import rule_size
from exoform.engine.checks.risk import accept_risks
from exoform.engine.checks.state import interrupted_apply, kept_enabled, unmarked_deletes
from exoform.engine.plan import Diagnostic

CHECKS: tuple[Check, ...] = (
    interrupted_apply,
    kind_limits,
    kind_checks,
    rule_size,
    unresolved_recipients,
    kept_enabled,
    unmarked_deletes,
    enabling_blocked,
    conflicts,
)


def diagnose(ctx: CheckContext, found: Sequence[Diagnostic]) -> list[Diagnostic]:
    """`found` (from observing) plus every check's findings, with accepted risks applied."""
    diagnostics = list(found)
    for check in CHECKS:
        diagnostics += check(ctx)
    return accept_risks(diagnostics, ctx.request.accepted_risks)


__all__ = ["CHECKS", "CheckContext", "diagnose"]
