"""Benchmark: `exoform fleet plan` and `fleet apply` for 10, 100 and 1,000 tenants against the
multi-tenant emulator (`exoform emulator serve --tenants-dir`, its own process) with 100 ms added
to every Admin API request. Each measured command runs in a fresh process (its peak memory is its
own). Per run: wall time, Admin API calls per tenant (reads per kind, writes), token requests,
peak memory, CPU seconds of the CLI and of the emulator, the machine's load, and wall / lower
bound, the bound being tenants / concurrency x sequential rounds x latency (a round: up to
--calls-per-tenant reads at once, or one write).

    python bench/fleet.py [--sizes 10,100,1000] [--latency-ms 100] [--concurrency 64]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READ_KINDS = 5  # Get-InboundConnector, -OutboundConnector, -TransportRule, -HostedConnectionFilterPolicy, -AcceptedDomain
SECRET = "bench~fleet-secret"
GATEWAY = {"ip_ranges": ["203.0.113.0/24", "198.51.100.0/24"], "tenant_info": {"env": "BENCH_TENANT_INFO"}}
PROTECTION = {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}}


@dataclass(frozen=True)
class Run:
    label: str
    tenants: int
    wall: float
    peak_mb: float  # the CLI process
    worker_mb: float  # its largest worker process (0 without --processes)
    cpu: float  # CPU seconds of the CLI and its workers
    emulator_cpu: float  # CPU seconds the emulator spent meanwhile
    load: float  # the machine's 1-minute load average when the run ended (other work competes)
    reads: dict[str, float]  # per kind, per tenant (mean)
    writes: float  # per tenant (mean)
    tokens: int  # token requests in all
    rounds: int  # sequential rounds one tenant needs
    bound: float  # seconds
    code: int


def child(out: str, argv: list[str]) -> None:
    """Run the CLI in this process; write its exit code, wall time and peak memory to `out`."""
    from exoform.cli import main

    started = time.perf_counter()
    code = main(argv)
    wall = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker processes
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    Path(out).write_text(json.dumps({"code": code, "wall": wall, "peak_kb": peak_kb, "cpu": cpu,
                                     "worker_kb": children.ru_maxrss}), encoding="utf-8")


def write_tenants(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        name = f"t{i:04}"
        document = {"tenant_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"bench.{name}")),
                    "organization": f"{name}.onmicrosoft.com", "accepted_domains": [f"{name}.example"]}
        (folder / f"{name}.tenant.json").write_text(json.dumps(document), encoding="utf-8")


def start_emulator(root: Path, latency_ms: float) -> subprocess.Popen[str]:
    env = {**os.environ, "EXOFORM_EMULATOR_SECRET": SECRET}
    return subprocess.Popen(
        [sys.executable, "-m", "exoform", "emulator", "serve", "--tenants-dir", str(root / "tenants"),
         "--port", "0", "--workdir", str(root / "emulator"), "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE, text=True, env=env)


def announced(process: subprocess.Popen[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The manifest's defaults.tenant and tenants as `emulator serve --tenants-dir` prints them."""
    assert process.stdout is not None
    sections: dict[str, str] = {}
    current = ""
    for line in process.stdout:
        if line.startswith("Press Ctrl-C"):
            break
        if line.startswith("Fleet manifest"):
            current = "defaults" if '"defaults"' in line else "tenants"
            sections[current] = ""
        elif current:
            sections[current] += line
    return json.loads(sections["defaults"]), json.loads(sections["tenants"])


def stats(defaults: dict[str, Any]) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=defaults["ca_bundle"])
    with urllib.request.urlopen(f"{defaults['endpoint']}/_emulator/stats", context=context) as reply:
        return dict(json.loads(reply.read()))


