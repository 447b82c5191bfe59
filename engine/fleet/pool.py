"""Working on many tenants at once: a run's shared context (the manifest, the providers' links,
a reporter per tenant, progress) and a bounded pool that starts at most `concurrency` tenants at
a time, asks before each start whether to go on, and gives the rows back in the given order.
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol, Sequence

from exoform.engine.errors import AuthFailed, ExoformError, PermissionDenied, PlanError
from exoform.engine.fleet.links import FleetLinks, TenantLink
from exoform.engine.fleet.manifest import Manifest, Member
from exoform.engine.fleet.report import Result, TenantRow
from exoform.engine.fleet.state import FleetStores
from exoform.engine.operations.doctor import APP_ROLE, ROLE_FIX
from exoform.engine.operations.session import Session
from exoform.engine.reporter import Reporter

Work = Callable[[Session], TenantRow]


class Progress(Protocol):
    def wave(self, wave: str, count: int) -> None: ...

    def started(self, member: Member) -> None: ...

    def finished(self, row: TenantRow) -> None: ...


class Quiet:
    """Progress that shows nothing."""

    def wave(self, wave: str, count: int) -> None:
        pass

    def started(self, member: Member) -> None:
        pass

    def finished(self, row: TenantRow) -> None:
        pass


@dataclass
class FleetContext:
    """What every tenant of one fleet command shares."""

    manifest: Manifest
    links: FleetLinks
    concurrency: int = 8
    reporters: Callable[[str], Reporter] = lambda name: Reporter()
    progress: Progress = field(default_factory=Quiet)
    token_cache: bool = True
    clock: Callable[[], float] = time.monotonic
    processes: int = 1  # read-only commands: worker processes (see engine/fleet/forked.py)
    lock_timeout: float = 0.0  # seconds to wait for a tenant's state lock
    stores: FleetStores | None = None  # the run's state backends (made from the manifest)

    def __post_init__(self) -> None:
        if self.stores is None:
            self.stores = FleetStores(self.manifest)

    def session(self, member: Member) -> tuple[Session, TenantLink]:
        assert self.stores is not None
        link = self.links.tenant(member.name, member.spec.tenant)
        reporter = self.reporters(member.name)
        session = Session(member.spec, self.stores.store(member, reporter.warning), reporter, link,
                          token_cache=self.token_cache, lock_timeout=self.lock_timeout)
        return session, link

    def close(self) -> None:
        """The run is over: save the shared token cache, close connections and backends."""
        try:
            self.links.close()
        finally:
            if self.stores is not None:
                self.stores.close()

    def run(self, member: Member, work: Work) -> TenantRow:
        """`work` on the member's own session, timed; a user-facing error fails this tenant
        alone, with what an administrator must do when sign-in or a role is missing."""
        started = self.clock()
        session, link = self.session(member)
        try:
            row = work(session)
        except ExoformError as error:
            row = failed_row(member, error, link.consent_url())
        return replace(row, duration=round(self.clock() - started, 3), traffic=link.traffic())


def row(member: Member, result: Result, **fields: object) -> TenantRow:
    return TenantRow(member.name, member.wave, result, 0.0, **fields)  # type: ignore[arg-type]


def failed_row(member: Member, error: ExoformError, consent_url: str) -> TenantRow:
    fix = ""
    if isinstance(error, AuthFailed) and consent_url:
        fix = (f"if the app is not consented in this tenant, an administrator grants {APP_ROLE} at "
               f"{consent_url}; then {ROLE_FIX}")
    elif isinstance(error, PermissionDenied):
        fix = ROLE_FIX
    result = Result.REFUSED if isinstance(error, PlanError) else Result.FAILED
    return row(member, result, detail=" ".join(str(error).split()), fix=fix)


def not_run(member: Member, why: str) -> TenantRow:
    return row(member, Result.NOT_RUN, detail=why)


def run_members(ctx: FleetContext, members: Sequence[Member], work: Callable[[Member], TenantRow],
                go: Callable[[list[TenantRow]], bool] = lambda done: True, why: str = "") -> list[TenantRow]:
    """Each member's row, at most `ctx.concurrency` at once; `go(rows so far)` is asked before
    each start, and a member not started is `not_run` (with `why`)."""
    queue = list(members)
    done: dict[str, TenantRow] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(ctx.concurrency, len(queue))),
                            thread_name_prefix="exoform-fleet") as pool:
        running: dict[Future[TenantRow], Member] = {}
        while queue or running:
            while queue and len(running) < ctx.concurrency and go(list(done.values())):
                member = queue.pop(0)
                ctx.progress.started(member)
                running[pool.submit(work, member)] = member
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                result = future.result()
                done[running.pop(future).name] = result
                ctx.progress.finished(result)
    return [done.get(m.name) or not_run(m, why) for m in members]
