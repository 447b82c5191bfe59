"""`TenantModel`: runs one cmdlet against the tenant document held in memory, all or nothing,
dispatching to the handler of its noun (connectors, rules, policy) after PowerShell-style
binding; plus the lookups the handlers share and the Get-/Remove- handlers every type uses.
"""
from __future__ import annotations

import copy
import json
import uuid
from typing import Any, Callable, Mapping

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import AlreadyExists, NotFound, PermissionDenied
from exoform.engine.exchange import EX_ARGUMENT, EX_COMMAND_NOT_FOUND, EX_CONNECTOR_EXISTS, EX_NOT_FOUND
from exoform.providers.tenant_model.binding import Ctx, bind, coerce
from exoform.providers.tenant_model.connectors import (
    new_connector,
    refuse_if_referenced,
    set_connector,
)
from exoform.providers.tenant_model.document import (
    dump_tenant,
    index_of,
    normalize_document,
    renumber,
    stable_guid,
    view,
)
from exoform.engine.cmdlet_reference import CANONICAL_CMDLETS
from exoform.providers.tenant_model.policy import set_policy
from exoform.providers.tenant_model.recipients import accepted_domains, get_recipients
from exoform.providers.tenant_model.rules import disable_rule, enable_rule, new_rule, set_rule


class TenantModel:
    """Runs Exchange cmdlets against a tenant document held in memory.

    A failed call changes nothing: mutating handlers run on the live document, but `invoke`
    restores a snapshot on any error, so partial work can never leak into the tenant.
    """

    def __init__(
        self, document: Mapping[str, Any], new_guid: Callable[[], str] | None = None
    ) -> None:
        self._doc = normalize_document(document)
        self.new_guid = new_guid or (lambda: str(uuid.uuid4()))

    def document(self) -> dict[str, Any]:
        """A deep, JSON-serialisable copy of the tenant with sorted keys."""
        result: dict[str, Any] = json.loads(dump_tenant(self._doc))
        return result

    def invoke(self, call: CmdletCall) -> list[dict[str, Any]]:
        """Run one cmdlet; returns its output objects (New-* returns the created object)."""
        cmdlet = CANONICAL_CMDLETS.get(call.name.lower())
        if cmdlet is None:
            raise PermissionDenied(
                f"The term '{call.name}' is not recognized as the name of a cmdlet this account"
                " can run.",
                cmdlet=call.name, identity=call.identity,
                exception_type=EX_COMMAND_NOT_FOUND, status=403,
            )
        ctx = Ctx(cmdlet, call.identity, {})
        ctx.params = bind(ctx, call)
        handler = HANDLERS[cmdlet]
        if cmdlet.startswith("Get-"):
            return handler(self, ctx)
        snapshot = copy.deepcopy(self._doc)
        try:
            result = handler(self, ctx)
        except BaseException:
            self._doc = snapshot
            raise
        if ctx.params.get("WhatIf"):
            # -WhatIf validates everything and then keeps nothing, as Exchange does.
            self._doc = snapshot
            return []
        return result

    # ---- lookups, for the handlers ---------------------------------------------------------

    @property
    def recipients(self) -> list[dict[str, Any]]:
        """The directory entries rule conditions may name."""
        found: list[dict[str, Any]] = self._doc.get("recipients") or []
        return found

    @property
    def organization(self) -> str:
        return str(self._doc["organization"])

    def accepted_domains(self) -> list[dict[str, Any]]:
        """Get-AcceptedDomain's objects (built from the file's `accepted_domains`)."""
        return accepted_domains(self._doc)

    def objects(self, exchange_type: str) -> list[dict[str, Any]]:
        """The live list of one type's objects (handlers change it in place)."""
        objects: list[dict[str, Any]] = self._doc[exchange_type]
        return objects

    def find(self, exchange_type: str, identity: str) -> dict[str, Any] | None:
        """The object named `identity` or with that Guid (ignoring case), or None."""
        wanted = str(identity).lower()
        for obj in self.objects(exchange_type):
            name = str(obj.get("Name", "")).lower()
            guid = str(obj.get("Guid") or stable_guid(exchange_type, name)).lower()
            if wanted in (name, guid):
                return obj
        return None

    def resolve(self, ctx: Ctx, exchange_type: str) -> dict[str, Any]:
        """The object the call's Identity names, or Exchange's not-found error."""
        identity = ctx.params["Identity"]
        obj = self.find(exchange_type, identity)
        if obj is None:
            raise ctx.error(
                NotFound,
                f"The operation couldn't be performed because object '{identity}' couldn't be"
                f" found on '{self._doc['organization']}'.",
                EX_NOT_FOUND,
            )
        return obj

    def check_unique(self, ctx: Ctx, exchange_type: str, name: str, current: Any = None) -> None:
        """Refuse `name` if another object than `current` of the type holds it."""
        other = self.find(exchange_type, name)
        if other is None or other is current:
            return
        if exchange_type == "TransportRule":
            # Exchange reports a duplicate rule name as a plain ArgumentException.
            raise ctx.error(AlreadyExists, f"A transport rule with the name '{name}' already"
                            " exists. Specify a different name.", EX_ARGUMENT)
        noun = "inbound" if exchange_type == "InboundConnector" else "outbound"
        raise ctx.error(AlreadyExists, f"An {noun} connector with the name '{name}' already"
                        " exists. Names must be unique.", EX_CONNECTOR_EXISTS[exchange_type])


