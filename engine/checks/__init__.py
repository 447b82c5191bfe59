"""Every plan diagnostic comes from this one registry of checks, run in order over the same
context; acknowledging findings (`--accept-risk`) is the last pass over all of them. Nothing is
filtered back out by its code afterwards."""
from __future__ import annotations

from typing import Mapping, Sequence

from exoform.engine.checks.lints import connector_lints
from exoform.engine.checks.context import Check, CheckContext
from exoform.engine.checks.edits import edited_outside
from exoform.engine.checks.enabling import enabling_blocked
from exoform.engine.checks.limits import kind_checks, kind_limits
from exoform.engine.checks.mailflow import mail_diagnostics
from exoform.engine.checks.recipients import unresolved_recipients
from exoform.engine.checks.rule_size import rule_size
from exoform.engine.checks.risk import accept_risks
from exoform.engine.checks.state import interrupted_apply, kept_enabled, protection_stops, unmarked_deletes
from exoform.engine.plan import Diagnostic, Step
from exoform.engine.planning.mailsafety import MailReport

CHECKS: tuple[Check, ...] = (
    interrupted_apply,
    kind_limits,
    kind_checks,
    rule_size,
    unresolved_recipients,
    kept_enabled,
    protection_stops,
    unmarked_deletes,
    enabling_blocked,
    edited_outside,
    connector_lints,
)


def diagnose(ctx: CheckContext, found: Sequence[Diagnostic]) -> list[Diagnostic]:
    """`found` (from observing) plus every check's findings (risks are accepted last, over the
    mail-flow model's findings too: see `finish`)."""
    diagnostics = list(found)
    for check in CHECKS:
        diagnostics += check(ctx)
    return diagnostics


def finish(diagnostics: Sequence[Diagnostic], report: MailReport | None, steps: Sequence[Step],
           names: Mapping[str, str], accepted: Sequence[str], in_config: Sequence[str] = ()) -> list[Diagnostic]:
    """The checks' diagnostics, the mail-flow model's (they need the schedule), then accepted
    risks applied to all of them."""
    found = list(diagnostics) + (mail_diagnostics(report, steps, names) if report is not None else [])
    return accept_risks(found, accepted, in_config)


__all__ = ["CHECKS", "CheckContext", "diagnose", "finish"]
