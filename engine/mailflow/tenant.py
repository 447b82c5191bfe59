"""What the model reads: the tenant's mail objects as raw Get- output (`MailTenant`), the
gateway exoform puts in front (`Gateway`) and what the config asks it to protect (`Intent`).
Frozen values; nothing here interprets Exchange semantics (that is the other modules' job).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from exoform.engine.spec import INBOUND, INLINE, OUTBOUND, IntegrationSpec

GetObject = Mapping[str, Any]


class DomainType(str, Enum):
    AUTHORITATIVE = "Authoritative"
    INTERNAL_RELAY = "InternalRelay"
    EXTERNAL_RELAY = "ExternalRelay"


@dataclass(frozen=True)
class AcceptedDomain:
    domain: str
    domain_type: DomainType = DomainType.AUTHORITATIVE


@dataclass(frozen=True)
class Recipient:
    address: str
    is_group: bool = False


@dataclass(frozen=True)
class MailTenant:
    accepted_domains: tuple[AcceptedDomain, ...] = ()
    inbound_connectors: tuple[GetObject, ...] = ()
    outbound_connectors: tuple[GetObject, ...] = ()
    rules: tuple[GetObject, ...] = ()  # in priority order, 0 first
    allow_list: tuple[str, ...] = ()
    recipients: tuple[Recipient, ...] = ()


class GatewayMode(str, Enum):
    INLINE = "inline"  # receives the mail, scans it, sends it back from its ranges
    MONITORING = "monitoring"  # receives copies, sends nothing back


class Direction(str, Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True)
class Gateway:
    smart_hosts: tuple[str, ...]
    ip_ranges: tuple[str, ...]
    mode: GatewayMode
    header_name: str = ""
    bcc_address: str = ""
    monitoring_domain: str = ""

    @classmethod
    def from_spec(cls, spec: IntegrationSpec) -> "Gateway":
        gateway = spec.gateway
        return cls(
            smart_hosts=(gateway.smart_host,),
            ip_ranges=gateway.ip_ranges,
            mode=GatewayMode.INLINE if spec.mode == INLINE else GatewayMode.MONITORING,
            header_name=gateway.header_name,
            bcc_address=gateway.bcc_address,
            monitoring_domain=gateway.monitoring_domain,
        )


@dataclass(frozen=True)
class Scope:
    """All users, or the listed recipients and members of the listed groups."""

    selected: bool = False
    recipients: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Intent:
    integration: str
    mode: GatewayMode = GatewayMode.INLINE
    directions: frozenset[Direction] = field(default_factory=frozenset)
    scope: Scope = Scope()
    # False while the config keeps the rules staged (disabled, or Audit mode): mail may pass
    # either way, but must still never loop or be rejected.
    enforced: bool = True

    def protects(self, direction: Direction) -> bool:
        return direction in self.directions

    @classmethod
    def from_spec(cls, spec: IntegrationSpec) -> "Intent":
        wanted = {INBOUND: Direction.INBOUND, OUTBOUND: Direction.OUTBOUND}
        scope = spec.scope
        return cls(
            integration=spec.integration,
            mode=GatewayMode.INLINE if spec.mode == INLINE else GatewayMode.MONITORING,
            directions=frozenset(wanted[d] for d in spec.directions),
            scope=Scope(scope.users == "selected", scope.recipients, scope.groups),
            enforced=spec.rules_enabled and spec.rules_mode.casefold() == "enforce",
        )

    @classmethod
    def nothing(cls, integration: str) -> "Intent":
        """A destroy plan's intent: nothing protected, nothing may loop or be rejected."""
        return cls(integration=integration)
