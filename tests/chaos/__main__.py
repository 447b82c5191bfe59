"""`python -m tests.chaos`: the full chaos run (hundreds of SIGKILLs), printing the figures.

Examples: `python -m tests.chaos` (300 runs, sandbox and emulator, 2 workers, at most 30
minutes); `python -m tests.chaos --runs 40 --seed 7 --provider sandbox`; `--lose-state` deletes
the state at the kill moment; `--backend azurerm|postgres` keeps the state in a real Azurite or
PostgreSQL started for the run. Exit 1 if any run found a problem (the run's folder is kept
under $TMPDIR/exoform-chaos-failures).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from typing import Iterator

from support import servers

from .report import render, summary
from .run import run_chaos
from .runner import AZURE_ENV, POSTGRES_ENV
from .scenarios import KINDS


@contextlib.contextmanager
def backend_server(kind: str) -> Iterator[None]:
    """Start the server the backend needs and tell the workers where it is."""
    if kind == "azurerm":
        with servers.azurite() as azurite:
            os.environ[AZURE_ENV] = azurite.connection_string
            yield
    elif kind == "postgres":
        with servers.postgres() as postgres:
            os.environ[POSTGRES_ENV] = postgres.conninfo
            yield
    else:
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300, help="scenarios to run (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="seed; the same seed gives the same scenarios")
    parser.add_argument("--provider", choices=["sandbox", "emulator", "both"], default="both")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--workers", type=int, default=2, help="parallel worker processes (default 2)")
    parser.add_argument("--latency-ms", type=float, default=30, help="per-call latency of the tenant")
    parser.add_argument("--time-limit", type=float, default=1800, help="stop starting runs after this many seconds")
    parser.add_argument("--backend", choices=["local", "azurerm", "postgres"], default="local",
                        help="where the state lives (a real Azurite / PostgreSQL is started)")
    parser.add_argument("--lose-state", action="store_true",
                        help="delete the state at the kill moment (kill the run too in half the runs)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON too")
    args = parser.parse_args(argv)
    providers = ("sandbox", "emulator") if args.provider == "both" else (args.provider,)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    started = time.monotonic()
    with backend_server(args.backend):
        outcomes = run_chaos(args.seed, args.runs, providers, kinds=kinds, workers=args.workers,
                             latency_ms=args.latency_ms, time_limit=args.time_limit,
                             progress=lambda o: print("F" if o.problems else ".", end="", flush=True),
                             backend=args.backend, lose_state=args.lose_state)
    print()
    print(render(outcomes, time.monotonic() - started))
    if args.json:
        print(json.dumps(summary(outcomes), indent=2))
    return 1 if any(o.problems for o in outcomes) else 0


sys.exit(main())
