"""The transport rule cmdlets: New-/Set-/Enable-/Disable-TransportRule with Exchange's rules
(at most 300 rules, priorities 0..N that shift on insert, header pairs, reserved headers,
recipients that must resolve, and routing only to an enabled, rule-scoped connector).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

from exoform.engine.errors import LimitExceeded, ValidationFailed
from exoform.engine.exchange import (
    EX_ARGUMENT,
    EX_INVALID_OPERATION,
    EX_PARAMETER_BINDING,
    MAX_HEADER_NAME_LENGTH,
    MAX_HEADER_VALUE_LENGTH,
    MAX_RULE_COMMENTS,
    MAX_RULE_SIZE,
    MAX_TRANSPORT_RULES,
    RESERVED_HEADER_PREFIXES,
    reserved_header_prefix,
    rule_xml_size,
)
from exoform.engine.ipv4 import RULE_IPS
from exoform.providers.tenant_model.binding import (
    Ctx,
    check_ip_list,
    check_name_length,
    coerce,
    coerce_all,
    priority_param,
)
from exoform.providers.tenant_model.document import DEFAULTS, index_of, renumber, replace, view
from exoform.engine.cmdlet_reference import RECIPIENT_CONDITIONS, RULE_PAIRS
from exoform.providers.tenant_model.recipients import (
    find_recipient,
    is_group,
    is_smtp_address,
    primary_address,
)

if TYPE_CHECKING:
    from exoform.providers.tenant_model.model import TenantModel


def new_rule(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    rules = model.objects("TransportRule")
    if len(rules) >= MAX_TRANSPORT_RULES:
        # ErrorTooManyTransportRules, raised as a plain InvalidOperationException.
        raise ctx.error(
            LimitExceeded,
            f"The organization already has the maximum of {MAX_TRANSPORT_RULES} transport"
            " rules. Remove a rule before creating another.",
            EX_INVALID_OPERATION,
        )
    name = ctx.params["Name"]
    model.check_unique(ctx, "TransportRule", name)
    position = priority_param(ctx, default=len(rules), highest=len(rules))
    rule = {**DEFAULTS["TransportRule"](), "Name": name, "Identity": name, "Guid": model.new_guid()}
    rule.update(coerce_all(ctx, rule))
    if rule.pop("Enabled", True) is False:
        rule["State"] = "Disabled"
    _check_rule(model, ctx, rule)
    rules.insert(position, rule)
    renumber(rules)
    return [view("TransportRule", rule)]


def set_rule(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    rules = model.objects("TransportRule")
    stored = model.resolve(ctx, "TransportRule")
    position = priority_param(ctx, default=index_of(rules, stored), highest=len(rules) - 1)
    rule = view("TransportRule", stored)
    rule.update(coerce_all(ctx, rule))
    if rule["Name"] != stored["Name"]:
        model.check_unique(ctx, "TransportRule", rule["Name"], current=stored)
    _check_rule(model, ctx, rule)
    rule["Identity"] = rule["Name"]
    del rules[index_of(rules, stored)]
    rules.insert(position, rule)
    renumber(rules)
    return []


def enable_rule(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    return _set_state(model, ctx, "Enabled")


def disable_rule(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    return _set_state(model, ctx, "Disabled")


def _set_state(model: TenantModel, ctx: Ctx, state: str) -> list[dict[str, Any]]:
    stored = model.resolve(ctx, "TransportRule")
    rule = view("TransportRule", stored)
    rule["State"] = state
    if ctx.params.get("Mode") is not None:
        rule["Mode"] = coerce(ctx, "Mode", ctx.params["Mode"], rule.get("Mode"))
    replace(model.objects("TransportRule"), stored, rule)
    return []


def _check_rule(model: TenantModel, ctx: Ctx, rule: dict[str, Any]) -> None:
    check_name_length(ctx, rule["Name"], "rule")
    if len(str(rule.get("Comments") or "")) > MAX_RULE_COMMENTS:
        raise ctx.invalid(f"Comments can't be longer than {MAX_RULE_COMMENTS} characters.")
    for first, second in RULE_PAIRS:
        if (rule.get(first) in (None, "", [])) != (rule.get(second) in (None, "", [])):
            raise ctx.invalid(f"{first} and {second} must be used together.")
    for header_param in _HEADER_NAMES:
        _check_header_name(ctx, header_param, rule.get(header_param))
    _check_header_value(ctx, rule.get("SetHeaderValue"))
    for ip_param in ("SenderIpRanges", "ExceptIfSenderIpRanges"):
        if ip_param in ctx.params:
            check_ip_list(ctx, rule, ip_param, RULE_IPS)
    for param, want_group in RECIPIENT_CONDITIONS.items():
        if ctx.params.get(param) is not None:
            rule[param] = _resolve_recipients(model, ctx, rule[param] or [], want_group)
    if ctx.params.get("RouteMessageOutboundConnector") is not None:
        rule["RouteMessageOutboundConnector"] = _route_target(
            model, ctx, str(ctx.params["RouteMessageOutboundConnector"])
        )
    if rule_xml_size(rule) > MAX_RULE_SIZE:
        # ErrorRuleXmlTooBig, raised as a plain InvalidOperationException.
        raise ctx.error(
            LimitExceeded,
            f"The rule is too big: its size is over the limit of {MAX_RULE_SIZE // 1024} KB"
            " for a transport rule. Use fewer or shorter conditions, exceptions and actions.",
            EX_INVALID_OPERATION,
        )


def _route_target(model: TenantModel, ctx: Ctx, identity: str) -> str:
    """The name of the connector a rule may route to; it must exist, be enabled and be scoped
    to transport rules."""
    connector = model.find("OutboundConnector", identity)
    if connector is None:
        raise ctx.invalid(
            f"RouteMessageOutboundConnector: the outbound connector '{identity}' doesn't exist."
        )
    shown = view("OutboundConnector", connector)
    if not shown["Enabled"] or not shown["IsTransportRuleScoped"]:
        raise ctx.invalid(
            f"RouteMessageOutboundConnector: the outbound connector '{shown['Name']}' must be"
            " enabled and have IsTransportRuleScoped set to $true."
        )
    return str(shown["Name"])


def _resolve_recipients(
    model: TenantModel, ctx: Ctx, values: Sequence[str], want_group: bool
) -> list[str]:
    """Each value as Exchange stores it: a directory entry (by any of its addresses or names)
    becomes its primary SMTP address; an unknown value is kept when it is a valid SMTP address
    and refused otherwise (ArgumentException)."""
    resolved = []
    for value in values:
        recipient = find_recipient(model.recipients, str(value))
        if recipient is None:
            if not is_smtp_address(str(value)):
                raise ctx.error(ValidationFailed, f"Couldn't find object \"{value}\". Please make"
                                " sure that it was spelled correctly or specify a different"
                                " object.", EX_ARGUMENT)
            resolved.append(str(value))
            continue
        if is_group(recipient) != want_group:
            # Unconfirmed on a real tenant; the model refuses it (the conservative reading).
            kind = "a group" if want_group else "a mailbox or mail user, not a group"
            raise ctx.error(ValidationFailed, f"\"{value}\" must be {kind} for this condition.",
                            EX_ARGUMENT)
        resolved.append(primary_address(recipient))
    return resolved


# Parameters of Exchange's HeaderName type, and what that type accepts.
_HEADER_NAMES = ("SetHeaderName", "RemoveHeader", "HeaderContainsMessageHeader",
                 "ExceptIfHeaderContainsMessageHeader", "HeaderMatchesMessageHeader",
                 "ExceptIfHeaderMatchesMessageHeader")
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+\Z")


def _check_header_name(ctx: Ctx, param: str, header: Any) -> None:
    if isinstance(header, str) and (len(header) > MAX_HEADER_NAME_LENGTH
                                    or not _HEADER_NAME.match(header)):
        raise ctx.error(
            ValidationFailed,
            f"Cannot bind parameter '{param}'. The header name '{header}' isn't valid: use at"
            f" most {MAX_HEADER_NAME_LENGTH} printable ASCII characters other than ':' and spaces.",
            EX_PARAMETER_BINDING,
        )
    if isinstance(header, str) and reserved_header_prefix(header):
        raise ctx.invalid(
            f"{param}: the header '{header}' is reserved; headers starting with"
            f" {' or '.join(RESERVED_HEADER_PREFIXES)} can't be set or removed."
        )


def _check_header_value(ctx: Ctx, value: Any) -> None:
    """HeaderValue: one line of at most 128 characters (ArgumentOutOfRange while binding)."""
    if isinstance(value, str) and (len(value) > MAX_HEADER_VALUE_LENGTH
                                   or "\r" in value or "\n" in value):
        raise ctx.error(
            ValidationFailed,
            "Cannot bind parameter 'SetHeaderValue'. The header value is"
            f" {len(value)} characters long or spans lines; it must be one line of at most"
            f" {MAX_HEADER_VALUE_LENGTH} characters.",
            EX_PARAMETER_BINDING,
        )
