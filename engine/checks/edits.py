"""Settings added to exoform's objects outside exoform (in the admin center, as the vendor's
guide suggests): the plan removes them, says so per object, and, where the config can carry
one (an exception of the routing rules), says how to keep it in the config. Pure.
"""
from __future__ import annotations

from typing import Any

from exoform.engine.checks.context import CheckContext
from exoform.engine.kinds import spec
from exoform.engine.model import Action, Kind
from exoform.engine.plan import Diagnostic, ResourceChange, Severity

# Exceptions of a routing rule the config can carry, by `rules.exceptions` key.
CONFIG_EXCEPTIONS = {
    "ExceptIfFrom": "senders", "ExceptIfSentTo": "recipients",
    "ExceptIfSenderDomainIs": "sender_domains", "ExceptIfRecipientDomainIs": "recipient_domains",
}


def edited_outside(ctx: CheckContext) -> list[Diagnostic]:
    """An `edited_outside` warning for each object of exoform's this plan takes settings off."""
    found = []
    for address, change in sorted(ctx.changes.items()):
        added = _added(change)
        if not added:
            continue
        shown = "; ".join(f"{name} = {_text(value)}" for name, value in added.items())
        hint = _hint(change, added)
        found.append(Diagnostic(
            Severity.WARNING, "edited_outside",
            f"'{change.exchange_name}' carries settings exoform does not set, added outside exoform: "
            f"{shown}. This plan removes them (exoform owns its objects completely: they could let mail "
            f"skip the gateway or change how far it is trusted).{hint}",
            str(address)))
    return found


def _added(change: ResourceChange) -> dict[str, Any]:
    """Changed settings that are set now and that the config does not ask for (or values
    beyond the config's for a list)."""
    if change.action is not Action.UPDATE or change.before is None or change.after is None:
        return {}
    schema = spec(change.address.kind)
    before, after = change.before_dict, change.after_dict
    out: dict[str, Any] = {}
    for name in change.changed:
        if name not in schema.owned and name not in CONFIG_EXCEPTIONS:
            continue
        now, wanted = before.get(name), after.get(name)
        if isinstance(now, tuple):
            keep = {str(v).casefold() for v in wanted} if isinstance(wanted, tuple) else set()
            extra = tuple(v for v in now if str(v).casefold() not in keep)
            if extra:
                out[name] = extra
        elif now not in (None, False, "") and now != schema.default_of(name):
            out[name] = now
    return out


def _hint(change: ResourceChange, added: dict[str, Any]) -> str:
    keys = {CONFIG_EXCEPTIONS[n]: v for n, v in added.items()
            if n in CONFIG_EXCEPTIONS and change.address.kind is Kind.TRANSPORT_RULE}
    if not keys:
        return " To keep such a setting, make a rule or connector of your own."
    wanted = ", ".join(f'"{key}": [{", ".join(chr(34) + str(v) + chr(34) for v in values)}]'
                       for key, values in sorted(keys.items()))
    return (f' To keep the exception, put it in the config instead: "rules": {{"exceptions": {{{wanted}}}}} '
            "(checked by the mail-flow model, applied to each of exoform's routing rules).")


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)
