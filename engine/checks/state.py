"""Checks about where the last run and the admin left things: an interrupted apply whose
pending call this plan reconciles, and rules an admin switched on that stay on."""
from __future__ import annotations

from exoform.engine.checks.context import CheckContext
from exoform.engine.kinds import handler
from exoform.engine.model import Action
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


def unmarked_deletes(ctx: CheckContext) -> list[Diagnostic]:
    """exoform deletes only objects carrying its marker: one taken over by name (import,
    --adopt) gets the marker from the next apply; until then it is never deleted."""
    found = []
    for address, change in sorted(ctx.changes.items()):
        seen = ctx.observed.get(address)
        deletes = change.action is Action.DELETE or change.action.is_replace
        if not deletes or seen is None or seen.actual is None:
            continue
        if handler(address.kind).marked and not seen.marked:
            found.append(Diagnostic(
                Severity.ERROR, "unmarked_delete",
                f"{address.kind.exchange_type} '{change.exchange_name}' does not carry this "
                f"integration's marker ([exoform:{ctx.request.integration}]), so exoform will not "
                "delete it. If exoform took it over (import, --adopt), run `exoform apply` first, "
                "which writes the marker; otherwise remove it in the Exchange admin center or "
                f"forget it with `exoform state rm {address}`.",
                str(address),
            ))
    return found


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


def protection_stops(ctx: CheckContext) -> list[Diagnostic]:
    """An apply plan that switches off a rule that routes or copies mail while it is live: said
    loudly, since mail then reaches recipients without the gateway."""
    found = []
    for address, change in sorted(ctx.changes.items()):
        before = change.before_dict if change.before is not None else {}
        live = before.get("RouteMessageOutboundConnector") or before.get("BlindCopyTo")
        if change.enabled is None or not change.enabled.switches_off or not live or ctx.request.destroying:
            continue
        what = "routes" if before.get("RouteMessageOutboundConnector") else "copies"
        found.append(Diagnostic(
            Severity.WARNING, "protection_stops",
            f"PROTECTION STOPS: this plan disables '{change.exchange_name}', which {what} mail through "
            "the gateway now; once it runs, that mail no longer passes the gateway. This is what "
            'rules.enabled = false asks for; leave rules.enabled out of the config to keep the state '
            "set in the admin center.",
            str(address),
        ))
    return found