def process_cpu(pid: int) -> float:
    """CPU seconds of a running process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(root: Path, defaults: dict[str, Any], label: str, argv: list[str], *, rounds_of: Any,
            concurrency: int, latency: float, count: int, emulator: int, processes: int = 1) -> Run:
    before = stats(defaults)
    emulator_before = process_cpu(emulator)
    out = root / "child.json"
    env = {**os.environ, "EXOFORM_EMULATOR_SECRET": SECRET, "BENCH_TENANT_INFO": "bench-info",
           "EXOFORM_CACHE_DIR": str(root / "token-cache")}
    subprocess.run([sys.executable, __file__, "--child", str(out), "--", "fleet", *argv, "-f",
                    str(root / "fleet.json"), "--json", "--concurrency", str(concurrency),
                    *(["--processes", str(processes)] if processes > 1 else [])],
                   env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = json.loads(out.read_text(encoding="utf-8"))
    after = stats(defaults)
    emulator_cpu = process_cpu(emulator) - emulator_before
    reads: dict[str, float] = {}
    writes = tokens = 0
    for name, now in after.items():
        was = before[name]
        tokens += now["token_requests"] - was["token_requests"]
        for cmdlet, calls in now["invoke_calls"].items():
            delta = calls - was["invoke_calls"].get(cmdlet, 0)
            if cmdlet.startswith("Get-"):
                reads[cmdlet] = reads.get(cmdlet, 0) + delta / count
            else:
                writes += delta
    rounds = rounds_of(writes / count)
    bound = math.ceil(count / concurrency) * rounds * latency
    return Run(label, count, result["wall"], result["peak_kb"] / 1024, result["worker_kb"] / 1024,
               result["cpu"], emulator_cpu, os.getloadavg()[0], reads, writes / count, tokens, rounds, bound,
               result["code"])


def bench_size(count: int, latency_ms: float, concurrency: int, calls: int, processes: int) -> list[Run]:
    latency = latency_ms / 1000
    read_rounds = math.ceil(READ_KINDS / calls)
    with tempfile.TemporaryDirectory(prefix="exoform-bench-fleet-") as tmp:
        root = Path(tmp)
        write_tenants(root / "tenants", count)
        process = start_emulator(root, latency_ms)
        try:
            defaults, members = announced(process)
            manifest = {"fleet": "bench", "defaults": {"tenant": defaults, "gateway": GATEWAY,
                                                       "protection": PROTECTION},
                        "tenants": [{**m, "wave": "canary" if i < max(1, count // 100) else "broad"}
                                    for i, m in enumerate(members)]}
            (root / "fleet.json").write_text(json.dumps(manifest), encoding="utf-8")
            common = {"concurrency": concurrency, "latency": latency, "count": count, "emulator": process.pid}
            plan = lambda writes: read_rounds  # noqa: E731
            apply = lambda writes: read_rounds + round(writes)  # noqa: E731
            many = {"processes": processes}
            runs = [measure(root, defaults, f"plan, cold token cache, {processes} processes", ["plan"],
                            rounds_of=plan, **common, **many),
                    measure(root, defaults, f"plan, warm token cache, {processes} processes", ["plan"],
                            rounds_of=plan, **common, **many),
                    measure(root, defaults, "plan, warm token cache, 1 process", ["plan"], rounds_of=plan, **common),
                    measure(root, defaults, "apply (1 process)", ["apply", "--auto-approve"], rounds_of=apply, **common),
                    measure(root, defaults, f"plan after apply (no changes), {processes} processes", ["plan"],
                            rounds_of=plan, **common, **many)]
            return runs
        finally:
            process.terminate()
            process.wait(timeout=30)


def table(runs: list[Run]) -> str:
    header = ("tenants", "command", "wall s", "bound s", "wall/bound", "reads/tenant (per kind)",
              "writes/tenant", "token requests", "peak MB (CLI/worker)", "CPU s (CLI+emulator)", "load", "exit")
    rows = [header]
    for run in runs:
        kinds = sorted(set(round(v, 2) for v in run.reads.values()))
        per_kind = f"{sum(run.reads.values()):g} ({'/'.join(f'{k:g}' for k in kinds)} each)"
        rows.append((str(run.tenants), run.label, f"{run.wall:.1f}", f"{run.bound:.1f}",
                     f"{run.wall / run.bound:.2f}", per_kind, f"{run.writes:g}", str(run.tokens),
                     f"{run.peak_mb:.0f}" + (f" / {run.worker_mb:.0f}" if run.worker_mb else ""),
                     f"{run.cpu:.1f} + {run.emulator_cpu:.1f}", f"{run.load:.1f}", str(run.code)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--calls-per-tenant", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2, help="worker processes of the plans")
    args = parser.parse_args()
    print(f"exoform fleet against the multi-tenant emulator (own process), {args.latency_ms:g} ms per Admin "
          f"API request, --concurrency {args.concurrency}, {args.calls_per_tenant} calls per tenant in "
          f"flight, {os.cpu_count()} CPU(s).\nBound = ceil(tenants / concurrency) x rounds x latency; "
          f"a plan is {math.ceil(READ_KINDS / args.calls_per_tenant)} rounds ({READ_KINDS} reads, "
          f"{args.calls_per_tenant} at a time), an apply adds one round per write.\n"
          f"CPU s: what the CLI (with its workers) and the emulator used; on an idle machine wall >= their sum / "
          f"CPUs.\nload: the 1-minute load average at the end of the run (above the CPU count, other work on the "
          f"machine slowed it).\n")
    runs: list[Run] = []
    for size in (int(s) for s in args.sizes.split(",")):
        runs += bench_size(size, args.latency_ms, args.concurrency, args.calls_per_tenant, args.processes)
    print(table(runs))
    thousand = [r for r in runs if r.tenants == 1000 and r.label.startswith("plan") and "processes" in r.label]
    checks = [("every run succeeded", all(r.code == 0 for r in runs)),
              ("reads stay one call per kind", all(all(abs(v - 1) < 1e-9 for v in r.reads.values())
                                                    and len(r.reads) == READ_KINDS for r in runs)),
              ("one token request per tenant cold", all(r.tokens == r.tenants for r in runs if "cold" in r.label)),
              ("no token request warm", all(r.tokens == 0 for r in runs if "cold" not in r.label))]
    if thousand:
        checks.append(("1,000 tenants planned in under 30 s", all(r.wall < 30 for r in thousand)))
    print("\n" + "\n".join(f"  [{'ok' if ok else 'MISSED'}] {text}" for text, ok in checks))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[4:])
    else:
        main_bench()
