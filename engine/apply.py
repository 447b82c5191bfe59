"""The apply executor: runs a plan's steps in order through the provider, saving the state
before each call (a pending record, so a crash is detectable) and after it (the result). On a
failure or an interrupt (polled only between steps) it undoes the completed steps in reverse,
re-reads the tenant, checks it matches the pre-apply snapshot and reports what is left.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import UNWRITABLE_STATE
from exoform.engine.errors import ConcurrentChangeError, ExoformError, ProviderError
from exoform.engine.interrupt import Interrupts
from exoform.engine.kinds import handler
from exoform.engine.model import Action, Address, Kind
from exoform.engine.outcome import ApplyResult, Leftover, LeftoverKind
from exoform.engine.plan import Plan, ResourceChange, Step
from exoform.engine.provider import READ_TYPES, Provider
from exoform.engine.planning.recheck import ROUTING_KINDS
from exoform.engine.read import Obj, TenantRead
from exoform.engine.reporter import Reporter
from exoform.engine.snapshot import compare_snapshots, others_changes, snapshot, without
from exoform.engine.state import Pending, State
from exoform.engine.statefile import StateStore

__all__ = ["ApplyResult", "Executor", "LiveCheck"]

# Given the tenant's routing objects read right before the plan's live step: why not to go on.
LiveCheck = Callable[[Mapping[str, Sequence[Obj]]], "str | None"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class _Run:
    """One apply in progress: the plan, the state as it moves, and what rollback needs."""

    plan: Plan
    state: State
    original: State  # the records before the apply (rollback restores them)
    before: dict[str, Any]  # the tenant's picture before the apply
    rollback: bool
    done: list[tuple[Step, list[dict[str, Any]]]] = field(default_factory=list)
    unsaved: ExoformError | None = None  # the state could not be written since this failure
    others: list[Leftover] = field(default_factory=list)  # changes by others seen before the live step

    @property
    def completed(self) -> tuple[int, ...]:
        return tuple(step.index for step, _ in self.done)


class Executor:
    """Runs one plan. `clock` is injectable so pending records are deterministic in tests;
    `interrupts` is the flag the CLI's signal handlers raise (polled between steps only)."""

    def __init__(
        self,
        provider: Provider,
        store: StateStore,
        reporter: Reporter | None = None,
        clock: Callable[[], str] = _now,
        interrupts: Interrupts | None = None,
        live_check: LiveCheck | None = None,
    ) -> None:
        self.provider = provider
        self.store = store
        self.reporter = reporter or Reporter()
        self.clock = clock
        self.interrupts = interrupts or Interrupts()
        self.live_check = live_check

    def apply(self, plan: Plan, state: State, *, rollback: bool = True,
              read: TenantRead | None = None) -> ApplyResult:
        """Run `plan`. `read` is the tenant as read just before (no prompt in between); without
        it the pre-apply snapshot that rollback is verified against is read here."""
        before = snapshot(read if read is not None else TenantRead(self.provider.read(READ_TYPES)))
        original = _settle_interrupted(plan, state)
        run = _Run(plan, self.store.save(_sync(plan, original)), original, before, rollback)
        for step in plan.steps:
            if self.interrupts.requested:  # a safe point: the last call's result is saved
                return self._stop(run, step.index)
            try:
                if step.index == plan.live_step:
                    self._recheck(run, step)
                self._run(run, step)
            except ProviderError as failure:
                error = failure.named(plan.object_name(step))
                self.reporter.step_failed(step, error)
                self._keep(run, run.state.with_pending(None))
                return self._failed(run, step.index, error)
            except ConcurrentChangeError as error:
                self.reporter.warning(f"stopped before step {step.index + 1}: {error}")
                return self._failed(run, step.index, error)
            except UNWRITABLE_STATE as error:
                # A state that cannot be written is a failed step: without it a crash would
                # leave calls nobody recorded. The call (if it ran) is undone with the others.
                self.reporter.step_failed(step, error)
                run.unsaved = error
                return self._failed(run, step.index, error)
        if self.interrupts.requested:  # during the last call: stop and undo like any other
            return self._stop(run, len(plan.steps))
        return ApplyResult(ok=True, state=run.state, completed=run.completed)

    def settle(self, plan: Plan, state: State) -> State:
        """A plan with nothing to do still settles an interrupted run's pending record."""
        return self.store.save(_sync(plan, _settle_interrupted(plan, state)))

    def _run(self, run: _Run, step: Step) -> None:
        total = len(run.plan.steps)
        change = run.plan.change(step.address)
        self.reporter.step_started(step, total)
        run.state = self.store.save(run.state.with_pending(self._pending(step)))
        result = self.provider.invoke(step.call)
        run.done.append((step, result))
        run.state = handler(step.address.kind).record(run.state, change, step.call, result).with_pending(None)
        run.state = self.store.save(run.state)
        self.reporter.step_done(step, total)

    def _recheck(self, run: _Run, step: Step) -> None:
        """One read round of the rules and connectors (and the allow list, for the rollback's
        picture), checked against the rest of the plan."""
        if self.live_check is None:
            return
        self.reporter.activity(f"Re-reading rules and connectors before step {step.index + 1} makes routing live")
        try:
            objects = self.provider.read(_RECHECKED)
        finally:
            self.reporter.activity(None)
        problem = self.live_check(objects)
        if problem:
            run.others = others_changes(run.before, snapshot(TenantRead(objects)), _names(run.plan), _entries(run.plan))
            raise ConcurrentChangeError(problem)

    def _keep(self, run: _Run, state: State) -> None:
        """Save `state` if the store can; else keep it in memory (the store retries with the
        next save) - a rollback goes on whether or not the state can be written."""
        run.state = state
        try:
            run.state = self.store.save(state)
            run.unsaved = None
        except UNWRITABLE_STATE as error:
            run.unsaved = error

    def _pending(self, step: Step, phase: str = "apply") -> Pending:
        add, remove = handler(step.address.kind).pending_entries(step.call)
        return Pending(step=step.index, address=str(step.address), operation=step.op.value,
                       cmdlet=step.call.name, identity=step.call.identity, started=self.clock(),
                       add=add, remove=remove, phase=phase)

    def _stop(self, run: _Run, index: int) -> ApplyResult:
        """Interrupted: report where exoform stopped, then fail like a step would (no error)."""
        total = len(run.plan.steps)
        where = f"before step {index + 1} of {total}" if index < total else f"after the last step ({total})"
        then = "; rolling back the completed steps" if run.rollback and run.done else ""
        self.reporter.warning(
            f"{self.interrupts.signal_name} received: stopped {where}, {len(run.done)} step(s) "
            f"completed and recorded in the state{then}."
        )
        return self._failed(run, index, None)

    def _failed(self, run: _Run, index: int, error: ExoformError | None) -> ApplyResult:
        stopped = self.interrupts.signal_name if error is None else None
        if not run.rollback:
            self._unsaved_warning(run)
            return ApplyResult(False, run.state, run.completed, index, error, rolled_back=False,
                               interrupted=stopped)
        problems = self._rollback(run)
        self._unsaved_warning(run)
        after = snapshot(TenantRead(self.provider.read(READ_TYPES)))
        leftovers = tuple(problems) + tuple(without(compare_snapshots(run.before, after), run.others))
        return ApplyResult(
            ok=False, state=run.state, completed=run.completed, failed_step=index, error=error,
            rolled_back=True, rollback_complete=not leftovers, leftovers=leftovers,
            interrupted=stopped,
        )

    def _rollback(self, run: _Run) -> list[Leftover]:
        """Undo completed steps in reverse; the state returns to its pre-apply records."""
        self.reporter.rollback_started(len(run.done))
        self.interrupts.begin_rollback()
        problems: list[Leftover] = []
        for step, result in reversed(run.done):
            if self.interrupts.stop_rollback:  # asked twice while rolling back: stop here
                signal = self.interrupts.signal_name
                problems.append(Leftover(LeftoverKind.ROLLBACK_STOPPED, step=step.index, signal=signal))
                self.reporter.warning(f"rollback stopped by {signal} before undoing step "
                                      f"{step.index + 1}; the tenant keeps a partial change.")
                break
            problem = self._undo(run, step, result)
            if problem is not None:
                problems.append(problem)
        for change in run.plan.changes:  # records `_sync` wrote without a call go back too
            if not run.plan.has_steps_for(change.address):
                run.state = _restore(run.state, run.original, change.address, [])
        for record in run.state.resources:  # e.g. a replacement's deposed twin the undo removed
            if record.address.is_deposed and run.original.get(record.address) is None:
                run.state = run.state.drop(record.address)
        self._keep(run, run.state.with_pending(None))
        return problems

    def _unsaved_warning(self, run: _Run) -> None:
        if run.unsaved is not None:
            self.reporter.warning(
                f"{run.unsaved}. The state written last may still name a call in flight or "
                "objects the rollback removed; once it can be written again, `exoform plan` "
                "reconciles it with the tenant (the markers on exoform's objects say what is ours).")

    def _undo(self, run: _Run, step: Step, result: list[dict[str, Any]]) -> Leftover | None:
        change = run.plan.change(step.address)
        undo = handler(step.address.kind).inverse(change, step.call, result)
        name = run.plan.object_name(step)
        description = f"undo step {step.index + 1}: {undo.name} '{name}'"
        try:
            self._keep(run, run.state.with_pending(self._pending(dataclasses.replace(step, call=undo), "rollback")))
            undone = self.provider.invoke(undo)
        except ProviderError as failure:
            error = failure.named(name)
            self.reporter.rollback_step(description, False, error)
            self._keep(run, run.state.with_pending(None))
            return Leftover(LeftoverKind.UNDO_FAILED, step=step.index, cmdlet=undo.name,
                            identity=name, error=str(error))
        self._keep(run, _restore(run.state, run.original, step.address, undone, undo).with_pending(None))
        self.reporter.rollback_step(description, True)
        return None


