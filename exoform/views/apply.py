"""What an apply or destroy says when it ends: the completion line, or the failed step and
what the rollback left behind (each typed leftover put into words), and the report of a run
stopped by a signal. Also the result's JSON form for `--json`."""
from __future__ import annotations

from typing import Any

from exoform.engine.operations import ApplyResult, Leftover, LeftoverKind
from exoform.engine.plan import Plan
from exoform.text import safe
from exoform.views.plan import rule_notes

FIX_THEN_RECOVER = ("fix the cause above, then run `exoform apply` to converge or `exoform destroy` "
                    "to remove what exoform created")
RECOVER = ("run `exoform plan` to see what is left, then `exoform apply` (or `exoform destroy`) "
           "to converge; the state's pending record names any call that was in flight")


def render_result(plan: Plan, result: ApplyResult) -> str:
    if result.ok:
        n = plan.counts()
        verb = "Destroy" if plan.operation == "destroy" else "Apply"
        done = f"{verb} complete! Resources: {n['add']} added, {n['change']} changed, {n['destroy']} destroyed."
        return "\n\n".join([done, *rule_notes(plan, applied=True)])
    failed = plan.steps[result.failed_step] if result.failed_step is not None else None
    number = result.failed_step + 1 if failed and result.failed_step is not None else "?"
    lines = [f"Error: step {number} ({safe(failed.description) if failed else ''}) failed: {safe(result.error)}"]
    return "\n".join(lines + outcome_lines(result, FIX_THEN_RECOVER))


def outcome_lines(result: ApplyResult, recover: str) -> list[str]:
    """What a failed or stopped apply left behind: kept steps, a clean rollback, or leftovers."""
    if not result.rolled_back:
        done = ", ".join(str(i + 1) for i in result.completed) or "none"
        return [f"--no-rollback: steps completed and kept: {done}. State records them; {recover}."]
    if not result.completed and result.rollback_complete:
        return ["Nothing was changed: no step had taken effect before this one failed, so there was "
                "nothing to roll back."]
    if result.rollback_complete:
        return ["All completed steps were undone; the tenant was re-read and matches its "
                "state before the apply. Nothing was changed."]
    return (["Rollback did NOT complete. What is left in the tenant:"]
            + [f"  - {safe(leftover_text(item))}" for item in result.leftovers]
            + [f"State records what exists now: {recover}."])


def leftover_text(item: Leftover) -> str:
    step = (item.step or 0) + 1
    words = {
        LeftoverKind.MISSING: f"{item.object_type} '{item.name}' is missing (it existed before)",
        LeftoverKind.STILL_PRESENT: f"{item.object_type} '{item.name}' is still there (it did not exist before)",
        LeftoverKind.DIFFERS: f"{item.object_type} '{item.name}' differs in {', '.join(item.items)}",
        LeftoverKind.ORDER: "transport rules are in a different order than before",
        LeftoverKind.ENTRIES_PRESENT: f"allow list entries still present: {', '.join(item.items)}",
        LeftoverKind.ENTRIES_MISSING: f"allow list entries missing: {', '.join(item.items)}",
        LeftoverKind.UNDO_FAILED: f"undo step {step}: {item.error}",
        LeftoverKind.ROLLBACK_STOPPED: f"rollback stopped by {item.signal} before undoing step {step}",
    }
    return words[item.kind]


def render_interrupted(plan: Plan, result: ApplyResult) -> str:
    """The closing report of an apply or destroy stopped by a signal."""
    total = len(plan.steps)
    index = result.failed_step if result.failed_step is not None else total
    where = f"before step {index + 1} of {total}" if index < total else "after its last step"
    verb = "Destroy" if plan.operation == "destroy" else "Apply"
    lines = [f"{verb} interrupted by {result.interrupted}: stopped {where}."]
    lines += outcome_lines(result, RECOVER)
    return "\n".join(lines)


def result_json(result: ApplyResult) -> dict[str, Any]:
    return {
        "ok": result.ok, "completed_steps": list(result.completed),
        "failed_step": result.failed_step, "error": str(result.error) if result.error else None,
        "rolled_back": result.rolled_back, "rollback_complete": result.rollback_complete,
        "leftovers": [leftover_text(item) for item in result.leftovers],
        "interrupted": result.interrupted,
    }