Handler = Callable[[TenantModel, Ctx], "list[dict[str, Any]]"]


def get_objects(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    """Get-<Type>: one object by Identity, or all of them, through the Get- filters."""
    noun = ctx.noun
    filters = {
        name: coerce(ctx, name, value, None)
        for name, value in ctx.params.items()
        if name != "Identity" and value is not None
    }
    if ctx.params.get("Identity") is not None:
        selected = [model.resolve(ctx, noun)]
    else:
        # Like Exchange, a missing (or null) Identity returns every object.
        selected = list(model.objects(noun))
    views = [view(noun, obj) for obj in selected]
    return [shown for shown in views if passes_filters(filters, shown)]


def get_accepted_domains(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    """Get-AcceptedDomain: every accepted domain, or the one Identity names."""
    domains = model.accepted_domains()
    identity = ctx.params.get("Identity")
    if identity is None:
        return domains
    found = [d for d in domains if str(identity).lower() in (d["Name"].lower(), d["Guid"].lower())]
    if not found:
        raise ctx.error(NotFound, f"The operation couldn't be performed because object '{identity}'"
                        f" couldn't be found on '{model.organization}'.", EX_NOT_FOUND)
    return found


def remove_object(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    """Remove-<Type>; an outbound connector a rule routes through cannot go."""
    noun = ctx.noun
    stored = model.resolve(ctx, noun)
    if noun == "OutboundConnector":
        refuse_if_referenced(model, ctx, stored, "removed")
    objects = model.objects(noun)
    del objects[index_of(objects, stored)]
    if noun == "TransportRule":
        renumber(objects)
    return []


def passes_filters(params: Mapping[str, Any], view: Mapping[str, Any]) -> bool:
    """Get- filters apply only when passed (State, IsTransportRuleScoped, test-mode)."""
    state = params.get("State")
    if isinstance(state, str) and view.get("State", "").lower() != state.lower():
        return False
    scoped = params.get("IsTransportRuleScoped")
    if isinstance(scoped, bool) and bool(view.get("IsTransportRuleScoped")) != scoped:
        return False
    test_mode = params.get("IncludeTestModeConnectors")
    if isinstance(test_mode, bool) and bool(view.get("TestMode")) != test_mode:
        return False
    return True


HANDLERS: dict[str, Handler] = {
    "Get-InboundConnector": get_objects,
    "New-InboundConnector": new_connector,
    "Set-InboundConnector": set_connector,
    "Remove-InboundConnector": remove_object,
    "Get-OutboundConnector": get_objects,
    "New-OutboundConnector": new_connector,
    "Set-OutboundConnector": set_connector,
    "Remove-OutboundConnector": remove_object,
    "Get-TransportRule": get_objects,
    "New-TransportRule": new_rule,
    "Set-TransportRule": set_rule,
    "Remove-TransportRule": remove_object,
    "Enable-TransportRule": enable_rule,
    "Disable-TransportRule": disable_rule,
    "Get-HostedConnectionFilterPolicy": get_objects,
    "Set-HostedConnectionFilterPolicy": set_policy,
    "Get-AcceptedDomain": get_accepted_domains,
    "Get-Recipient": get_recipients,
}
