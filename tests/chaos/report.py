"""The chaos harness's figures: a summary table (runs, kill points, faults injected, recoveries
converged, anything lost) and where the kills landed, plus every problem found."""
from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from tabulate import tabulate

from .runner import Outcome


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    ran = [o for o in outcomes if not o.skipped]
    points = {f"{o.provider}|{o.kind}|{o.point.key}" for o in ran if o.point}
    return {
        "runs": len(ran),
        "skipped": len(outcomes) - len(ran),
        "killed mid-run": sum(o.killed for o in ran),
        "finished before the kill": sum(not o.killed for o in ran),
        "distinct kill points": len(points),
        "faults injected": sum(o.injected for o in ran),
        "states lost mid-run": sum(o.state_lost for o in ran),
        "recoveries converged": sum(o.recovered and o.converged for o in ran),
        "unmanaged objects lost": sum(o.lost for o in ran),
        "left behind": sum(o.left_behind for o in ran),
        "runs with problems": sum(bool(o.problems) for o in ran),
        "seconds (sum of runs)": round(sum(o.seconds for o in ran), 1),
    }


def render(outcomes: Sequence[Outcome], wall: float) -> str:
    figures = summary(outcomes)
    lines = [tabulate(sorted(figures.items(), key=lambda kv: list(figures).index(kv[0])),
                      headers=["chaos", "value"], tablefmt="github")]
    lines.append(f"\nwall time: {wall:.1f} s")
    positions = Counter((o.provider, o.point.phase, o.point.position) for o in outcomes if o.point)
    rows = [(p, ph, pos, n) for (p, ph, pos), n in sorted(positions.items())]
    lines.append("\n" + tabulate(rows, headers=["provider", "phase", "where the kill landed", "runs"],
                                 tablefmt="github"))
    kinds = Counter((o.provider, o.kind) for o in outcomes if not o.skipped)
    lines.append("\n" + tabulate(sorted((p, k, n) for (p, k), n in kinds.items()),
                                 headers=["provider", "scenario", "runs"], tablefmt="github"))
    skipped = Counter(o.skipped.split(":")[0] for o in outcomes if o.skipped)
    if skipped:
        lines.append("\nskipped: " + ", ".join(f"{reason} ({n})" for reason, n in skipped.items()))
    for outcome in outcomes:
        if outcome.problems:
            lines.append(f"\nPROBLEM in {outcome.label} (kept in {outcome.folder}), killed at "
                         f"{outcome.point.key if outcome.point else '?'}:")
            lines += [f"  - {problem}" for problem in outcome.problems]
    return "\n".join(lines)
