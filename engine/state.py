"""The state: what exoform owns in the tenant, as last applied or read. Pure data and its JSON
form (format_version, lineage, serial, resources, the pending operation of an interrupted
apply), and the upgrades of older formats. Reading, locking and writing live in `statefile`.
"""
from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from exoform import __version__
from exoform.engine.errors import Issue
from exoform.engine.model import Address, Attrs, freeze_attrs, json_attrs
from exoform.engine.provider import TenantIdentity

FORMAT_VERSION = 3
#: Version of the attribute layout of each resource kind, recorded per resource (format 2+) so
#: a later exoform can upgrade one kind's attributes without guessing (Terraform's schema_version).
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class StateResource:
    address: Address
    exchange_name: str
    guid: str | None
    attributes: Attrs
    dependencies: tuple[Address, ...] = ()
    owned_entries: tuple[str, ...] = ()  # allowlist entries exoform added (never the admin's)


@dataclass(frozen=True)
class Pending:
    """Written before each tenant call, cleared after its result is saved: a crash between the
    two leaves this record, so the next run knows the call's outcome is unknown."""

    step: int
    address: str
    operation: str
    cmdlet: str
    identity: str
    started: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    phase: str = "apply"  # "rollback" while undoing completed steps


@dataclass(frozen=True)
class State:
    integration: str
    lineage: str
    serial: int = 0
    resources: tuple[StateResource, ...] = ()
    pending: Pending | None = None
    # The tenant this state describes (format 3); None for a state not bound yet (a new one, or
    # one written before binding existed): the next write binds it.
    tenant: TenantIdentity | None = None
    # False for a state never written anywhere: its lineage is not pinned yet, so a plan made
    # from it records none (Terraform does the same).
    persisted: bool = True

    @classmethod
    def new(cls, integration: str) -> "State":
        return cls(integration=integration, lineage=str(uuid.uuid4()), persisted=False)

    def get(self, address: Address) -> StateResource | None:
        for resource in self.resources:
            if resource.address == address:
                return resource
        return None

    def put(self, resource: StateResource) -> "State":
        rest = [r for r in self.resources if r.address != resource.address]
        merged = tuple(sorted(rest + [resource], key=lambda r: r.address))
        return dataclasses.replace(self, resources=merged)

    def drop(self, address: Address) -> "State":
        rest = tuple(r for r in self.resources if r.address != address)
        return dataclasses.replace(self, resources=rest)

    def with_pending(self, pending: Pending | None) -> "State":
        return dataclasses.replace(self, pending=pending)

    def same_content(self, other: "State") -> bool:
        """Equal apart from the serial (Terraform bumps the serial only on a content change)."""
        def key(state: "State") -> "State":
            return dataclasses.replace(state, serial=0, persisted=True)

        return key(self) == key(other)


def to_json(state: State) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "exoform_version": __version__,
        "lineage": state.lineage,
        "serial": state.serial,
        "integration": state.integration,
        "tenant": dataclasses.asdict(state.tenant) if state.tenant else None,
        "pending": dataclasses.asdict(state.pending) if state.pending else None,
        "resources": [_resource_json(r) for r in state.resources],
    }


def _resource_json(resource: StateResource) -> dict[str, Any]:
    data: dict[str, Any] = {
        "address": str(resource.address),
        "schema_version": SCHEMA_VERSION,
        "exchange_name": resource.exchange_name,
        "guid": resource.guid,
        "attributes": json_attrs(resource.attributes),
        "dependencies": [str(d) for d in resource.dependencies],
    }
    if resource.owned_entries:
        data["owned_entries"] = list(resource.owned_entries)
    return data


def from_json(data: Mapping[str, Any]) -> State:
    """Build a State from schema-valid JSON of the current format (migrate first)."""
    pending = data.get("pending")
    tenant = data.get("tenant")
    return State(
        integration=data["integration"],
        lineage=data["lineage"],
        serial=int(data["serial"]),
        resources=tuple(
            sorted((_resource_from(r) for r in data["resources"]), key=lambda r: r.address)
        ),
        pending=_pending_from(pending) if pending else None,
        tenant=TenantIdentity(**tenant) if tenant else None,
    )


def _pending_from(data: Mapping[str, Any]) -> Pending:
    fields = dict(data)
    fields["add"] = tuple(fields.get("add") or ())
    fields["remove"] = tuple(fields.get("remove") or ())
    return Pending(**fields)


def _resource_from(data: Mapping[str, Any]) -> StateResource:
    return StateResource(
        address=Address.parse(data["address"]),
        exchange_name=data["exchange_name"],
        guid=data.get("guid"),
        attributes=freeze_attrs(data.get("attributes") or {}),
        dependencies=tuple(Address.parse(d) for d in data.get("dependencies") or ()),
        owned_entries=tuple(data.get("owned_entries") or ()),
    )


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Format 2 records which exoform wrote the file and each resource's schema_version.
    Defensive: it runs before schema validation, so it only touches what has the v1 shape."""
    upgraded = {**data, "format_version": 2}
    upgraded.setdefault("exoform_version", "unknown (format 1)")
    resources = data.get("resources")
    if isinstance(resources, list):
        upgraded["resources"] = [
            {**r, "schema_version": r.get("schema_version", 1)} if isinstance(r, dict) else r
            for r in resources
        ]
    return upgraded


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Format 3 binds a state to its tenant; a format 2 state is unbound until its next write."""
    return {**data, "format_version": 3, "tenant": None}


# Upgrades from older format versions: MIGRATIONS[n] turns format n into n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3}


def migrate(data: dict[str, Any]) -> tuple[dict[str, Any], list[Issue]]:
    """Bring a state document to FORMAT_VERSION; issues say why it cannot be read."""
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        return data, [Issue("format_version", "missing or not a positive integer")]
    if version > FORMAT_VERSION:
        return data, [
            Issue(
                "format_version",
                f"is {version}, newer than this exoform understands ({FORMAT_VERSION}); "
                "upgrade exoform — the file was left untouched",
            )
        ]
    while version < FORMAT_VERSION:
        data = MIGRATIONS[version](data)
        version = data["format_version"]
    return data, _newer_schemas(data)


def _newer_schemas(data: Mapping[str, Any]) -> list[Issue]:
    """A resource written by a newer exoform (higher schema_version) cannot be read safely."""
    resources = data.get("resources")
    return [
        Issue(f"resources[{i}].schema_version",
              f"is {r['schema_version']}, newer than this exoform understands ({SCHEMA_VERSION}); "
              "upgrade exoform — the file was left untouched")
        for i, r in enumerate(resources if isinstance(resources, list) else [])
        if isinstance(r, dict) and isinstance(r.get("schema_version"), int)
        and r["schema_version"] > SCHEMA_VERSION
    ]
