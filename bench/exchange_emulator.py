"""Benchmark: `exoform plan` and `apply` through the exchange_online provider against the HTTPS
emulator with 50 ms added to every Admin API request, on tenants holding 0, 50 and 300 transport
rules. Per run: Admin API calls (Get- reads / writes, as the emulator counted them), token
requests, wall time, the lower bound (rounds of calls that must run one after another x latency)
and wall / bound, plus the same plan at 0 ms latency ("engine time").

    python bench/exchange_emulator.py [--latency-ms 50] [--repeat 3]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from exoform.cli import main
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.emulator.server import Emulator
from exoform.providers.faults import FaultPlan

CONFIG: dict[str, Any] = {
    "integration": "bench",
    "gateway": {"ip_ranges": ["203.0.113.0/24", "198.51.100.0/24"], "tenant_info": "bench"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
READ_KINDS = 4  # Get-InboundConnector, -OutboundConnector, -TransportRule, -HostedConnectionFilterPolicy
OUR_RULES = 3
MAX_RULES = 300  # Exchange Online's limit per tenant
# Both emulators of a size share these, so one state file serves either endpoint.
TENANT_ID = "8d3f6a8e-6b3c-4d7e-9a51-2f0c1b7e4a10"
CLIENT_ID = "0b5d1f7c-3a2e-4c8b-9f6d-7e1a2b3c4d5e"
SECRET = "bench~secret"


@dataclass(frozen=True)
class Run:
    """One measured command."""

    label: str
    rules: int  # transport rules in the tenant when the command started
    reads: int
    writes: int
    tokens: int
    wall: float  # seconds
    rounds: int  # calls that must happen one after another (a concurrent read round is one)
    latency: float  # seconds added to each Admin API request in this run
    changes: int = 0


def admin_rules(count: int) -> list[dict[str, Any]]:
    return [{"Name": f"Admin rule {i:03}", "Priority": i, "SetHeaderName": f"X-Rule-{i}",
             "SetHeaderValue": "1", "SentToScope": "InOrganization"} for i in range(count)]


@contextlib.contextmanager
def emulators(tenant: Path, latency_ms: float) -> Iterator[tuple[Emulator, Emulator]]:
    """A slow emulator (the measured one) and a 0-latency one, serving the same tenant file."""
    slow, fast = (Emulator(tenant, Conditions(latency_ms=ms), faults=FaultPlan(), tenant_id=TENANT_ID,
                           client_id=CLIENT_ID, client_secret=SECRET) for ms in (latency_ms, 0.0))
    with slow, fast:
        yield slow, fast


def exoform(root: Path, emulator: Emulator, *argv: str) -> tuple[int, float, int, int, int]:
    """Run the CLI in-process (a fresh provider and token source, as a new process would have);
    returns exit code, wall seconds, Get- calls, other calls and token requests it caused."""
    config = {**CONFIG, "tenant": emulator.tenant_options("secret")}
    (root / "exoform.json").write_text(json.dumps(config), encoding="utf-8")
    before = emulator.stats
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = main([*argv, "-c", str(root / "exoform.json"), "--state", str(root / "state.json")])
    wall = time.perf_counter() - start
    after = emulator.stats
    calls = {k: v - before.invoke_calls.get(k, 0) for k, v in after.invoke_calls.items()}
    reads = sum(v for k, v in calls.items() if k.startswith("Get-"))
    if code not in (0, 2):
        raise SystemExit(f"exoform {' '.join(argv)} failed ({code}):\n{sink.getvalue()}")
    return code, wall, reads, sum(calls.values()) - reads, after.token_requests - before.token_requests


def measure_plan(root: Path, emulator: Emulator, label: str, rules: int, repeat: int) -> Run:
    """The median plan; its bound is one round: the four reads run concurrently."""
    samples = [exoform(root, emulator, "plan", "--detailed-exitcode") for _ in range(repeat)]
    _, _, reads, writes, _ = samples[0]
    wall = statistics.median(s[1] for s in samples)
    return Run(label, rules, reads, writes, sum(s[4] for s in samples), wall, rounds=1,
               latency=emulator.conditions.latency_ms / 1000)


def measure_apply(root: Path, emulator: Emulator, reset: Emulator, label: str, rules: int,
                  repeat: int, *, keep_last: bool) -> Run:
    """Apply on `emulator`, destroying through `reset` (unmeasured) before the next try;
    with `keep_last` the last apply stays, so the tenant then holds our rules too."""
    samples = []
    for attempt in range(repeat):
        samples.append(exoform(root, emulator, "apply", "--auto-approve"))
        if attempt < repeat - 1 or not keep_last:
            exoform(root, reset, "destroy", "--auto-approve")
    _, _, reads, writes, _ = samples[-1]
    wall = statistics.median(s[1] for s in samples)
    # Needed: one concurrent read round to plan, then every change in turn.
    return Run(label, rules, reads, writes, sum(s[4] for s in samples), wall,
               rounds=1 + writes, latency=emulator.conditions.latency_ms / 1000, changes=writes)


def bench_size(held: int, latency_ms: float, repeat: int) -> list[Run]:
    """Runs on a tenant holding `held` rules; 300 is reached by applying ours onto 297."""
    unmanaged = min(held, MAX_RULES - OUR_RULES)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["EXOFORM_CACHE_DIR"] = str(root / "token-cache")
        os.environ["EXOFORM_EMULATOR_SECRET"] = SECRET
        tenant = root / "tenant.json"
        tenant.write_text(json.dumps({"TransportRule": admin_rules(unmanaged)}), encoding="utf-8")
        with emulators(tenant, latency_ms) as (slow, fast):
            exoform(root, fast, "plan")  # its sign-in, so engine time is warm like the rest
            runs = [measure_plan(root, slow, "plan, cold token cache", unmanaged, 1),
                    measure_plan(root, slow, "plan, warm token cache", unmanaged, repeat),
                    measure_plan(root, fast, "plan at 0 ms latency (engine time)", unmanaged, repeat),
                    measure_apply(root, fast, fast, "apply at 0 ms latency (engine time)",
                                  unmanaged, repeat, keep_last=False),
                    measure_apply(root, slow, fast, "apply", unmanaged, repeat, keep_last=True)]
            runs.append(measure_plan(root, slow, "plan after apply (no changes)",
                                     unmanaged + OUR_RULES, repeat))
    return runs


def table(runs: list[Run]) -> str:
    header = ("tenant rules", "command", "Get- calls", "writes", "token requests", "wall ms",
              "bound ms", "wall / bound")
    rows = [header]
    for run in runs:
        bound = run.rounds * run.latency
        ratio = f"{run.wall / bound:.2f}" if bound else "-"
        rows.append((str(run.rules), run.label, str(run.reads), str(run.writes), str(run.tokens),
                     f"{run.wall * 1000:.0f}", f"{bound * 1000:.0f}" if bound else "-", ratio))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdicts(runs: list[Run], latency: float) -> list[str]:
    """The issue's targets, checked."""
    plans = [r for r in runs if r.label.startswith("plan") and "0 ms" not in r.label]
    engine = next(r.wall for r in runs if r.label.startswith("plan at 0 ms"))
    apply = next(r for r in runs if r.label == "apply")
    cold, warm = runs[0], [r for r in runs[1:] if "0 ms" not in r.label]
    checks = [
        ("plan makes 4 calls", all(r.reads == READ_KINDS and r.writes == 0 for r in plans)),
        (f"plan wall < 2 x latency + engine time ({(2 * latency + engine) * 1000:.0f} ms)",
         all(r.wall < 2 * latency + engine for r in plans if r.label != cold.label)),
        (f"apply writes == changes ({apply.changes})", apply.writes == apply.changes),
        ("one token request in a cold process", cold.tokens <= 1),
        ("no token request with a warm cache", all(r.tokens == 0 for r in warm)),
    ]
    return [f"  [{'ok' if ok else 'MISSED'}] {text}" for text, ok in checks]


