"""Benchmark: how long `exoform plan` takes on a sandbox tenant that already holds 300 transport
rules and 50 connectors (exoform's own 3 rules and 2 connectors among them), through the CLI's
code path in-process. Prints wall times (min / median / max over repetitions), the time spent
reading the tenant versus planning, and peak memory.

    python bench/plan_large_tenant.py [--repeat N]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from exoform.cli import main
from exoform.engine.config import load_config
from exoform.engine.operations import request_for
from exoform.engine.planning import make_plan
from exoform.engine.read import TenantRead
from exoform.engine.provider import READ_TYPES
from exoform.engine.statefile import StateStore
from exoform.providers.sandbox import SandboxProvider
from exoform.providers.faults import FaultPlan

CONFIG = {
    "integration": "bench",
    "tenant": {"provider": "sandbox", "sandbox_file": "tenant.json"},
    "gateway": {"ip_ranges": ["203.0.113.0/24", "198.51.100.0/24"], "tenant_info": "bench"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}


def build_tenant(root: Path) -> None:
    """297 admin rules + 48 admin connectors, then exoform applies its 3 rules + 2 connectors."""
    rules = [{"Name": f"Admin rule {i:03}", "Priority": i, "SetHeaderName": f"X-Rule-{i}",
              "SetHeaderValue": "1", "SentToScope": "InOrganization"} for i in range(297)]
    inbound = [{"Name": f"Partner in {i:02}", "ConnectorType": "Partner", "SenderDomains": [f"p{i}.example"],
                "SenderIPAddresses": [f"198.18.{i}.0/24"]} for i in range(24)]
    outbound = [{"Name": f"Partner out {i:02}", "ConnectorType": "Partner", "RecipientDomains": [f"p{i}.example"],
                 "SmartHosts": [f"mx.p{i}.example"], "UseMXRecord": False} for i in range(24)]
    doc = {"TransportRule": rules, "InboundConnector": inbound, "OutboundConnector": outbound}
    (root / "tenant.json").write_text(json.dumps(doc))
    (root / "exoform.json").write_text(json.dumps(CONFIG))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["apply", "-c", str(root / "exoform.json"), "--state", str(root / "state.json"),
                     "--auto-approve", "--json"])
    assert code == 0


def one_plan(root: Path) -> tuple[float, float, int]:
    """(wall seconds, of which reading the tenant, number of steps) for one full plan."""
    start = time.perf_counter()
    spec = load_config(root / "exoform.json")
    state = StateStore.at(root / "state.json").load(spec.integration)
    provider = SandboxProvider(root / "tenant.json", faults=FaultPlan())
    read_start = time.perf_counter()
    read = provider.read(READ_TYPES)
    read_time = time.perf_counter() - read_start
    plan = make_plan(request_for(spec, TenantRead(read), state))
    return time.perf_counter() - start, read_time, len(plan.steps)


def cli_plan(root: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "exoform", "plan", "-c", "exoform.json", "--state", "state.json"],
                   cwd=root, check=True, capture_output=True)
    return time.perf_counter() - start


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_tenant(root)
        doc = json.loads((root / "tenant.json").read_text())
        print(f"tenant: {len(doc['TransportRule'])} transport rules, "
              f"{len(doc['InboundConnector']) + len(doc['OutboundConnector'])} connectors")
        runs = [one_plan(root) for _ in range(args.repeat)]
        cli = [cli_plan(root) for _ in range(5)]
        tracemalloc.start()
        one_plan(root)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    walls = [r[0] for r in runs]
    reads = [r[1] for r in runs]
    print(f"plan (no changes, {runs[0][2]} steps) over {args.repeat} runs: "
          f"min {min(walls) * 1000:.1f} ms, median {statistics.median(walls) * 1000:.1f} ms, "
          f"max {max(walls) * 1000:.1f} ms")
    print(f"  of which reading the tenant (4 Get- calls): median {statistics.median(reads) * 1000:.1f} ms")
    print(f"  peak Python memory during one plan: {peak / 1024 / 1024:.1f} MiB")
    print(f"`exoform plan` as a new process (imports, render included), 5 runs: "
          f"median {statistics.median(cli) * 1000:.0f} ms")


if __name__ == "__main__":
    main_bench()
