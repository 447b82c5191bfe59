"""Exchange Online's per-rule limit: a transport rule's serialised form may hold at most 8 KB.
Each rule this plan creates or changes is measured (with the settings Exchange adds) before any
call, so a rule too big fails the plan, not the apply. Pure."""
from __future__ import annotations

from exoform.engine.checks.context import CheckContext
from exoform.engine.exchange import MAX_RULE_SIZE, rule_xml_size
from exoform.engine.model import Kind
from exoform.engine.plan import Diagnostic, Severity

# What Exchange stores on every rule besides what exoform sends (counted in its size).
_SERVICE_DEFAULTS = {"RuleErrorAction": "Ignore", "SenderAddressLocation": "Header"}


def rule_size(ctx: CheckContext) -> list[Diagnostic]:
    found = []
    for address, change in sorted(ctx.changes.items()):
        if address.kind is not Kind.TRANSPORT_RULE or change.after is None:
            continue
        size = rule_xml_size({**_SERVICE_DEFAULTS, **change.after_dict})
        if size > MAX_RULE_SIZE:
            found.append(Diagnostic(
                Severity.ERROR, "rule_too_large",
                f"the rule '{change.exchange_name}' would be about {size} bytes, over Exchange "
                f"Online's limit of {MAX_RULE_SIZE // 1024} KB per transport rule; list fewer or "
                "wider gateway ranges (gateway.ip_ranges), or fewer recipients and groups.",
                str(address)))
    return found
