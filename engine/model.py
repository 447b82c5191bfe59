"""Core value types: the `Address` that keys everything, the `Kind` of a managed object, the
`Action` a plan proposes and the frozen `Resource` a blueprint or a tenant read yields.

Attributes are kept as sorted tuples of (name, value) pairs so every value here is hashable,
immutable and prints deterministically; `attrs_dict` / `freeze_attrs` convert at the edges.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping, Union

Value = Union[str, bool, int, None, tuple[str, ...]]
Attrs = tuple[tuple[str, Value], ...]


class Kind(str, Enum):
    """A kind of managed object; the value is the address prefix."""

    INBOUND_CONNECTOR = "inbound_connector"
    OUTBOUND_CONNECTOR = "outbound_connector"
    TRANSPORT_RULE = "transport_rule"
    CONNECTION_FILTER_ALLOWLIST = "connection_filter_allowlist"

    @property
    def exchange_type(self) -> str:
        """The Exchange object type (the noun of its cmdlets)."""
        return _EXCHANGE_TYPES[self]


_EXCHANGE_TYPES = {
    Kind.INBOUND_CONNECTOR: "InboundConnector",
    Kind.OUTBOUND_CONNECTOR: "OutboundConnector",
    Kind.TRANSPORT_RULE: "TransportRule",
    Kind.CONNECTION_FILTER_ALLOWLIST: "HostedConnectionFilterPolicy",
}

# Dependency order of kinds: what must exist before what. Used as a tie-breaker so step order
# is deterministic even between unrelated resources. The inbound connector comes before the
# allow list: its marker lists the entries exoform adds, so entries are added only once a
# marker records them and removed (destroy runs the other way) while it still does - a state
# lost between the two calls can then never leave entries that nothing says are exoform's.
KIND_ORDER = (
    Kind.INBOUND_CONNECTOR,
    Kind.CONNECTION_FILTER_ALLOWLIST,
    Kind.OUTBOUND_CONNECTOR,
    Kind.TRANSPORT_RULE,
)


DEPOSED = "_deposed"


@dataclass(frozen=True, order=True)
class Address:
    """`kind.name`, e.g. `transport_rule.inbound_emails`; the Exchange name is an attribute."""

    kind: Kind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value}.{self.name}"

    def deposed(self) -> "Address":
        """Where the state keeps the old object of a replacement that created the new one
        first, until the old one is removed (Terraform's deposed object)."""
        return Address(self.kind, self.name + DEPOSED)

    @property
    def is_deposed(self) -> bool:
        return self.name.endswith(DEPOSED)

    @classmethod
    def parse(cls, text: str) -> "Address":
        """Parse `kind.name`; raises ValueError naming the valid kinds."""
        kind_text, _, name = text.partition(".")
        try:
            kind = Kind(kind_text)
        except ValueError:
            valid = ", ".join(k.value for k in Kind)
            raise ValueError(f"unknown resource kind '{kind_text}' (valid: {valid})") from None
        if not name:
            raise ValueError(f"address '{text}' has no name; expected kind.name")
        return cls(kind, name)


class Action(str, Enum):
    """What a plan does to one resource (Terraform's vocabulary)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    REPLACE = "replace"  # delete, then create (Terraform's DeleteThenCreate)
    CREATE_THEN_DELETE = "create-then-delete"  # the new object first (create_before_destroy)
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "delete": "-", "replace": "-/+",
                "create-then-delete": "+/-", "no-op": " "}[self.value]

    @property
    def is_replace(self) -> bool:
        return self in (Action.REPLACE, Action.CREATE_THEN_DELETE)

    @property
    def creates(self) -> bool:
        """A new object comes into being (a create, or either kind of replacement)."""
        return self is Action.CREATE or self.is_replace

    @property
    def terraform_actions(self) -> tuple[str, ...]:
        """The `change.actions` list of Terraform's JSON plan."""
        if self is Action.REPLACE:
            return ("delete", "create")
        if self is Action.CREATE_THEN_DELETE:
            return ("create", "delete")
        return (self.value,)


def freeze_value(value: Any) -> Value:
    """Lists become tuples; scalars pass through."""
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return value  # type: ignore[no-any-return]


def freeze_attrs(attrs: Mapping[str, Any]) -> Attrs:
    """A dict of attributes as a sorted, hashable tuple of pairs."""
    return tuple(sorted((k, freeze_value(v)) for k, v in attrs.items()))


def attrs_dict(attrs: Attrs | None) -> dict[str, Value]:
    """The inverse of `freeze_attrs` (tuples stay tuples)."""
    return dict(attrs or ())


def json_value(value: Value) -> Any:
    """A value as plain JSON (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


def json_attrs(attrs: Attrs | None) -> dict[str, Any] | None:
    return None if attrs is None else {k: json_value(v) for k, v in attrs}


@dataclass(frozen=True)
class Resource:
    """One managed object as the blueprint wants it or as it was read from the tenant."""

    address: Address
    attributes: Attrs
    dependencies: tuple[Address, ...] = ()
    guid: str | None = None

    @property
    def exchange_name(self) -> str:
        return str(attrs_dict(self.attributes).get("Name") or self.address.name)

    def get(self, key: str) -> Value:
        return attrs_dict(self.attributes).get(key)
