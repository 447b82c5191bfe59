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

from exoform.engine.calls import inverse_call
from exoform.engine.errors import ExoformError, ProviderError
from exoform.engine.interrupt import Interrupts
from exoform.engine.model import Action, Address, Kind
from exoform.engine.plan import Plan, ResourceChange, Step
from exoform.engine.provider import READ_TYPES, Provider
from exoform.engine.record import record_call, sync_record
from exoform.engine.reporter import Reporter
from exoform.engine.snapshot import compare_snapshots, snapshot
from exoform.engine.state import Pending, State
from exoform.engine.statefile import StateStore


@dataclass(frozen=True)
class ApplyResult:
    ok: bool
    state: State
    completed: tuple[int, ...] = ()
    failed_step: int | None = None
    error: ExoformError | None = None
    rolled_back: bool = False
    rollback_complete: bool = True
    leftovers: tuple[str, ...] = field(default=())
    interrupted: str | None = None  # the signal that stopped the apply (e.g. "SIGINT")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
    ) -> None:
        self.provider = provider
        self.store = store
        self.reporter = reporter or Reporter()
        self.clock = clock
        self.interrupts = interrupts or Interrupts()

    def apply(
        self,
        plan: Plan,
        state: State,
        *,
        rollback: bool = True,
        read: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> ApplyResult:
        """Run `plan`. `read` is the tenant as read just before (no prompt in between); without
        it the pre-apply snapshot that rollback is verified against is read here."""
        before_snapshot = snapshot(self.provider.read(READ_TYPES) if read is None else read)
        original = _settle_interrupted(plan, state)
        state = self.store.save(_sync(plan, original))
        done: list[tuple[Step, list[dict[str, Any]]]] = []
        for step in plan.steps:
            if self.interrupts.requested:  # a safe point: the last call's result is saved
                return self._stop(plan, step.index, done, state, original, before_snapshot, rollback)
            change = plan.change(step.address)
            try:
                state, result = self._run(step, change, state, len(plan.steps))
            except ProviderError as error:
                self.reporter.step_failed(step, error)
                state = self.store.save(state.with_pending(None))
                return self._failed(plan, step.index, error, done, state, original, before_snapshot, rollback)
            done.append((step, result))
        if self.interrupts.requested:  # during the last call: stop and undo like any other
            return self._stop(plan, len(plan.steps), done, state, original, before_snapshot, rollback)
        return ApplyResult(ok=True, state=state, completed=tuple(s.index for s, _ in done))

    def settle(self, plan: Plan, state: State) -> State:
        """A plan with nothing to do still settles an interrupted run's pending record."""
        return self.store.save(_sync(plan, _settle_interrupted(plan, state)))

    def _run(
        self, step: Step, change: ResourceChange, state: State, total: int
    ) -> tuple[State, list[dict[str, Any]]]:
        self.reporter.step_started(step, total)
        state = self.store.save(state.with_pending(self._pending(step)))
        result = self.provider.invoke(step.call)
        state = record_call(state, change, step.call, result).with_pending(None)
        state = self.store.save(state)
        self.reporter.step_done(step, total)
        return state, result

    def _pending(self, step: Step, phase: str = "apply") -> Pending:
        edit = step.call.args.get("IPAllowList")
        return Pending(
            step=step.index,
            address=str(step.address),
            operation=step.op.value,
            cmdlet=step.call.name,
            identity=step.call.identity,
            started=self.clock(),
            add=tuple(getattr(edit, "add", ())),
            remove=tuple(getattr(edit, "remove", ())),
            phase=phase,
        )

    def _stop(
        self,
        plan: Plan,
        index: int,
        done: list[tuple[Step, list[dict[str, Any]]]],
        state: State,
        original: State,
        before_snapshot: dict[str, Any],
        rollback: bool,
    ) -> ApplyResult:
        """Interrupted: report where exoform stopped, then fail like a step would (no error)."""
        total = len(plan.steps)
        where = f"before step {index + 1} of {total}" if index < total else f"after the last step ({total})"
        then = "; rolling back the completed steps" if rollback and done else ""
        self.reporter.warning(
            f"{self.interrupts.signal_name} received: stopped {where}, {len(done)} step(s) "
            f"completed and recorded in the state{then}."
        )
        return self._failed(plan, index, None, done, state, original, before_snapshot, rollback)

    def _failed(
        self,
        plan: Plan,
        index: int,
        error: ProviderError | None,
        done: list[tuple[Step, list[dict[str, Any]]]],
        state: State,
        original: State,
        before_snapshot: dict[str, Any],
        rollback: bool,
    ) -> ApplyResult:
        completed = tuple(s.index for s, _ in done)
        stopped = self.interrupts.signal_name if error is None else None
        if not rollback:
            return ApplyResult(False, state, completed, index, error, rolled_back=False,
                               interrupted=stopped)
        state, problems = self._rollback(plan, done, state, original)
        after = snapshot(self.provider.read(READ_TYPES))
        leftovers = tuple(problems) + tuple(compare_snapshots(before_snapshot, after))
        return ApplyResult(
            ok=False, state=state, completed=completed, failed_step=index, error=error,
            rolled_back=True, rollback_complete=not leftovers, leftovers=leftovers,
            interrupted=stopped,
        )

    def _rollback(
        self,
        plan: Plan,
        done: list[tuple[Step, list[dict[str, Any]]]],
        state: State,
        original: State,
    ) -> tuple[State, list[str]]:
        """Undo completed steps in reverse; the state returns to its pre-apply records."""
        self.reporter.rollback_started(len(done))
        self.interrupts.begin_rollback()
        problems: list[str] = []
        for step, result in reversed(done):
            if self.interrupts.stop_rollback:  # asked twice while rolling back: stop here
                problems.append(f"rollback stopped by {self.interrupts.signal_name} before undoing "
                                f"step {step.index + 1}")
                self.reporter.warning(f"{problems[-1]}; the tenant keeps a partial change.")
                break
            change = plan.change(step.address)
            undo = inverse_call(step.address.kind, step.call, change.before_dict, change.before_priority, result)
            description = f"undo step {step.index + 1}: {undo.name} '{undo.identity}'"
            try:
                state = self.store.save(state.with_pending(self._pending(dataclasses.replace(step, call=undo), "rollback")))
                undone = self.provider.invoke(undo)
            except ProviderError as error:
                self.reporter.rollback_step(description, False, error)
                problems.append(f"{description} failed: {error}")
                state = self.store.save(state.with_pending(None))
                continue
            state = self.store.save(_restore(state, original, step.address, undone).with_pending(None))
            self.reporter.rollback_step(description, True)
        for change in plan.changes:  # records `_sync` wrote without a call go back too
            if not any(s.address == change.address for s in plan.steps):
                state = _restore(state, original, change.address, [])
        return self.store.save(state), problems


def _settle_interrupted(plan: Plan, state: State) -> State:
    """The pending record of an interrupted run has served its purpose once a plan was made
    from a fresh read: clear it, and keep what it told about allow-list entries that run added
    (the plan's `owned_before`), or they would be forgotten and never removed."""
    if state.pending is None:
        return state
    for change in plan.changes:
        if change.address.kind is not Kind.CONNECTION_FILTER_ALLOWLIST or change.before is None:
            continue
        record = state.get(change.address)
        if set(record.owned_entries if record else ()) != set(change.owned_before):
            base = record or sync_record(change)
            state = state.put(dataclasses.replace(base, owned_entries=tuple(sorted(change.owned_before))))
    return state.with_pending(None)


def _sync(plan: Plan, state: State) -> State:
    """Bring state in line with what the plan found without a call: adopted objects are
    recorded, objects gone from the tenant and no longer wanted are forgotten."""
    for address in plan.forget:
        state = state.drop(address)
    for change in plan.changes:
        has_steps = any(s.address == change.address for s in plan.steps)
        if change.action is Action.DELETE and not has_steps:
            state = state.drop(change.address)  # nothing of ours left to remove
        elif change.adopted or (not has_steps and change.action in (Action.NOOP, Action.CREATE, Action.UPDATE)):
            if change.action is not Action.DELETE and change.after is not None:
                state = state.put(sync_record(_as_applied(change)))
    return state


def _as_applied(change: ResourceChange) -> ResourceChange:
    """A no-call change: the tenant already matches `after` (normalized), keep `after`."""
    if change.action is Action.NOOP:
        return dataclasses.replace(change, before=change.after)
    return change


def _restore(state: State, original: State, address: Address, result: list[dict[str, Any]]) -> State:
    record = original.get(address)
    if record is None:
        return state.drop(address)
    guid = str(result[0]["Guid"]) if result and result[0].get("Guid") else record.guid
    return state.put(dataclasses.replace(record, guid=guid))