_RECHECKED = tuple(k.exchange_type for k in (*ROUTING_KINDS, Kind.CONNECTION_FILTER_ALLOWLIST))


def _names(plan: Plan) -> set[str]:
    return {c.exchange_name.casefold() for c in plan.changes}


def _entries(plan: Plan) -> set[str]:
    """The allow-list entries the plan's calls add or remove."""
    found: set[str] = set()
    for step in plan.steps:
        add, remove = handler(step.address.kind).pending_entries(step.call)
        found |= {e.casefold() for e in (*add, *remove)}
    return found


def _settle_interrupted(plan: Plan, state: State) -> State:
    """The pending record of an interrupted run has served its purpose once a plan was made
    from a fresh read: clear it, keeping what each kind learnt from it."""
    if state.pending is None:
        return state
    for change in plan.changes:
        state = handler(change.address.kind).settle(state, change)
    return state.with_pending(None)


def _sync(plan: Plan, state: State) -> State:
    """Bring state in line with what the plan found without a call: adopted objects are
    recorded, objects gone from the tenant and no longer wanted are forgotten."""
    for address in plan.forget:
        state = state.drop(address)
    for change in plan.changes:
        has_steps = plan.has_steps_for(change.address)
        if change.action is Action.DELETE and not has_steps:
            state = state.drop(change.address)  # nothing of ours left to remove
        elif change.adopted or (not has_steps and change.action in (Action.NOOP, Action.CREATE, Action.UPDATE)):
            if change.action is not Action.DELETE and change.after is not None:
                state = state.put(handler(change.address.kind).sync_record(_as_applied(change)))
    return state


def _as_applied(change: ResourceChange) -> ResourceChange:
    """A no-call change: the tenant already matches `after` (normalized), keep `after`."""
    if change.action is Action.NOOP:
        return dataclasses.replace(change, before=change.after)
    return change


def _restore(state: State, original: State, address: Address, result: list[dict[str, Any]],
             undo: CmdletCall | None = None) -> State:
    """The address's record as before the apply, with the Guid of the object that stands for it
    now: one an undo recreated keeps its new Guid, even while a later undo removes the
    replacement that was created first."""
    record = original.get(address)
    if record is None:
        return state.drop(address)
    current = state.get(address)
    removed = str(undo.args.get("Identity", "")) if undo is not None and undo.verb == "Remove" else ""
    if result and result[0].get("Guid"):
        guid: str | None = str(result[0]["Guid"])
    elif current is not None and current.guid not in (None, removed) \
            and current.exchange_name.casefold() == record.exchange_name.casefold():
        guid = current.guid
    else:
        guid = record.guid
    return state.put(dataclasses.replace(record, guid=guid))
