"""Applying: under the state lock, read the tenant, make the plan (or check a saved one), and
hand the caller an `ApplyRun` to show, confirm and then execute (or settle, when nothing in the
tenant needs to change). The lock is held until the run's block ends.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from exoform.engine.apply import Executor
from exoform.engine.interrupt import Interrupts
from exoform.engine.operations.saved import checked_saved_plan
from exoform.engine.operations.session import PlanOptions, Session
from exoform.engine.outcome import ApplyResult
from exoform.engine.plan import Plan
from exoform.engine.provider import Provider
from exoform.engine.read import TenantRead
from exoform.engine.state import State


@dataclass
class ApplyRun:
    """A plan ready to run, with the provider, state and read it was made from."""

    session: Session
    provider: Provider
    state: State
    read: TenantRead
    plan: Plan

    def settle(self) -> State:
        """Nothing to change in the tenant, but state still records what was just read (like
        Terraform's refresh on apply): an interrupted call's pending record is settled, a rule
        the admin enabled is recorded as enabled. Written only if something differs."""
        return Executor(self.provider, self.session.store, self.session.reporter).settle(self.plan, self.state)

    def execute(self, *, rollback: bool, interrupts: Interrupts, reread: bool) -> ApplyResult:
        """Run the plan. `reread`: a person took time to answer a prompt since the read, so the
        pre-apply snapshot rollback is verified against is read again."""
        executor = Executor(self.provider, self.session.store, self.session.reporter, interrupts=interrupts)
        return executor.apply(self.plan, self.state, rollback=rollback,
                              read=None if reread else self.read)


@contextmanager
def applying(session: Session, options: PlanOptions, saved: Path | None = None) -> Iterator[ApplyRun]:
    """The run of a fresh plan (or of the saved plan at `saved`), under the state lock."""
    with session.connected() as provider, session.locked(f"exoform {options.operation}"):
        state = session.load_state()
        read = session.read(provider)
        if saved is not None:
            plan = checked_saved_plan(session, saved, state, read)
        else:
            plan = session.make_plan(read, state, options)
        yield ApplyRun(session, provider, state, read, plan)
