"""One cmdlet call in progress (`Ctx`: the cmdlet, its bound parameters and how to word an error
about it), binding of parameters the way PowerShell binds them, coercion of each value to how
Exchange stores it, and the value checks several cmdlets share.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.errors import NotFound, PermissionDenied, ProviderError, ValidationFailed
from exoform.engine.exchange import (
    EX_DATA_VALIDATION,
    EX_INVALID_PRIORITY,
    EX_PARAMETER_BINDING,
    MAX_NAME_LENGTH,
)
from exoform.engine.ipv4 import IpRule, canonical, entry_error, looks_like_ipv4
from exoform.engine.cmdlet_reference import (
    BOOLS,
    CANONICAL_PARAMS,
    EMPTY_LIST_TYPES,
    ENUMS,
    INTS,
    IP_LISTS,
    LISTS,
    MANDATORY,
    NOT_NULLABLE,
    NOT_STORED,
    SWITCHES,
)

_STATUS: dict[type[ProviderError], int] = {NotFound: 404, PermissionDenied: 403}


@dataclass
class Ctx:
    """The cmdlet being run, its bound parameters, and how to word an error about it."""

    cmdlet: str
    identity: str
    params: dict[str, Any]

    @property
    def noun(self) -> str:
        return self.cmdlet.split("-", 1)[1]

    def error(self, cls: type[ProviderError], message: str, exception_type: str) -> ProviderError:
        return cls(
            message,
            cmdlet=self.cmdlet,
            identity=self.identity,
            exception_type=exception_type,
            status=_STATUS.get(cls, 400),
        )

    def invalid(self, message: str) -> ProviderError:
        return self.error(ValidationFailed, message, EX_DATA_VALIDATION)

    def binding(self, message: str) -> ProviderError:
        return self.error(ValidationFailed, message, EX_PARAMETER_BINDING)


def bind(ctx: Ctx, call: CmdletCall) -> dict[str, Any]:
    """Parameters under their documented names; unknown, repeated or missing ones are refused
    the way PowerShell refuses them (names match ignoring case)."""
    canonical = CANONICAL_PARAMS[ctx.cmdlet]
    bound: dict[str, Any] = {}
    for key, value in call.params:
        name = canonical.get(str(key).lower())
        if name is None:
            raise ctx.binding(f"A parameter cannot be found that matches parameter name '{key}'.")
        if name in bound:
            raise ctx.binding(
                f"Cannot bind parameter because parameter '{name}' is specified more than once."
            )
        bound[name] = value
    required = MANDATORY.get(ctx.cmdlet, ("Identity",) if not ctx.cmdlet.startswith("Get-") else ())
    missing = [name for name in required if bound.get(name) in (None, "", (), [])]
    if missing:
        raise ctx.binding(
            "Cannot process command because of one or more missing mandatory parameters: "
            + " ".join(missing) + "."
        )
    for name, value in bound.items():
        # Type errors are binding errors: PowerShell raises them before any object is looked up.
        if name in ("Name", "Identity"):
            if value is not None and not isinstance(value, str):
                raise ctx.binding(f"Cannot bind parameter '{name}': expected a string.")
        elif name in SWITCHES:
            bound[name] = coerce(ctx, name, value, None)
        else:
            coerce(ctx, name, value, None)
    return bound


def coerce_all(ctx: Ctx, current: Mapping[str, Any]) -> dict[str, Any]:
    """Every stored property the call sets, checked and normalised."""
    return {
        name: coerce(ctx, name, value, current.get(name))
        for name, value in ctx.params.items()
        if name not in NOT_STORED
    }


def coerce(ctx: Ctx, name: str, value: Any, current: Any) -> Any:
    """One parameter value as Exchange would store it, or a binding error."""
    if value is None:
        if name in NOT_NULLABLE:
            raise ctx.binding(f"Cannot bind argument to parameter '{name}' because it is null.")
        return [] if name in LISTS and ctx.noun in EMPTY_LIST_TYPES else None
    if name in LISTS:
        return _coerce_list(ctx, name, value, current)
    if isinstance(value, ListEdit):
        raise ctx.binding(f"Parameter '{name}' is not multi-valued; it takes no Add/Remove edit.")
    if name in BOOLS:
        if not isinstance(value, bool):
            raise ctx.binding(f"Cannot convert value '{value}' of parameter '{name}' to Boolean.")
        return value
    if name in INTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.binding(f"Cannot convert value '{value}' of parameter '{name}' to Int32.")
        return value
    if name in ENUMS:
        return _coerce_enum(ctx, name, value)
    if isinstance(value, (list, tuple, dict)):
        raise ctx.binding(f"Parameter '{name}' takes a single value, not a list.")
    return _scalar(ctx, name, value)


def _coerce_list(ctx: Ctx, name: str, value: Any, current: Any) -> Any:
    key = canonical if name in IP_LISTS else _folded
    if isinstance(value, ListEdit):
        result = _apply_edit(list(current or []), value, key)
    elif isinstance(value, (list, tuple)):
        result = [_scalar(ctx, name, item) for item in value]
    else:
        # A single value given to a multi-valued parameter is a one-element list.
        result = [_scalar(ctx, name, value)]
    if name == "SmartHosts":
        result = [_routing_host(item) for item in result]
    if not result and ctx.noun not in EMPTY_LIST_TYPES:
        return None
    return result


def _folded(item: Any) -> str:
    return str(item).lower()


def _routing_host(item: Any) -> Any:
    """Exchange keeps a smart host given as an IPv4 address in its RoutingHost form, `[a.b.c.d]`."""
    text = str(item).strip()
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    return f"[{bare}]" if looks_like_ipv4(bare) and "/" not in bare else item


def _apply_edit(values: list[Any], edit: ListEdit, key: Callable[[Any], str]) -> list[Any]:
    """Add/Remove a multi-valued property: removing an absent entry or adding a present one
    changes nothing. Entries compare ignoring case, IP ranges by their address bounds (so
    adding 192.0.2.0/24 to a list holding 192.0.2.0-192.0.2.255 is a no-op, as in Exchange)."""
    removed = {key(item) for item in edit.remove}
    kept = [item for item in values if key(item) not in removed]
    present = {key(item) for item in kept}
    for item in edit.add:
        if key(item) not in present:
            kept.append(item)
            present.add(key(item))
    return kept


def _coerce_enum(ctx: Ctx, name: str, value: Any) -> str:
    allowed = ENUMS[name]
    for option in allowed:
        if isinstance(value, str) and value.lower() == option.lower():
            return option
    raise ctx.binding(
        f"Cannot process argument transformation on parameter '{name}'. Unable to match the"
        f" identifier name {value} to a valid enumerator name. Specify one of the following"
        f" enumerator names and try again: {', '.join(allowed)}"
    )


def _scalar(ctx: Ctx, name: str, value: Any) -> Any:
    # Dicts are hashtables (MessageContainsDataClassifications); everything else is text-like.
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return copy.deepcopy(value)
    raise ctx.binding(f"Cannot convert the value of parameter '{name}': expected a plain value.")


def priority_param(ctx: Ctx, *, default: int, highest: int) -> int:
    if "Priority" not in ctx.params:
        return default
    priority = coerce(ctx, "Priority", ctx.params["Priority"], None)
    if not 0 <= priority <= highest:
        raise ctx.error(
            ValidationFailed,
            f"The specified rule priority is invalid. Use a value between 0 and {highest}:"
            " priority 0 is the highest and rules can't share a priority.",
            EX_INVALID_PRIORITY,
        )
    return int(priority)


def check_name_length(ctx: Ctx, name: str, what: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise ctx.invalid(
            f"The {what} name '{name}' is {len(name)} characters long; the maximum is"
            f" {MAX_NAME_LENGTH}."
        )


def check_ip_list(ctx: Ctx, obj: Mapping[str, Any], param: str, rule: IpRule) -> None:
    for entry in obj.get(param) or []:
        problem = entry_error(str(entry), rule)
        if problem:
            raise ctx.invalid(f"{param}: {problem}")
