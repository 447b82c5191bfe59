"""Turning resource changes into Exchange cmdlet calls, and each call into its inverse for
rollback. Only parameter names of Microsoft's cmdlet reference are produced; coupled
parameters (a header's name and value, a connector's scope and domains) travel together.
"""
from __future__ import annotations

from typing import Any, Mapping

from exoform.engine.kinds import rule_enabled
from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.model import Kind, json_value

DEFAULT_POLICY = "Default"

# Parameters that must be sent together when either changes.
_COUPLED = (
    {"SetHeaderName", "SetHeaderValue"},
    {"ExceptIfHeaderContainsMessageHeader", "ExceptIfHeaderContainsWords"},
    {"IsTransportRuleScoped", "RecipientDomains"},
    {"UseMXRecord", "SmartHosts"},
)
# Inbound connector properties that only apply to one connector type: name it explicitly.
_TYPED = {"RequireTls", "RestrictDomainsToCertificate", "RestrictDomainsToIPAddresses", "SenderIPAddresses"}


def _value(value: Any) -> Any:
    return json_value(value) if isinstance(value, tuple) else value


def new_call(kind: Kind, attrs: Mapping[str, Any], priority: int | None = None) -> CmdletCall:
    """`New-<Type>` creating the object with every set attribute."""
    params = {k: _value(v) for k, v in attrs.items() if v is not None and v != ()}
    if kind is Kind.TRANSPORT_RULE:
        state = params.pop("State", "Enabled")
        params["Enabled"] = rule_enabled({"State": state})
        if priority is not None:
            params["Priority"] = priority
    return CmdletCall.of(f"New-{kind.exchange_type}", params)


def set_call(
    kind: Kind,
    identity: str,
    attrs: Mapping[str, Any],
    changed: tuple[str, ...],
    priority: int | None = None,
) -> CmdletCall | None:
    """`Set-<Type>` with the changed attributes (None clears), or None if nothing to send."""
    names = set(changed) - {"State", "Name"}
    for group in _COUPLED:
        if names & group:
            names |= group & set(attrs)
    if kind is Kind.INBOUND_CONNECTOR and names & _TYPED:
        names.add("ConnectorType")
    params: dict[str, Any] = {name: _value(attrs.get(name)) for name in sorted(names)}
    if params == {} and priority is None:
        return None
    if priority is not None:
        params["Priority"] = priority
    params["Identity"] = identity
    return CmdletCall.of(f"Set-{kind.exchange_type}", params)


def remove_call(kind: Kind, identity: str) -> CmdletCall:
    return CmdletCall.of(f"Remove-{kind.exchange_type}", {"Identity": identity, "Confirm": False})


def state_call(identity: str, enabled: bool, mode: str | None = None) -> CmdletCall:
    """Enable-/Disable-TransportRule: the only way Exchange changes a rule's State."""
    if enabled:
        params: dict[str, Any] = {"Identity": identity}
        if mode:
            params["Mode"] = mode
        return CmdletCall.of("Enable-TransportRule", params)
    return CmdletCall.of("Disable-TransportRule", {"Identity": identity, "Confirm": False})


def allowlist_call(add: tuple[str, ...], remove: tuple[str, ...]) -> CmdletCall:
    """Add/remove edit of the Default policy's IPAllowList — never a whole-list overwrite."""
    return CmdletCall.of(
        "Set-HostedConnectionFilterPolicy",
        {"Identity": DEFAULT_POLICY, "IPAllowList": ListEdit(add=add, remove=remove)},
    )


def inverse_call(
    kind: Kind,
    call: CmdletCall,
    before: Mapping[str, Any],
    before_priority: int | None,
    result: list[dict[str, Any]],
) -> CmdletCall:
    """The call that undoes `call` (which succeeded with `result`), restoring `before`."""
    args = call.args
    verb = call.verb
    if kind is Kind.CONNECTION_FILTER_ALLOWLIST:
        edit = args["IPAllowList"]
        return allowlist_call(edit.remove, edit.add)
    if verb == "New":
        created = result[0] if result else {}
        return remove_call(kind, str(created.get("Guid") or args["Name"]))
    if verb == "Remove":
        return new_call(kind, before, before_priority)
    if verb == "Enable":
        return state_call(str(args["Identity"]), False)
    if verb == "Disable":
        return state_call(str(args["Identity"]), True)
    changed = tuple(k for k in args if k not in ("Identity", "Priority"))
    priority = before_priority if "Priority" in args else None
    restored = set_call(kind, str(args["Identity"]), before, changed, priority)
    assert restored is not None  # a Set always carries at least one parameter
    return restored
