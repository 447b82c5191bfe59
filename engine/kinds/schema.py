"""What exoform manages of each Exchange object type, as data: the attributes, how each
compares (Exchange compares names case-insensitively and lists as sets), which are sensitive,
which force a replacement, and which name another managed object (a hard reference).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping

from exoform.engine.ipv4 import canonical as normalize_ip
from exoform.engine.ipv4 import looks_like_ipv4
from exoform.engine.model import Attrs, Kind, Value, freeze_value
from exoform.engine.read import Obj, as_bool


class Norm(str, Enum):
    """How an attribute is compared."""

    TEXT = "text"  # exact string
    NAME = "name"  # case-insensitive string
    BOOL = "bool"
    SET = "set"  # case-insensitive set of strings
    IPSET = "ipset"  # set of IPv4 addresses/CIDRs, `/32` == bare address
    DOMAINS = "domains"  # set of SMTP domains; Exchange may show `smtp:*;1` (address space form)
    HOSTS = "hosts"  # set of host names or IPv4 addresses; Exchange shows an address as `[a.b.c.d]`


_LISTS = (Norm.SET, Norm.IPSET, Norm.DOMAINS, Norm.HOSTS)
__all__ = ["ADDRESS_SPACE", "NAME", "AttrSpec", "KindSpec", "Norm", "attr", "normalize_ip",
           "normalize_value", "owned"]


@dataclass(frozen=True)
class AttrSpec:
    name: str
    norm: Norm
    default: Value = None  # the value Exchange reports when the property was never set
    sensitive: bool = False
    force_new: bool = False  # a change is a replacement, not an in-place update
    # Not set by exoform but owned: found set on exoform's object, it is drift and is cleared
    # (back to `default`). Kept in views only while set, so plans and state stay readable.
    owned: bool = False


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    attrs: tuple[AttrSpec, ...]
    # attribute -> kind of the object whose Exchange Name it holds
    references: tuple[tuple[str, Kind], ...] = ()
    # A replacement creates the new object before deleting the old one, so objects that
    # reference it can be re-pointed in between (Terraform's create_before_destroy).
    create_before_destroy: bool = False

    def attr(self, name: str) -> AttrSpec:
        for spec in self.attrs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attrs)

    @property
    def sensitive(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attrs if a.sensitive)

    @property
    def force_new(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attrs if a.force_new)

    def normalize(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """Every managed attribute in comparable form (missing == default)."""
        return {a.name: normalize_value(a, attrs.get(a.name)) for a in self.attrs}

    def changed(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
        """Names of managed attributes whose normalized values differ (sorted)."""
        old, new = self.normalize(before), self.normalize(after)
        return tuple(sorted(name for name in self.names if old[name] != new[name]))

    @property
    def owned(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attrs if a.owned)

    def default_of(self, name: str) -> Value:
        """The value that clears an attribute (what Exchange reports when it was never set)."""
        return self.attr(name).default

    def managed_view(self, obj: Obj) -> Attrs:
        """The managed attributes of a Get- object, as exoform keeps them (owned ones only
        while set)."""
        view = {}
        for attr in self.attrs:
            value = freeze_value(obj.get(attr.name))
            if attr.norm in _LISTS and isinstance(value, str):
                value = (value,)  # Exchange may answer a bare string for a one-item list
            if attr.owned and normalize_value(attr, value) == normalize_value(attr, None):
                continue
            view[attr.name] = value
        return tuple(sorted(view.items()))

    def references_in(self, attrs: Mapping[str, Any]) -> set[tuple[Kind, str]]:
        """(kind, casefolded Exchange name) of every object these attributes name."""
        found = set()
        for attr, target in self.references:
            value = attrs.get(attr)
            if value:
                found.add((target, str(value).casefold()))
        return found


def attr(name: str, norm: Norm, default: Value = None, **kw: Any) -> AttrSpec:
    return AttrSpec(name, norm, default, **kw)


def owned(names: Iterable[str], norm: Norm, default: Value = None, skip: Iterable[str] = ()) -> tuple[AttrSpec, ...]:
    """Owned attributes (see `AttrSpec.owned`) of one kind of value, in name order."""
    left_out = set(skip)
    return tuple(AttrSpec(n, norm, default, owned=True) for n in sorted(names) if n not in left_out)


NAME = attr("Name", Norm.NAME)  # renamed in place with Set- -Name where Exchange allows it


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
        return tuple(sorted({ADDRESS_SPACE.sub("", str(v).strip()).casefold() for v in items}))
    if spec.norm is Norm.HOSTS:
        return tuple(sorted({host_text(str(v)) for v in items}))
    return tuple(sorted({str(v).strip().casefold() for v in items}))


def host_text(value: str) -> str:
    """A smart host as comparable text: Exchange writes an IP address in brackets (its
    RoutingHost form), so `[192.0.2.1]` is `192.0.2.1`; names ignore case."""
    text = value.strip().casefold()
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    return inner if looks_like_ipv4(inner) else text


# `smtp:contoso.com;1`: the address-space form (type prefix, cost suffix) of a domain.
ADDRESS_SPACE = re.compile(r"^smtp:|;\d+$", re.IGNORECASE)

