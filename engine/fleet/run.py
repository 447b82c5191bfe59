"""The fleet commands: apply and destroy go wave by wave in the manifest's order (a wave stops
starting tenants after the first failure unless --max-failures allows more, and later waves do
not start); plan, drift, status and doctor read every selected tenant at once. Each returns one
`FleetReport`; every tenant is worked on through the single-tenant operations.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

from exoform.engine.fleet.forked import run_forked
from exoform.engine.fleet.manifest import FleetError, Manifest, Member
from exoform.engine.fleet.pool import FleetContext, not_run, row, run_members
from exoform.engine.fleet.report import FleetReport, Result, TenantRow
from exoform.engine.fleet.select import Selection, in_waves
from exoform.engine.fleet.tenant import (
    Query,
    apply_tenant,
    doctor_tenant,
    drift_tenant,
    plan_tenant,
    status_tenant,
)
from exoform.engine.interrupt import Interrupts
from exoform.engine.operations.session import PlanOptions

PLAN_SUFFIX = ".plan.json"


def _report(ctx: FleetContext, command: str, selection: Selection, rows: Sequence[TenantRow],
            started: float, **extra: object) -> FleetReport:
    return FleetReport(ctx.manifest.name, command, selection.describe(), tuple(rows), ctx.manifest.waves,
                       wall=round(ctx.clock() - started, 3), **extra)  # type: ignore[arg-type]


def _each(ctx: FleetContext, members: Sequence[Member], command: str, selection: Selection,
          work: Callable[[Member], TenantRow], **extra: object) -> FleetReport:
    """A read-only command: every tenant in one pool (waves order only the rows), so a slow
    tenant of the first wave never holds up the others; in `ctx.processes` worker processes."""
    started = ctx.clock()
    ctx.progress.wave("", len(members))
    rows = run_forked(ctx, members, work, ctx.processes)
    return _report(ctx, command, selection, rows, started, **extra)


def fleet_plan(ctx: FleetContext, members: Sequence[Member], selection: Selection,
               options: PlanOptions, out: Path | None = None) -> FleetReport:
    """Every selected tenant's plan (one saved plan per tenant in `out`)."""
    if out is not None:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    return _each(ctx, members, "destroy plan" if options.destroy else "plan", selection,
                 lambda m: ctx.run(m, lambda s: plan_tenant(m, s, options, out)))


def fleet_drift(ctx: FleetContext, members: Sequence[Member], selection: Selection) -> FleetReport:
    return _each(ctx, members, "drift", selection, lambda m: ctx.run(m, lambda s: drift_tenant(m, s)))


def fleet_status(ctx: FleetContext, members: Sequence[Member], selection: Selection,
                 query: Query) -> FleetReport:
    return _each(ctx, members, "status", selection,
                 lambda m: ctx.run(m, lambda s: status_tenant(m, s, query)), query=query.describe())


def fleet_doctor(ctx: FleetContext, members: Sequence[Member], selection: Selection) -> FleetReport:
    def work(member: Member) -> TenantRow:
        consent = ctx.links.tenant(member.name, member.spec.tenant).consent_url()
        return ctx.run(member, lambda s: doctor_tenant(member, s, consent))
    return _each(ctx, members, "doctor", selection, work)


@dataclass(frozen=True)
class Rollout:
    """How an apply or destroy goes across the fleet."""

    options: PlanOptions
    interrupts: Interrupts
    max_failures: int = 0
    saved: Mapping[str, Path] | None = None  # tenant -> saved plan; None: plan under the lock
    # The reviewed plans' rows (the plan shown before "yes"): a tenant with no saved plan keeps
    # its row - skipped when its plan had errors, failed when it could not be planned.
    reviewed: Mapping[str, TenantRow] = field(default_factory=dict)


def fleet_apply(ctx: FleetContext, members: Sequence[Member], selection: Selection,
                rollout: Rollout) -> FleetReport:
    """Wave by wave; see the module docstring for when the rollout stops."""
    started = ctx.clock()
    rows: list[TenantRow] = []
    stopped = ""
    for wave, part in in_waves(ctx.manifest, tuple(members)):
        if stopped:
            rows += [not_run(m, stopped) for m in part]
            continue
        ctx.progress.wave(wave, len(part))
        before = sum(r.result.failure for r in rows)
        go = _going(rollout, before)
        done = run_members(ctx, part, lambda m: _apply_one(ctx, m, rollout), go)
        stopped = _stop_reason(rows + done, rollout, wave)
        rows += [replace(r, detail=stopped) if r.result is Result.NOT_RUN and not r.detail else r for r in done]
    command = "destroy" if rollout.options.destroy else "apply"
    return _report(ctx, command, selection, rows, started, stopped=stopped,
                   interrupted=rollout.interrupts.signal_name if rollout.interrupts.requested else None)


def _going(rollout: Rollout, earlier: int) -> Callable[[list[TenantRow]], bool]:
    def go(done: list[TenantRow]) -> bool:
        failures = earlier + sum(r.result.failure for r in done)
        return not rollout.interrupts.requested and failures <= rollout.max_failures
    return go


def _apply_one(ctx: FleetContext, member: Member, rollout: Rollout) -> TenantRow:
    saved = rollout.saved.get(member.name) if rollout.saved is not None else None
    if rollout.saved is not None and saved is None:
        prior = rollout.reviewed.get(member.name)
        if prior is None:
            return row(member, Result.SKIPPED, detail="no saved plan for this tenant")
        return replace(prior, result=Result.SKIPPED if prior.result is Result.PLAN_ERRORS else prior.result)
    return ctx.run(member, lambda s: apply_tenant(member, s, rollout.options, saved, rollout.interrupts))


def _stop_reason(rows: list[TenantRow], rollout: Rollout, wave: str) -> str:
    if rollout.interrupts.requested:
        return f"not started: the run was interrupted ({rollout.interrupts.signal_name}) in wave {wave}"
    failures = sum(r.result.failure for r in rows)
    if failures > rollout.max_failures:
        return (f"not started: the rollout stopped in wave {wave} after {failures} failed tenant(s) "
                f"(--max-failures {rollout.max_failures})")
    return ""


def saved_plans(manifest: Manifest, members: Sequence[Member], folder: Path) -> dict[str, Path]:
    """The saved plans in `folder` (`<tenant>.plan.json`, as `fleet plan --out` writes them) of
    the selected tenants; a plan file of a tenant the fleet does not have is refused."""
    if not folder.is_dir():
        raise FleetError(f"--plans {folder}: no such folder (make it with `exoform fleet plan --out {folder}`)")
    found = {p.name[:-len(PLAN_SUFFIX)]: p for p in sorted(folder.glob(f"*{PLAN_SUFFIX}"))}
    strangers = [name for name in found if manifest.member(name) is None]
    if strangers:
        raise FleetError(f"--plans {folder} holds a plan for '{strangers[0]}', which is not a tenant of "
                         f"fleet {manifest.name}; remove it or use the right manifest")
    chosen = {m.name: found[m.name] for m in members if m.name in found}
    if not chosen:
        raise FleetError(f"--plans {folder} holds no saved plan for the selected tenants")
    return chosen


__all__ = ["FleetReport", "Query", "Rollout", "fleet_apply", "fleet_doctor",
           "fleet_drift", "fleet_plan", "fleet_status", "saved_plans"]
