"""What exoform manages of each Exchange object type: the attributes, how each compares
(Exchange compares names case-insensitively and lists as sets), which are sensitive, which
force a replacement, and which name another managed object (a hard reference).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

from exoform.engine.model import Attrs, Kind, Value, freeze_value


class Norm(str, Enum):
    """How an attribute is compared."""

    TEXT = "text"  # exact string
    NAME = "name"  # case-insensitive string
    BOOL = "bool"
    SET = "set"  # case-insensitive set of strings
    IPSET = "ipset"  # set of IPv4 addresses/CIDRs, `/32` == bare address
    DOMAINS = "domains"  # set of SMTP domains; Exchange may show `smtp:*;1` (address space form)


@dataclass(frozen=True)
class AttrSpec:
    name: str
    norm: Norm
    default: Value = None  # the value Exchange reports when the property was never set
    sensitive: bool = False
    force_new: bool = False  # a change is a replacement, not an in-place update


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    attrs: tuple[AttrSpec, ...]
    # attribute -> kind of the object whose Exchange Name it holds
    references: tuple[tuple[str, Kind], ...] = ()

    def attr(self, name: str) -> AttrSpec:
        for spec in self.attrs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attrs)


def _a(name: str, norm: Norm, default: Value = None, **kw: Any) -> AttrSpec:
    return AttrSpec(name, norm, default, **kw)


_NAME = _a("Name", Norm.NAME, force_new=True)

INBOUND_CONNECTOR = KindSpec(
    Kind.INBOUND_CONNECTOR,
    (
        _NAME,
        _a("Comment", Norm.TEXT),
        _a("ConnectorType", Norm.NAME),
        _a("EFSkipIPs", Norm.IPSET),
        _a("Enabled", Norm.BOOL, True),
        _a("RequireTls", Norm.BOOL, False),
        _a("RestrictDomainsToCertificate", Norm.BOOL, False),
        _a("RestrictDomainsToIPAddresses", Norm.BOOL, False),
        _a("SenderDomains", Norm.DOMAINS),
        _a("SenderIPAddresses", Norm.IPSET),
    ),
)

OUTBOUND_CONNECTOR = KindSpec(
    Kind.OUTBOUND_CONNECTOR,
    (
        _NAME,
        _a("Comment", Norm.TEXT),
        _a("ConnectorType", Norm.NAME),
        _a("Enabled", Norm.BOOL, True),
        _a("IsTransportRuleScoped", Norm.BOOL, False),
        _a("RecipientDomains", Norm.DOMAINS),
        _a("SmartHosts", Norm.SET),
        _a("TlsSettings", Norm.NAME),
        _a("UseMXRecord", Norm.BOOL, True),
    ),
)

TRANSPORT_RULE = KindSpec(
    Kind.TRANSPORT_RULE,
    (
        _NAME,
        _a("BlindCopyTo", Norm.SET),
        _a("Comments", Norm.TEXT),
        _a("ExceptIfHeaderContainsMessageHeader", Norm.NAME),
        _a("ExceptIfHeaderContainsWords", Norm.SET),
        _a("ExceptIfSenderIpRanges", Norm.IPSET),
        _a("From", Norm.SET),
        _a("FromMemberOf", Norm.SET),
        _a("FromScope", Norm.NAME),
        _a("Mode", Norm.NAME, "Enforce"),
        _a("RemoveHeader", Norm.NAME),
        _a("RouteMessageOutboundConnector", Norm.NAME),
        _a("SenderIpRanges", Norm.IPSET),
        _a("SentTo", Norm.SET),
        _a("SentToMemberOf", Norm.SET),
        _a("SentToScope", Norm.NAME),
        _a("SetHeaderName", Norm.NAME),
        _a("SetHeaderValue", Norm.TEXT, sensitive=True),
        _a("State", Norm.NAME, "Enabled"),
        _a("StopRuleProcessing", Norm.BOOL, False),
    ),
    references=(("RouteMessageOutboundConnector", Kind.OUTBOUND_CONNECTOR),),
)

ALLOWLIST = KindSpec(
    Kind.CONNECTION_FILTER_ALLOWLIST,
    (_a("Name", Norm.NAME), _a("IPAllowList", Norm.IPSET)),
)

KIND_SPECS: Mapping[Kind, KindSpec] = {
    s.kind: s for s in (INBOUND_CONNECTOR, OUTBOUND_CONNECTOR, TRANSPORT_RULE, ALLOWLIST)
}

# Rule placement is handled apart from the diff: other rules' moves shift absolute numbers.
PRIORITY = "Priority"


def normalize_value(spec: AttrSpec, value: Any) -> Any:
    """The comparable form of one attribute value (see `Norm`)."""
    value = freeze_value(value)
    if value is None or value == "" or value == ():
        value = spec.default
        if value is None:
            return None
    if spec.norm is Norm.BOOL:
        return as_bool(value)
    if spec.norm is Norm.NAME:
        return str(value).strip().casefold()
    if spec.norm is Norm.TEXT:
        return str(value)
    items = value if isinstance(value, tuple) else (str(value),)
    if spec.norm is Norm.IPSET:
        return tuple(sorted({normalize_ip(v) for v in items}))
    if spec.norm is Norm.DOMAINS:
        return tuple(sorted({_ADDRESS_SPACE.sub("", str(v).strip()).casefold() for v in items}))
    return tuple(sorted({str(v).strip().casefold() for v in items}))


# `smtp:contoso.com;1`: the address-space form (type prefix, cost suffix) of a domain.
_ADDRESS_SPACE = re.compile(r"^smtp:|;\d+$", re.IGNORECASE)


def as_bool(value: Value) -> bool:
    """Exchange booleans may come as JSON booleans or as the strings 'True'/'False'."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def normalize_ip(text: str) -> str:
    """`1.2.3.4/32` and `1.2.3.4` compare equal; networks print in canonical form."""
    text = str(text).strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return text.casefold()  # ranges such as a-b are compared as written
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def normalize(kind: Kind, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Every managed attribute of `kind` in comparable form (missing == default)."""
    spec = KIND_SPECS[kind]
    return {a.name: normalize_value(a, attrs.get(a.name)) for a in spec.attrs}


def managed_view(kind: Kind, obj: Mapping[str, Any]) -> Attrs:
    """The managed attributes of a Get- object, as exoform keeps them."""
    spec = KIND_SPECS[kind]
    view = {}
    for attr in spec.attrs:
        value = freeze_value(obj.get(attr.name))
        if attr.norm in (Norm.SET, Norm.IPSET, Norm.DOMAINS) and isinstance(value, str):
            value = (value,)  # Exchange may answer a bare string for a one-item list
        view[attr.name] = value
    return tuple(sorted(view.items()))


def sensitive_attrs(kind: Kind) -> frozenset[str]:
    return frozenset(a.name for a in KIND_SPECS[kind].attrs if a.sensitive)


def references(kind: Kind, attrs: Mapping[str, Any]) -> set[tuple[Kind, str]]:
    """(kind, casefolded Exchange name) of every object these attributes name."""
    found = set()
    for attr, target in KIND_SPECS[kind].references:
        value = attrs.get(attr)
        if value:
            found.add((target, str(value).casefold()))
    return found


def rule_enabled(attrs: Mapping[str, Any]) -> bool:
    """A transport rule's `State` is Enabled (compared as Exchange does, ignoring case)."""
    return str(attrs.get("State", "")).strip().casefold() == "enabled"
