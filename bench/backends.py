"""Benchmark: what each state backend adds to a plan and an apply - lock, read, write and
release of one state (the size of a six-resource state), in milliseconds, against the local
files, a local Azurite and a local PostgreSQL (both started here, as the tests do). An apply
writes ~2 times per step (the pending record and the result), a plan reads once.

    python bench/backends.py [--repeat 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from tabulate import tabulate

from exoform.backends.base import Backend, Meta, StateKey
from exoform.backends.registry import open_backend
from exoform.engine.lock import new_info
from exoform.engine.spec import BackendSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support import servers  # noqa: E402  (the tests' real servers)

STATE = (b'{"resources": [' + b",".join([b'{"address": "transport_rule.x", "attributes": {"Name": "'
                                         + b"x" * 600 + b'"}}'] * 6) + b"]}")


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def measure(backend: Backend, repeat: int) -> dict[str, float]:
    """Median milliseconds of each operation over `repeat` lock-read-write-release rounds."""
    key = StateKey(str(uuid.uuid4()), "bench")
    times: dict[str, list[float]] = {"lock": [], "read": [], "write": [], "release": []}
    version: str | None = None
    for serial in range(1, repeat + 1):
        lease = None

        def lock() -> None:
            nonlocal lease
            lease = backend.acquire(key, new_info("bench"))
        times["lock"].append(_timed(lock))
        assert lease is not None
        stored = None

        def read() -> None:
            nonlocal stored
            stored = backend.read(key)
        times["read"].append(_timed(read))
        version = stored.version if stored is not None else None

        def write() -> None:
            nonlocal version
            version = backend.write(key, STATE, Meta("lineage", serial), expected=version, lease=lease)
        times["write"].append(_timed(write))
        times["release"].append(_timed(lease.release))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rows = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        azurite = stack.enter_context(servers.azurite())
        postgres = stack.enter_context(servers.postgres())
        os.environ["BENCH_AZURE"], os.environ["BENCH_PG"] = azurite.connection_string, postgres.conninfo
        specs = {
            "local": BackendSpec("local"),
            "azurerm (Azurite)": BackendSpec("azurerm", {"container": servers.CONTAINER, "lease_seconds": 60, "auth": {
                "method": "connection_string", "connection_string_env": "BENCH_AZURE"}}),
            "postgres": BackendSpec("postgres", {"conn_str_env": "BENCH_PG", "schema": "bench"}),
        }
        for name, spec in specs.items():
            backend = open_backend(spec, local_path=Path(folder) / "state" / "bench.json")
            measure(backend, 2)  # warm up: connections, tables
            figures = measure(backend, args.repeat)
            plan = figures["read"]
            apply = figures["lock"] + figures["read"] + 13 * figures["write"] + figures["release"]
            rows.append([name, *(round(figures[k], 2) for k in ("lock", "read", "write", "release")),
                         round(plan, 1), round(apply, 1)])
            backend.close()
    print(tabulate(rows, headers=["backend", "lock ms", "read ms", "write ms", "release ms",
                                  "plan adds ms", "6-step apply adds ms"], tablefmt="github"))
    print(f"\nmedians of {args.repeat} rounds; an apply of 6 steps writes 13 times "
          "(the pending record and the result of each step, and its start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
