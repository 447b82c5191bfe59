"""The tenant's mail objects while a plan's calls are simulated, for the mail-flow model: the
foreign objects stay the very objects read (so the model's caches hold across states), exoform's
own objects change call by call as New-, Set-, Remove-, Enable- and Disable- would change them,
and the rules keep the order the calls' priorities give them. Pure.
"""
from __future__ import annotations

from typing import Any, Callable

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.mailflow import AcceptedDomain, DomainType, MailTenant, Recipient
from exoform.engine.model import Kind
from exoform.engine.read import Obj, TenantRead, name_of, values

_LISTS = {
    "InboundConnector": "inbound",
    "OutboundConnector": "outbound",
    "TransportRule": "rules",
}
_STEERING = {"Identity", "Confirm", "WhatIf", "Priority"}  # parameters that are not properties


class TenantStates:
    """One simulated state; `copy` before trying a call you may not keep."""

    def __init__(self, inbound: list[Obj], outbound: list[Obj], rules: list[Obj], allow: list[str],
                 domains: tuple[AcceptedDomain, ...], recipients: tuple[Recipient, ...]) -> None:
        self.lists: dict[str, list[Obj]] = {"inbound": inbound, "outbound": outbound, "rules": rules}
        self.allow = allow
        self.domains = domains
        self.recipients = recipients

    @classmethod
    def of(cls, read: TenantRead) -> "TenantStates":
        policy = read.default_policy()
        return cls(list(read.objects(Kind.INBOUND_CONNECTOR)), list(read.objects(Kind.OUTBOUND_CONNECTOR)),
                   list(read.rules()), list(values(policy, "IPAllowList")) if policy else [],
                   accepted_domains(read), recipients(read))

    def copy(self) -> "TenantStates":
        return TenantStates(list(self.lists["inbound"]), list(self.lists["outbound"]),
                            list(self.lists["rules"]), list(self.allow), self.domains, self.recipients)

    def tenant(self) -> MailTenant:
        return MailTenant(self.domains, tuple(self.lists["inbound"]), tuple(self.lists["outbound"]),
                          tuple(self.lists["rules"]), tuple(self.allow), self.recipients)

    def apply(self, call: CmdletCall) -> None:
        """The effect of one successful call on this state."""
        if call.noun == "HostedConnectionFilterPolicy":
            self._edit_allow(call)
            return
        objects = self.lists[_LISTS[call.noun]]
        _VERBS[call.verb](objects, call)

    def _edit_allow(self, call: CmdletCall) -> None:
        edit = call.args.get("IPAllowList")
        if isinstance(edit, ListEdit):
            removed = {e.casefold() for e in edit.remove}
            self.allow = [e for e in self.allow if e.casefold() not in removed] + list(edit.add)


def accepted_domains(read: TenantRead) -> tuple[AcceptedDomain, ...]:
    found = []
    for obj in read.accepted_domains():
        name = str(obj.get("DomainName") or obj.get("Name") or "")
        kind = str(obj.get("DomainType") or "Authoritative")
        known = {t.value.casefold(): t for t in DomainType}
        found.append(AcceptedDomain(name, known.get(kind.casefold(), DomainType.AUTHORITATIVE)))
    return tuple(d for d in found if d.domain)


def recipients(read: TenantRead) -> tuple[Recipient, ...]:
    found = []
    for obj in read.of_type("Recipient"):
        address = str(obj.get("PrimarySmtpAddress") or "")
        kind = str(obj.get("RecipientTypeDetails") or obj.get("RecipientType") or "")
        if address:
            found.append(Recipient(address, "group" in kind.casefold()))
    return tuple(found)


def _properties(call: CmdletCall) -> dict[str, Any]:
    props = {k: list(v) if isinstance(v, tuple) else v for k, v in call.args.items() if k not in _STEERING}
    if call.noun == "TransportRule" and "Enabled" in props:
        props["State"] = "Enabled" if props.pop("Enabled") is not False else "Disabled"
    return props


def _index(objects: list[Obj], identity: str) -> int | None:
    wanted = identity.casefold()
    for i, obj in enumerate(objects):
        if wanted in (str(obj.get("Guid") or "").casefold(), name_of(obj).casefold()):
            return i
    return None


def _new(objects: list[Obj], call: CmdletCall) -> None:
    obj = {**_properties(call), "Guid": f"planned:{call.identity}"}
    position = call.args.get("Priority")
    objects.insert(position if isinstance(position, int) else len(objects), obj)


def _set(objects: list[Obj], call: CmdletCall) -> None:
    index = _index(objects, call.identity)
    if index is None:
        return
    obj = {**objects[index], **_properties(call)}
    position = call.args.get("Priority")
    if isinstance(position, int):
        del objects[index]
        objects.insert(position, obj)
    else:
        objects[index] = obj


def _remove(objects: list[Obj], call: CmdletCall) -> None:
    index = _index(objects, call.identity)
    if index is not None:
        del objects[index]


def _switch(on: bool) -> Callable[[list[Obj], CmdletCall], None]:
    def switch(objects: list[Obj], call: CmdletCall) -> None:
        index = _index(objects, call.identity)
        if index is not None:
            mode = call.args.get("Mode")
            extra = {"Mode": mode} if on and mode else {}
            objects[index] = {**objects[index], "State": "Enabled" if on else "Disabled", **extra}
    return switch


_VERBS: dict[str, Callable[[list[Obj], CmdletCall], None]] = {
    "New": _new, "Set": _set, "Remove": _remove, "Enable": _switch(True), "Disable": _switch(False),
}
