"""Plan data: per-resource changes (what and why), the ordered executable steps, and the
diagnostics found while planning. Frozen; rendering and the apply executor only read it.
Reasons are an enum and a rule move, an allow-list edit and a rule's state are typed fields:
the words for people live in the views, the file vocabulary in `planfile`.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.model import Action, Address, Attrs, Value, attrs_dict


class Reason(str, Enum):
    """Why a resource gets its action (Terraform's `ActionReason`, exoform's vocabulary)."""

    NOT_IN_TENANT = "not_in_tenant"
    DELETED_OUTSIDE = "deleted_outside"
    NOT_IN_CONFIG = "not_in_config"
    DESTROY = "destroy"
    DESTROY_BY_MARKER = "destroy_by_marker"  # not in the state: found by exoform's marker
    DEPOSED = "deposed"  # the old object of a replacement that created the new one first
    ORPHANED = "orphaned"  # exoform's own object (by its marker) that neither config nor state has
    CANNOT_UPDATE = "cannot_update"  # `requires_replace` names the attributes
    ROUTES_THROUGH_REPLACED = "routes_through_replaced"  # `reason_subject` names the target
    DRIFTED = "drifted"
    CONFIG_CHANGED = "config_changed"
    ADOPTED_BY_NAME = "adopted_by_name"
    ADOPTED_BY_MARKER = "adopted_by_marker"
    RULE_ORDER_DRIFTED = "rule_order_drifted"
    UP_TO_DATE = "up_to_date"
    ENTRIES_MERGED = "entries_merged"  # the gateway's ranges go into a shared list
    ENTRIES_DIFFER = "entries_differ"
    ENTRIES_REMOVED = "entries_removed"  # only exoform's own entries leave the shared list


@dataclass(frozen=True)
class Move:
    """A rule moving within the tenant's rule list: its priority now and after the plan."""

    before: int | None
    after: int | None = None  # set when the plan is scheduled (it depends on other steps)


@dataclass(frozen=True)
class EntryEdit:
    """An add/remove edit of entries in a list exoform shares with the admin (the allow list)."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    owned_before: tuple[str, ...] = ()  # entries exoform owned before the apply


@dataclass(frozen=True)
class Enablement:
    """Whether an object that can be switched on and off is on, before and after the plan."""

    before: bool | None  # None: the object does not exist yet
    after: bool | None  # None: the object is deleted
    # On because an admin switched it on outside exoform and the config does not say whether
    # it should be (rules.enabled absent): exoform leaves it as the admin set it.
    kept: bool = False

    @property
    def switches_on(self) -> bool:
        return self.after is True and self.before is not True

    @property
    def switches_off(self) -> bool:
        return self.after is False and self.before is True


@dataclass(frozen=True)
class ResourceChange:
    address: Address
    action: Action
    exchange_name: str
    before: Attrs | None  # managed attributes as read from the tenant (None: absent)
    after: Attrs | None  # managed attributes as the config wants them (None: to delete)
    changed: tuple[str, ...]  # attribute names whose values differ (sorted)
    dependencies: tuple[Address, ...]
    reason: Reason
    reason_subject: str = ""  # the object a reason refers to (e.g. the replaced connector)
    requires_replace: tuple[str, ...] = ()  # attributes that forced a replacement
    guid: str | None = None
    before_priority: int | None = None  # transport rules: position before the apply
    adopted: bool = False  # found in the tenant with our marker, not yet in state
    move: Move | None = None  # a rule that must move to keep exoform's block together
    edit: EntryEdit | None = None  # entries of a shared list (the allow list)
    enabled: Enablement | None = None  # rules: on/off before and after

    @property
    def before_dict(self) -> dict[str, Value]:
        return attrs_dict(self.before)

    @property
    def after_dict(self) -> dict[str, Value]:
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
class FlowOutcome:
    """One message class after the plan, as the mail-flow model traces it (values are the
    model's IDs: `inbound`, `scanned`...)."""

    message_class: str
    verdicts: tuple[str, ...]
    intended: str
    ok: bool


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
    flow: tuple[FlowOutcome, ...] = ()  # the mail-flow model's verdicts after the plan
    live_step: int | None = None  # the first step after which exoform's rules route or copy mail
    created: str = ""  # when the plan was made (RFC 3339, UTC); stamped by the operations layer

    def change(self, address: Address) -> ResourceChange:
        for change in self.changes:
            if change.address == address:
                return change
        raise KeyError(str(address))

    def object_name(self, step: Step) -> str:
        """The object a step acts on: a delete removes the object as it was (the new one of a
        replacement created first has the new name)."""
        change = self.change(step.address)
        if step.op is StepOp.DELETE and change.before:
            return str(change.before_dict.get("Name") or change.exchange_name)
        return change.exchange_name

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def has_changes(self) -> bool:
        """True when applying would change the tenant or the state."""
        return bool(self.steps or self.forget) or any(
            c.action is not Action.NOOP or c.adopted for c in self.changes
        )

    def has_steps_for(self, address: Address) -> bool:
        return any(step.address == address for step in self.steps)

    def counts(self) -> dict[str, int]:
        """Terraform's summary: a replace counts as one add and one destroy."""
        add = sum(c.action.creates for c in self.changes)
        change = sum(c.action is Action.UPDATE for c in self.changes)
        destroy = sum(c.action is Action.DELETE or c.action.is_replace for c in self.changes)
        adopt = sum(c.adopted for c in self.changes)
        return {"add": add, "change": change, "destroy": destroy, "adopt": adopt}
