"""The recipients and groups a selected scope names, as the plan-time read of the tenant's
directory found them: an identity that matches nothing, or a mailbox where a group is needed
(and the reverse), is an error naming it - before any rule is created with it. Pure."""
from __future__ import annotations

from typing import Mapping

from exoform.engine.checks.context import CheckContext
from exoform.engine.model import Kind
from exoform.engine.plan import Diagnostic, Severity

# Rule conditions holding recipients, and whether they name groups (members of).
_CONDITIONS = {"SentTo": False, "From": False, "SentToMemberOf": True, "FromMemberOf": True}


def unresolved_recipients(ctx: CheckContext) -> list[Diagnostic]:
    found = []
    read = ctx.request.read
    wanted = {r.address for r in ctx.request.desired}
    # `described` holds the identities as the config writes them (desired: as resolved).
    for resource in ctx.request.described or ctx.request.desired:
        if resource.address.kind is not Kind.TRANSPORT_RULE or resource.address not in wanted:
            continue
        for condition, want_group in _CONDITIONS.items():
            listed = dict(resource.attributes).get(condition)
            for identity in listed if isinstance(listed, tuple) else ():
                problem = identity_problem(read.recipient(str(identity)), str(identity), want_group)
                if problem:
                    found.append(Diagnostic(Severity.ERROR, "recipient_unresolved", problem,
                                            str(resource.address)))
    return found


def identity_problem(entry: object, identity: str, want_group: bool) -> str | None:
    """What is wrong with the directory entry found for a config identity, or None."""
    where = "protection.scope.groups" if want_group else "protection.scope.recipients"
    if entry is None:
        return (f"{where} names '{identity}', which matches no recipient in the tenant (looked up "
                "by SMTP address, proxy address, name, alias and display name); fix the spelling or "
                "create the recipient first.")
    details = ""
    if isinstance(entry, Mapping):
        details = str(entry.get("RecipientTypeDetails") or entry.get("RecipientType") or "")
    if ("group" in details.lower()) == want_group:
        return None
    if want_group:
        return (f"{where} names '{identity}', which is a {details}, not a group: list it under "
                "protection.scope.recipients instead.")
    return (f"{where} names '{identity}', which is a group ({details}): list it under "
            "protection.scope.groups instead.")