def apply_note(runs: list[Run], latency: float) -> str:
    apply = next(r for r in runs if r.label == "apply")
    engine = next(r.wall for r in runs if r.label.startswith("apply at 0 ms"))
    extra = apply.reads - READ_KINDS
    made = apply.reads // READ_KINDS + apply.writes
    snapshot = ("the executor reuses the plan's read as its pre-apply snapshot" if extra == 0
                else f"{extra} more for the executor's pre-apply snapshot")
    return (f"apply: {apply.writes} writes for {apply.changes} changes; {apply.reads} reads = "
            f"{READ_KINDS} to plan, {snapshot}.\nWall "
            f"{apply.wall * 1000:.0f} ms = engine {engine * 1000:.0f} ms + "
            f"{(apply.wall - engine) / latency:.1f} x latency: {made} sequential rounds made, "
            f"{made - apply.rounds} more than needed.")


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=3, help="median over this many runs")
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    print(f"exoform against the Exchange Online emulator, {args.latency_ms:g} ms added to each "
          f"Admin API request.\nWall = median of {args.repeat} in-process CLI runs (no Python "
          "start-up). 'Engine time' = the same command at 0 ms;\nit includes the emulator's own "
          "work (same process; it rewrites the tenant file on every write).\nThe 300-rule tenant "
          "starts with 297 admin rules (Exchange allows 300, so our 3 must fit);\nits 'plan after "
          "apply' row is the plan on the full 300.\n")
    for held in (0, 50, MAX_RULES):
        runs = bench_size(held, args.latency_ms, args.repeat)
        print(f"== tenant holding {held} transport rules ==")
        print(table(runs))
        print(apply_note(runs, latency))
        print("\n".join(verdicts(runs, latency)) + "\n")


if __name__ == "__main__":
    main_bench()
