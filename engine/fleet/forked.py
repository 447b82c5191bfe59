"""Read-only fleet commands across processes: planning a thousand tenants is CPU-bound in one
Python process (one core, the GIL), so with `processes` > 1 the tenants are dealt round-robin to
forked workers, each with its own pool of threads; rows stream back over pipes to the parent,
which alone draws progress. POSIX only (fork); elsewhere, or for one tenant, one process does all.
"""
from __future__ import annotations

import multiprocessing
import signal
import threading
import traceback
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Sequence

from exoform.engine.fleet.manifest import Member
from exoform.engine.fleet.pool import FleetContext, run_members
from exoform.engine.fleet.report import TenantRow


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class _Forward:
    """A worker's progress: sent to the parent, which shows it (one message at a time: the
    worker's threads share the pipe, and a long row is more than one write)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    def send(self, message: tuple[str, object]) -> None:
        with self._lock:
            self._connection.send(message)

    def wave(self, wave: str, count: int) -> None:
        pass

    def started(self, member: Member) -> None:
        self.send(("started", member.name))

    def finished(self, row: TenantRow) -> None:
        self.send(("row", row))


def run_forked(ctx: FleetContext, members: Sequence[Member], work: Callable[[Member], TenantRow],
               processes: int) -> list[TenantRow]:
    """Each member's row, as `run_members` gives them, worked on by up to `processes` workers."""
    groups = [list(members[i::processes]) for i in range(processes)] if processes > 1 else []
    groups = [g for g in groups if g]
    if len(groups) < 2 or not can_fork():
        return run_members(ctx, members, work)
    context = multiprocessing.get_context("fork")
    share = max(1, -(-ctx.concurrency // len(groups)))
    workers: list[tuple[Any, Connection]] = []
    rows: dict[str, TenantRow] = {}
    try:
        for group in groups:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_worker, args=(ctx, group, work, send, share), daemon=True)
            process.start()
            send.close()
            workers.append((process, receive))
        _collect(ctx, {m.name: m for m in members}, [r for _, r in workers], rows)
    finally:
        for process, _ in workers:
            if process.is_alive():
                process.terminate()
            process.join()
    return [rows[m.name] for m in members]


def _worker(ctx: FleetContext, group: list[Member], work: Callable[[Member], TenantRow],
            connection: Connection, concurrency: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers itself
    forward = _Forward(connection)
    try:
        run_members(replace(ctx, concurrency=concurrency, progress=forward), group, work)
        ctx.close()  # its share of the token cache merged into the file, its own backend clients
        forward.send(("done", None))
    except BaseException:
        forward.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def _collect(ctx: FleetContext, members: dict[str, Member], connections: list[Connection],
             rows: dict[str, TenantRow]) -> None:
    open_ = list(connections)
    while open_:
        for connection in wait(open_):
            assert isinstance(connection, Connection)
            try:
                kind, value = connection.recv()
            except EOFError:
                raise RuntimeError("a fleet worker process ended before its tenants were done") from None
            if kind == "started":
                ctx.progress.started(members[value])
            elif kind == "row":
                rows[value.name] = value
                ctx.progress.finished(value)
            elif kind == "error":
                raise RuntimeError(f"a fleet worker process failed:\n{value}")
            else:
                open_.remove(connection)
