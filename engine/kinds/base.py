"""The seam between the engine and one resource kind: a `KindHandler` owns how its objects are
observed in a tenant read, diffed, lowered to cmdlet calls, recorded in state, undone, imported
and checked for drift. The planner, the executor and the reports only call these hooks; no code
outside `engine/kinds/` asks which kind it holds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.drift import ResourceDrift
from exoform.engine.kinds.schema import KindSpec
from exoform.engine.messages import with_article
from exoform.engine.model import Action, Address, Kind, Resource
from exoform.engine.outcome import Leftover
from exoform.engine.plan import Diagnostic, ResourceChange, Severity, StepOp
from exoform.engine.read import TenantRead
from exoform.engine.state import State, StateResource

Result = list[dict[str, Any]]

# The phases of one resource in the plan's dependency graph (see engine/planning/order.py).
DESTROY = "destroy"
APPLY = "apply"
ENABLE = "enable"  # a rule's Enable- runs after everything it depends on is in place


@dataclass(frozen=True)
class EntryView:
    """A shared list as read: every entry, those this integration owns, those another exoform
    integration's marker says it added, and those another integration's objects still use."""

    present: tuple[str, ...] = ()
    owned: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()  # added by another exoform integration (its marker says so)
    needed: tuple[str, ...] = ()  # within a range another integration's marked objects use


@dataclass(frozen=True)
class Observed:
    """What the tenant holds for one address."""

    address: Address
    actual: Resource | None
    priority: int | None = None
    adopted: bool = False  # ours by marker, not yet in state
    unmarked: bool = False  # adopted by name alone (--adopt): it carries no marker yet
    entries: EntryView | None = None  # shared lists (the allow list)
    marked: bool = False  # the object carries this integration's marker
    by_marker: bool = False  # found by its marker alone (a destroy without a state record)


@dataclass(frozen=True)
class ObserveContext:
    """What observing needs besides the read: who we are and what the state knows."""

    integration: str
    state: State
    adopt: bool = False  # take over unmarked objects that hold a desired name
    creating: Mapping[Address, str] = field(default_factory=dict)  # interrupted New-: name


@dataclass(frozen=True)
class Conflict:
    """A desired name held by an object exoform may not take over."""

    address: Address
    name: str
    holder: str | None  # the integration whose marker it carries; None: no marker at all
    by_record: bool = False  # the state's recorded Guid names it, but it is not ours

    def diagnostic(self) -> Diagnostic:
        if self.by_record:
            return self._record_diagnostic()
        if self.holder:
            advice = ("exoform never takes over another integration's object: set gateway.name_prefix "
                      "to another prefix, or destroy that integration first.")
        else:
            advice = ("To take it over (e.g. it comes from the vendor's wizard or an earlier manual "
                      "install), run `exoform import` or plan/apply with --adopt: exoform then updates it "
                      "to match the configuration. Otherwise set gateway.name_prefix to another prefix.")
        held = f"integration '{self.holder}'" if self.holder else "no exoform integration (created by hand?)"
        return Diagnostic(
            Severity.ERROR, "name_conflict",
            f"the tenant already has {with_article(self.address.kind.exchange_type)} named '{self.name}', "
            f"owned by {held}. {advice}",
            str(self.address),
        )


    def _record_diagnostic(self) -> Diagnostic:
        held = f"carries integration '{self.holder}'s marker" if self.holder else "carries no exoform marker"
        return Diagnostic(
            Severity.ERROR, "foreign_record",
            f"the state records {self.address} by a Guid that names {self.address.kind.exchange_type} "
            f"'{self.name}', which {held}: it is not the object exoform made (a state from another "
            "tenant, or edited by hand?). exoform never changes or deletes it; forget the record with "
            f"`exoform state rm {self.address}` after checking the state file.",
            str(self.address),
        )


@dataclass(frozen=True)
class Observation:
    observed: Observed
    conflict: Conflict | None = None
    claimed: str | None = None  # Guid of the tenant object matched to the address


@dataclass(frozen=True)
class DiffOptions:
    # When the config does not say `rules.enabled` itself, a rule an admin enabled in the
    # Exchange admin center stays enabled (the seed lets admins enable rules there).
    keep_admin_enabled_rules: bool = True


@dataclass(frozen=True)
class PlanContext:
    """What a kind's planning hooks may read besides the changes: the read, who we are, the
    state, what was observed, what the config wants now and what it describes (a destroy plan
    wants nothing but still knows which ranges its config names)."""

    read: TenantRead
    integration: str
    state: State
    observed: Mapping[Address, Observed]
    desired: Mapping[Address, Resource]
    described: Mapping[Address, Resource]
    options: DiffOptions = DiffOptions()


class Lowering:
    """Turns one phase of one change into cmdlet calls, keeping whatever the kind must
    simulate while a plan is scheduled (e.g. the tenant's rule list)."""

    def __init__(self, handler: "KindHandler") -> None:
        self.handler = handler

    def calls(self, phase: str, change: ResourceChange) -> list[tuple[StepOp, CmdletCall]]:
        return self.handler.lower(phase, change)

    def fork(self) -> "Lowering":
        """An independent copy, for trying an order that may be given up (stateless: itself)."""
        return self


PhaseEdge = tuple[tuple[str, Address], tuple[str, Address]]


class KindHandler:
    """Behaviour of one resource kind. Subclasses override what differs."""

    schema: KindSpec
    #: Objects of this kind carry exoform's marker (strays are reported; destroy may find them).
    marked: bool = True

    @property
    def kind(self) -> Kind:
        return self.schema.kind

    # ---- reading the tenant -------------------------------------------------------------

    def observe(self, read: TenantRead, address: Address, want: Resource | None,
                ctx: ObserveContext) -> Observation:
        raise NotImplementedError

    def observe_object(self, address: Address, obj: Any, ctx: ObserveContext) -> Observed:
        """An object found by its marker alone (a destroy with a lost or partial state)."""
        raise NotImplementedError

    def implied(self, read: TenantRead, integration: str) -> tuple[Address, ...]:
        """Addresses of this kind the tenant's markers say the integration holds, beyond its
        marked objects (which `observe_all` finds itself): seen even when neither the config
        nor the state names them, so that a lost state still lets a plan remove them."""
        return ()

    # ---- planning ---------------------------------------------------------------------

    def diff(self, address: Address, want: Resource | None, seen: Observed,
             record: StateResource | None, options: DiffOptions) -> ResourceChange | None:
        raise NotImplementedError

    def checks(self, address: Address, change: ResourceChange | None,
               ctx: PlanContext) -> list[Diagnostic]:
        """Plan diagnostics only this kind can find (limits of its own lists...)."""
        return []

    def limits(self, read: TenantRead, changes: Mapping[Address, ResourceChange]) -> list[Diagnostic]:
        """Limits the service sets on how many objects of this kind a tenant may hold."""
        return []

    def enables(self, change: ResourceChange) -> bool:
        """The change switches an object on (it must then find its dependencies ready)."""
        return False

    def not_ready(self, attrs: Mapping[str, Any], dependent: ResourceChange) -> str | None:
        """Why an object with `attrs` cannot serve `dependent` once enabled, or None."""
        return None

    def phases(self, change: ResourceChange) -> list[str]:
        action = change.action
        if action is Action.DELETE:
            return [DESTROY]
        if action is Action.REPLACE:
            return [DESTROY, APPLY]
        if action is Action.CREATE_THEN_DELETE:
            return [APPLY, DESTROY]
        if action in (Action.CREATE, Action.UPDATE):
            return [APPLY]
        return []

    def ordering(self, changes: Mapping[Address, ResourceChange]) -> list[PhaseEdge]:
        """Orderings among this kind's own changes beyond their dependencies: (first, then)
        pairs of (phase, address); a pair naming a phase the plan lacks is ignored."""
        return []

    def arrange(self, changes: Mapping[Address, ResourceChange],
                ctx: PlanContext) -> dict[Address, ResourceChange]:
        """A planning pass of the kind's own over all changes (rules keep their block together)."""
        return dict(changes)

    def restore(self, change: ResourceChange) -> ResourceChange:
        """Typed fields a saved plan does not spell out, derived again from its attributes."""
        return change

    def lowering(self, read: TenantRead, changes: Mapping[Address, ResourceChange],
                 top: bool) -> Lowering:
        return Lowering(self)

    def lower(self, phase: str, change: ResourceChange) -> list[tuple[StepOp, CmdletCall]]:
        raise NotImplementedError

    def scheduled(self, change: ResourceChange, calls: Sequence[CmdletCall]) -> ResourceChange:
        """The change once its calls are known (a rule learns where it moves to)."""
        return change

    def describe(self, op: StepOp, change: ResourceChange) -> str:
        name = change.exchange_name
        if op is StepOp.DELETE and change.before:  # the old object (a replacement may be named anew)
            name = str(change.before_dict.get("Name") or name)
        return f"{op.value} {self.kind.exchange_type} '{name}'"

    # ---- applying -----------------------------------------------------------------------

    def pending_entries(self, call: CmdletCall) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Entries an in-flight call adds and removes (kept in the pending record)."""
        return (), ()

    def record(self, state: State, change: ResourceChange, call: CmdletCall,
               result: Result) -> State:
        raise NotImplementedError

    def inverse(self, change: ResourceChange, call: CmdletCall, result: Result) -> CmdletCall:
        raise NotImplementedError

    def sync_record(self, change: ResourceChange) -> StateResource:
        """The state record of an object that exists as `change.before` says (no call)."""
        attrs = change.before if change.before is not None else change.after
        return StateResource(change.address, change.exchange_name, change.guid, attrs or (),
                             change.dependencies)

    def settle(self, state: State, change: ResourceChange) -> State:
        """What an interrupted run's pending record taught the plan, folded into state."""
        return state

    # ---- importing and drift -------------------------------------------------------------

    def import_record(self, change: ResourceChange, claim: Sequence[str]) -> StateResource | None:
        return self.sync_record(change) if change.before is not None else None

    def same_record(self, had: StateResource, record: StateResource) -> bool:
        """The record already says what the tenant holds (compared as the diff compares)."""
        return (had.guid == record.guid and had.owned_entries == record.owned_entries
                and not self.schema.changed(dict(had.attributes), dict(record.attributes)))

    def drift(self, record: StateResource, seen: Observed) -> ResourceDrift | None:
        raise NotImplementedError

    def extra_drift(self, read: TenantRead, state: State,
                    observed: Mapping[Address, Observed]) -> list[ResourceDrift]:
        """Drift no single record shows (exoform's rule block split or reordered)."""
        return []

    # ---- verifying a rollback -------------------------------------------------------------

    def picture(self, read: TenantRead) -> Any:
        """A comparable picture of this kind's objects in the tenant."""
        raise NotImplementedError

    def compare(self, before: Any, after: Any) -> list[Leftover]:
        """Every difference between two pictures, as typed leftovers."""
        raise NotImplementedError
