"""Throttling and slowness soak: applies, changes and destroys through the exchange_online
provider against the HTTPS emulator while ~30% of Admin API calls get a 429 (Retry-After), a
503 or extra latency. Every apply must converge or roll back cleanly; retries and waits must
stay within the retry policy's bounds; the figures are reported.

Full run: `python -m tests.chaos.soak --runs 60` (hundreds of calls); CI runs a reduced form.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from tabulate import tabulate

from exoform.engine.apply import Executor
from exoform.engine.config import parse_config
from exoform.engine.errors import ProviderError
from exoform.engine.provider import READ_TYPES
from exoform.engine.read import read_tenant
from support.harness import plan_for
from support.reporter import RecordingReporter
from exoform.engine.statefile import StateStore
from exoform.providers.faults import FaultPlan
from exoform.providers.retry import RetryPolicy

from .checks import canonical, check_objects, check_unmanaged
from .scenarios import INTEGRATION, config, tenant

#: The real policy's shape (6 attempts, exponential backoff, bounded total), in milliseconds.
SOAK_POLICY = RetryPolicy(max_attempts=6, base_delay=0.02, max_delay=0.4, max_total_wait=3.0)
RETRY_AFTER = 0.05


class RandomFaults:
    """The emulator's fault source: each Admin API call gets, with probability `rate`, a 429,
    a 503 or up to `max_latency` seconds of extra latency (then runs normally)."""

    def __init__(self, seed: int, rate: float, max_latency: float) -> None:
        self.rng = random.Random(seed)
        self.rate, self.max_latency = rate, max_latency
        self.enabled = True
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def next(self, cmdlet: str) -> str | None:
        with self._lock:
            self.counts["calls"] += 1
            if not self.enabled or self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(["throttle", "unavailable", "latency"])
            delay = self.rng.uniform(0, self.max_latency)
            self.counts[kind] += 1
        if kind == "latency":
            time.sleep(delay)
            return None
        return kind


@dataclass
class SoakFigures:
    runs: int = 0
    converged: int = 0
    rolled_back_clean: int = 0
    unclean: int = 0
    plans_failed: int = 0
    lost: int = 0
    retries: int = 0
    wait_total: float = 0.0
    worst_wait: float = 0.0
    worst_call_wait: float = 0.0
    most_attempts: int = 1
    problems: list[str] = field(default_factory=list)


def soak(seed: int, runs: int, rate: float = 0.3, max_latency: float = 0.05) -> tuple[SoakFigures, Counter[str]]:
    from exoform.providers.emulator.conditions import Conditions
    from exoform.providers.emulator.server import Emulator

    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="exoform-soak-"))
    faults = RandomFaults(seed, rate, max_latency)
    original = canonical(tenant(rng))
    (root / "tenant.json").write_text(original, encoding="utf-8")
    figures = SoakFigures()
    try:
        with Emulator(root / "tenant.json", Conditions(throttle_retry_after=RETRY_AFTER), faults=faults,
                      workdir=root / "emulator") as emulator:
            site = _Site(root, emulator)
            for _ in range(runs):
                _one_run(site, rng, figures)
            faults.enabled = False
            _one_run(site, rng, figures, destroy=True)
            if (root / "tenant.json").read_text(encoding="utf-8") != original:
                figures.problems.append("the final destroy did not restore the original tenant")
            figures.lost, lost = check_unmanaged(json.loads(original), json.loads(
                (root / "tenant.json").read_text()), INTEGRATION, set())
            figures.problems += lost
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return figures, faults.counts


class _Site:
    def __init__(self, root: Path, emulator: Any) -> None:
        import os

        self.root, self.emulator = root, emulator
        os.environ["EXOFORM_EMULATOR_SECRET"] = emulator.client_secret
        os.environ["EXOFORM_CACHE_DIR"] = str(root / "token-cache")
        self.store_path = root / "state.json"

    def provider(self, reporter: RecordingReporter) -> Any:
        from exoform.providers.exchange import make_provider

        return make_provider(self.emulator.tenant_options("secret"), reporter,
                             retry_policy=SOAK_POLICY, faults=FaultPlan())


def _one_run(site: _Site, rng: random.Random, figures: SoakFigures, destroy: bool = False) -> None:
    body = config(rng)
    body["tenant"] = site.emulator.tenant_options("secret")
    spec = parse_config(body, source="<soak>", base_dir=site.root)
    operation = "destroy" if destroy or rng.random() < 0.2 else "apply"
    reporter = RecordingReporter()
    provider = site.provider(reporter)
    store = StateStore.at(site.store_path)
    state = store.load(INTEGRATION)
    figures.runs += 1
    try:
        plan = plan_for(spec, read_tenant(provider, spec.scope.identities), state, operation)
        if plan.errors:
            figures.problems.append(f"plan error: {plan.errors[0].message[:100]}")
            return
        result = Executor(provider, store, reporter).apply(plan, state)
        _tally_retries(reporter, figures)
        if not result.ok:
            figures.rolled_back_clean += result.rollback_complete
            figures.unclean += not result.rollback_complete
            return
        _verify(site, spec, operation, figures)
    except ProviderError as error:  # a read whose retries ran out: nothing was changed
        figures.plans_failed += 1
        _tally_retries(reporter, figures)
        if destroy:
            figures.problems.append(f"final destroy failed: {error}")
    finally:
        provider.close()


def _verify(site: _Site, spec: Any, operation: str, figures: SoakFigures) -> None:
    reporter = RecordingReporter()
    provider = site.provider(reporter)
    try:
        state = StateStore.at(site.store_path).load(INTEGRATION)
        read = read_tenant(provider, spec.scope.identities)
        again = plan_for(spec, read, state, operation)
        if again.has_changes:
            figures.problems.append(f"{operation} reported success but the next plan has changes")
        else:
            figures.converged += 1
        document = json.loads((site.root / "tenant.json").read_text(encoding="utf-8"))
        figures.problems += check_objects(document, state, INTEGRATION)
    except ProviderError:
        figures.plans_failed += 1
    finally:
        _tally_retries(reporter, figures)
        provider.close()


def _tally_retries(reporter: RecordingReporter, figures: SoakFigures) -> None:
    """Retry events of one call come as attempts 1, 2, ...: group them to bound each call."""
    call_wait = 0.0
    for hook, args in reporter.events:
        if hook != "retry":
            continue
        _, attempt, wait, _ = args
        call_wait = wait if attempt == 1 else call_wait + wait
        figures.retries += 1
        figures.wait_total += wait
        figures.worst_wait = max(figures.worst_wait, wait)
        figures.worst_call_wait = max(figures.worst_call_wait, call_wait)
        figures.most_attempts = max(figures.most_attempts, attempt + 1)
    reporter.events.clear()


def render(figures: SoakFigures, counts: Counter[str], wall: float) -> str:
    rows = [
        ("runs (apply/change/destroy)", figures.runs),
        ("Admin API calls", counts["calls"]),
        ("faults injected: 429 / 503 / latency", f"{counts['throttle']} / {counts['unavailable']} / {counts['latency']}"),
        ("fault rate", f"{(counts['throttle'] + counts['unavailable'] + counts['latency']) / max(counts['calls'], 1):.0%}"),
        ("applies converged", figures.converged),
        ("failed and rolled back cleanly", figures.rolled_back_clean),
        ("rollbacks incomplete", figures.unclean),
        ("plans abandoned (read retries ran out)", figures.plans_failed),
        ("retries", figures.retries),
        ("most attempts for one call", f"{figures.most_attempts} (bound {SOAK_POLICY.max_attempts})"),
        ("worst single wait s", f"{figures.worst_wait:.3f} (bound {SOAK_POLICY.max_delay})"),
        ("worst total wait of one call s", f"{figures.worst_call_wait:.3f} (bound {SOAK_POLICY.max_total_wait})"),
        ("total time waiting s", f"{figures.wait_total:.2f}"),
        ("unmanaged objects lost", figures.lost),
        ("problems", len(figures.problems)),
        ("wall time s", f"{wall:.1f}"),
    ]
    text = tabulate(rows, headers=["soak", "value"], tablefmt="github")
    return text + "".join(f"\n  PROBLEM: {p}" for p in figures.problems)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60, help="applies/destroys to run (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.3, help="share of calls that get a fault")
    args = parser.parse_args(argv)
    started = time.monotonic()
    figures, counts = soak(args.seed, args.runs, args.rate)
    print(render(figures, counts, time.monotonic() - started))
    return 1 if figures.problems or figures.unclean else 0


if __name__ == "__main__":
    sys.exit(main())
