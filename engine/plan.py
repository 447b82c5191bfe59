"""Plan data: per-resource changes (what and why), the ordered executable steps, and the
diagnostics found while planning. Frozen; rendering and the apply executor only read it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.model import Action, Address, Attrs, attrs_dict


@dataclass(frozen=True)
class ResourceChange:
    address: Address
    action: Action
    exchange_name: str
    before: Attrs | None  # managed attributes as read from the tenant (None: absent)
    after: Attrs | None  # managed attributes as the config wants them (None: to delete)
    changed: tuple[str, ...]  # attribute names whose values differ (sorted)
    dependencies: tuple[Address, ...]
    reason: str
    guid: str | None = None
    before_priority: int | None = None  # transport rules: position before the apply
    adopted: bool = False  # found in the tenant with our marker, not yet in state
    list_add: tuple[str, ...] = ()  # allowlist entries to add
    list_remove: tuple[str, ...] = ()  # allowlist entries (exoform-owned) to remove
    owned_before: tuple[str, ...] = ()  # allowlist entries exoform owned before the apply

    @property
    def before_dict(self) -> dict[str, object]:
        return attrs_dict(self.before)

    @property
    def after_dict(self) -> dict[str, object]:
        return attrs_dict(self.after)


class StepOp(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ENABLE = "enable"
    DISABLE = "disable"


@dataclass(frozen=True)
class Step:
    """One tenant call, in execution order; `depends_on` holds earlier step indices."""

    index: int
    address: Address
    op: StepOp
    call: CmdletCall
    depends_on: tuple[int, ...]
    description: str


class Severity(str, Enum):
    ERROR = "error"  # blocks apply
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    address: str = ""
    # A stable ID (e.g. `loop:<object name>`) for findings an admin may acknowledge with
    # `--accept-risk ID`; an acknowledged error is kept as a warning with `accepted` set.
    id: str = ""
    accepted: bool = False


@dataclass(frozen=True)
class Plan:
    integration: str
    operation: str  # "apply" | "destroy"
    changes: tuple[ResourceChange, ...]  # sorted by address
    steps: tuple[Step, ...]  # in execution order
    diagnostics: tuple[Diagnostic, ...] = ()
    forget: tuple[Address, ...] = ()  # in state, gone from the tenant, not wanted
    state_lineage: str = ""
    state_serial: int = 0
    config_digest: str = ""
    provider: str = ""
    tenant: str = ""
    adopt: bool = False  # made with --adopt: unmarked objects with our names are taken over
    accepted_risks: tuple[str, ...] = ()  # --accept-risk IDs the plan was made with

    def change(self, address: Address) -> ResourceChange:
        for change in self.changes:
            if change.address == address:
                return change
        raise KeyError(str(address))

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def has_changes(self) -> bool:
        """True when applying would change the tenant or the state."""
        return bool(self.steps or self.forget) or any(
            c.action is not Action.NOOP or c.adopted for c in self.changes
        )

    def counts(self) -> dict[str, int]:
        """Terraform's summary: a replace counts as one add and one destroy."""
        add = sum(c.action in (Action.CREATE, Action.REPLACE) for c in self.changes)
        change = sum(c.action is Action.UPDATE for c in self.changes)
        destroy = sum(c.action in (Action.DELETE, Action.REPLACE) for c in self.changes)
        adopt = sum(c.adopted for c in self.changes)
        return {"add": add, "change": change, "destroy": destroy, "adopt": adopt}
