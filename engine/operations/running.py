"""Applying: under the state lock, read the tenant, make the plan (or check a saved one), and
hand the caller an `ApplyRun` to show, confirm and then execute (or settle, when nothing in the
tenant needs to change). The lock is held until the run's block ends.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from exoform.engine.apply import Executor, LiveCheck
from exoform.engine.interrupt import Interrupts
from exoform.engine.operations.saved import plan_to_run
from exoform.engine.operations.session import PlanOptions, Session, mail_context
from exoform.engine.outcome import ApplyResult
from exoform.engine.plan import Plan
from exoform.engine.provider import Provider
from exoform.engine.planning.recheck import recheck
from exoform.engine.read import Obj, TenantRead
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
        executor = Executor(self.provider, self.session.store, self.session.reporter, interrupts=interrupts,
                            live_check=self._live_check())
        return executor.apply(self.plan, self.state, rollback=rollback,
                              read=None if reread else self.read)


    def _live_check(self) -> LiveCheck:
        context = mail_context(self.session.spec, self.read, self.plan.operation)

        def check(objects: Mapping[str, Sequence[Obj]]) -> str | None:
            found = recheck(context, self.plan, self.read, self.read.refreshed(objects))
            return found.message if found else None
        return check


@contextmanager
def applying(session: Session, options: PlanOptions, saved: Path | None = None) -> Iterator[ApplyRun]:
    """The run of a fresh plan (or of the saved plan at `saved`), under the state lock."""
    with session.connected() as provider, session.locked(f"exoform {options.operation}"):
        state = session.load_state()
        read = session.read(provider)
        yield ApplyRun(session, provider, state, read, plan_to_run(session, saved, state, read, options))
