"""Fan chaos scenarios out over worker processes (spawned: a worker may run an emulator's
threads, which must not be forked) and collect their outcomes in scenario order."""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Sequence

from .runner import Outcome, init_worker, run_scenario
from .scenarios import KINDS, scenario


def _job(seed: int, index: int, provider: str, kinds: tuple[str, ...], deadline: float) -> Outcome:
    return run_scenario(scenario(seed, index, provider, kinds), deadline)


def run_chaos(seed: int, runs: int, providers: Sequence[str], *, kinds: tuple[str, ...] = KINDS,
              workers: int = 2, latency_ms: float = 30, time_limit: float = 1800,
              progress: Callable[[Outcome], None] | None = None, backend: str = "local",
              lose_state: bool = False) -> list[Outcome]:
    """`runs` seeded scenarios; the state lives in `backend` (its server's address in the
    environment, see runner.AZURE_ENV / POSTGRES_ENV); `lose_state` deletes it mid-run."""
    deadline = time.time() + time_limit
    jobs = [(seed, i, providers[i % len(providers)], kinds, deadline) for i in range(runs)]
    context = multiprocessing.get_context("spawn")
    outcomes: dict[int, Outcome] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                             initargs=(latency_ms, backend, lose_state)) as pool:
        futures = {pool.submit(_job, *job): job[1] for job in jobs}
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[futures[future]] = outcome
            if progress is not None:
                progress(outcome)
    return [outcomes[i] for i in sorted(outcomes)]
