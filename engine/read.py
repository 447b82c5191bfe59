"""The tenant as read: every object of each Exchange type from one `provider.read()`, parsed
once - objects by kind, by name (case-insensitively, as Exchange compares names), by Guid,
transport rules in priority order, the default connection filter policy, and the owner of an
object by its marker. Observe, checks, drift, snapshot and planning take this, never raw dicts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.exchange import DEFAULT_POLICY, READ_TYPES
from exoform.engine.model import Kind
from exoform.engine.ownership import owner

if TYPE_CHECKING:
    from exoform.engine.provider import Provider

Obj = Mapping[str, Any]
#: The key under which a read keeps the Get-Recipient answer for the config's identities.
RECIPIENTS = "Recipient"
ACCEPTED_DOMAINS = "AcceptedDomain"


def as_bool(value: Any) -> bool:
    """Exchange booleans may come as JSON booleans or as the strings 'True'/'False'."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def name_of(obj: Obj) -> str:
    return str(obj.get("Name", ""))


def text(obj: Obj, key: str) -> str | None:
    """A property as comparable text (trimmed, casefolded), None when unset."""
    value = obj.get(key)
    return str(value).strip().casefold() if value not in (None, "", [], ()) else None


def values(obj: Obj, key: str) -> tuple[str, ...]:
    """A multi-valued property as a tuple of comparable strings (Exchange may answer a bare
    string for a one-item list, or null for an empty one)."""
    value = obj.get(key)
    if value in (None, ""):
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(str(v).strip().casefold() for v in items)


def flag(obj: Obj, key: str, default: bool = False) -> bool:
    value = obj.get(key)
    return default if value is None else as_bool(value)


def priority_of(obj: Obj) -> int | None:
    value = obj.get("Priority")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


class TenantRead:
    """Immutable view of one read of the tenant, indexed once."""

    def __init__(self, objects: Mapping[str, Sequence[Obj]]) -> None:
        self._objects = {kind: tuple(items) for kind, items in objects.items()}
        rules = self._objects.get(Kind.TRANSPORT_RULE.exchange_type, ())
        # sorted() is stable: rules without a usable priority keep their read order, last.
        self._rules = tuple(sorted(rules, key=lambda r: _sort_key(priority_of(r))))
        self._names: dict[str, dict[str, Obj]] = {}

    @classmethod
    def empty(cls) -> "TenantRead":
        return cls({})

    def refreshed(self, objects: Mapping[str, Sequence[Obj]]) -> "TenantRead":
        """This read with the types in `objects` replaced by a newer read of them."""
        return TenantRead({**self._objects, **objects})

    def of_type(self, exchange_type: str) -> tuple[Obj, ...]:
        return self._objects.get(exchange_type, ())

    def objects(self, kind: Kind) -> tuple[Obj, ...]:
        if kind is Kind.TRANSPORT_RULE:
            return self._rules
        return self.of_type(kind.exchange_type)

    def by_name(self, kind: Kind, name: str) -> Obj | None:
        index = self._names.get(kind.exchange_type)
        if index is None:
            index = {}
            for obj in self.objects(kind):
                index.setdefault(name_of(obj).casefold(), obj)
            self._names[kind.exchange_type] = index
        return index.get(name.casefold())

    def by_guid(self, kind: Kind, guid: str) -> Obj | None:
        for obj in self.objects(kind):
            if str(obj.get("Guid")) == guid:
                return obj
        return None

    def rules(self) -> tuple[Obj, ...]:
        """Transport rules in priority order (0, the highest, first)."""
        return self._rules

    def rule_names(self) -> list[str]:
        """Casefolded rule names in priority order."""
        return [name_of(rule).casefold() for rule in self._rules]

    def default_policy(self) -> Obj | None:
        return self.by_name(Kind.CONNECTION_FILTER_ALLOWLIST, DEFAULT_POLICY)

    def owner(self, kind: Kind, obj: Obj) -> str | None:
        """The integration named by the object's marker, or None for an unmarked object."""
        return owner(kind, obj)

    def marked(self, integration: str, kinds: Sequence[Kind]) -> Iterator[tuple[Kind, Obj]]:
        """Every object of `kinds` carrying `integration`'s marker."""
        for kind in kinds:
            for obj in self.objects(kind):
                if owner(kind, obj) == integration:
                    yield kind, obj

    def accepted_domains(self) -> tuple[Obj, ...]:
        """Get-AcceptedDomain's objects (DomainName, DomainType, Default, InitialDomain)."""
        return self.of_type(ACCEPTED_DOMAINS)

    def recipient(self, identity: str) -> Obj | None:
        """The directory entry the config's `identity` names (looked up at plan time): by one
        of its SMTP addresses, its name, alias or display name, ignoring case."""
        wanted = identity.strip().casefold()
        for entry in self.of_type(RECIPIENTS):
            keys = {str(entry.get(k) or "").casefold() for k in ("Name", "Alias", "DisplayName",
                                                                "PrimarySmtpAddress")}
            keys |= {str(a).casefold().removeprefix("smtp:") for a in entry.get("EmailAddresses") or ()}
            if wanted in keys:
                return entry
        return None

    def primary_address(self, identity: str) -> str:
        """The primary SMTP address Exchange stores for `identity`, or `identity` itself when
        the read found no entry for it (a plan check reports that)."""
        entry = self.recipient(identity)
        return str(entry.get("PrimarySmtpAddress") or identity) if entry else identity

    def raw(self) -> dict[str, list[dict[str, Any]]]:
        """The read as plain dicts (rules in priority order)."""
        out = {kind: [dict(o) for o in items] for kind, items in self._objects.items()}
        if self._rules:
            out[Kind.TRANSPORT_RULE.exchange_type] = [dict(r) for r in self._rules]
        return out


def recipients_call(identities: Sequence[str]) -> CmdletCall:
    """One Get-Recipient for every identity: an OPATH filter matching any of them by an SMTP
    address (primary or proxy) or by name, alias or display name."""
    clauses = []
    for identity in dict.fromkeys(i.strip() for i in identities):
        quoted = "'" + identity.replace("'", "''") + "'"
        props = ("EmailAddresses",) if "@" in identity else ("Name", "Alias", "DisplayName")
        clauses += [f"({prop} -eq {quoted})" for prop in props]
    return CmdletCall.of("Get-Recipient", {"Filter": " -or ".join(clauses), "ResultSize": "Unlimited"})


def read_tenant(provider: "Provider", identities: Sequence[str] = ()) -> TenantRead:
    """Every object of each read type, plus (one call) the directory entries the config names."""
    objects = provider.read(READ_TYPES)
    if identities:
        objects[RECIPIENTS] = provider.invoke(recipients_call(identities))
    return TenantRead(objects)


def _sort_key(priority: int | None) -> float:
    return float("inf") if priority is None else float(priority)
