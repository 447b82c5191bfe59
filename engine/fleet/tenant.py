"""What a fleet command does on one tenant, through the single-tenant operations (a Session's
plan, `applying` with its lock, rollback and saved-plan checks, `survey`, `doctor`), turned
into that tenant's row of the fleet report.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from exoform.engine.fleet.manifest import Member
from exoform.engine.fleet.pool import row
from exoform.engine.fleet.report import Finding, Result, TenantRow
from exoform.engine.interrupt import Interrupts
from exoform.engine.model import Kind
from exoform.engine.operations.doctor import Status, doctor
from exoform.engine.operations.running import applying
from exoform.engine.operations.session import PlanOptions, Session
from exoform.engine.operations.survey import Survey, TenantObject, survey
from exoform.engine.outcome import ApplyResult
from exoform.engine.plan import Diagnostic, Plan, Severity
from exoform.engine.planfile import write_plan


def plan_fields(plan: Plan) -> dict[str, object]:
    counts = plan.counts()
    shown = [d for d in plan.diagnostics if d.severity is not Severity.INFO]
    return {"add": counts["add"], "change": counts["change"], "destroy": counts["destroy"],
            "errors": len(plan.errors), "warnings": len(shown) - len(plan.errors),
            "findings": diagnostic_findings(shown),
            "detail": plan.errors[0].message if plan.errors else ""}


def diagnostic_findings(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> tuple[Finding, ...]:
    return tuple(Finding(d.severity.value, d.code, d.message, d.id) for d in diagnostics)


def plan_tenant(member: Member, session: Session, options: PlanOptions, out: Path | None) -> TenantRow:
    plan = session.plan(options)
    target = out / f"{member.name}.plan.json" if out else None
    if target is not None and plan.errors:
        target.unlink(missing_ok=True)  # an older plan must not be applied in its place
    elif target is not None:
        write_plan(target, plan)
    result = Result.PLAN_ERRORS if plan.errors else (Result.CHANGES if plan.has_changes else Result.NO_CHANGES)
    fields = plan_fields(plan)
    if target is not None and not plan.errors:
        fields["plan_file"] = str(target)
    return row(member, result, **fields)


def apply_tenant(member: Member, session: Session, options: PlanOptions, saved: Path | None,
                 interrupts: Interrupts) -> TenantRow:
    """Plan (or check the saved plan) under the tenant's lock, then run it with rollback; a
    plan with errors is skipped, a plan with nothing to do only settles the state."""
    with applying(session, options, saved) as run:
        fields = plan_fields(run.plan)
        if run.plan.errors:
            return row(member, Result.SKIPPED, **fields)
        if not run.plan.has_changes:
            run.settle()
            return row(member, Result.NO_CHANGES, **fields)
        if interrupts.requested:
            return row(member, Result.NOT_RUN, **{**fields, "detail": "interrupted before it started"})
        result = run.execute(rollback=True, interrupts=interrupts, reread=False)
    return row(member, _applied(result, run.plan.operation == "destroy"), **{**fields, "detail": _result_detail(run.plan, result)})


def _applied(result: ApplyResult, destroy: bool) -> Result:
    if result.interrupted:
        return Result.INTERRUPTED
    if result.ok:
        return Result.DESTROYED if destroy else Result.APPLIED
    return Result.ROLLED_BACK if result.rollback_complete else Result.PARTIAL


def _result_detail(plan: Plan, result: ApplyResult) -> str:
    if result.ok and not result.interrupted:
        return ""
    if result.failed_step is not None and result.error is not None:
        step = plan.steps[result.failed_step]
        cause = f"step {result.failed_step + 1} ({step.description}) failed: {result.error}"
    elif result.interrupted:
        cause = f"stopped by {result.interrupted}"
    else:
        cause = str(result.error or "the apply failed")
    if result.rollback_complete:
        cause += "; rolled back, the tenant is as before"
    else:
        cause += (f"; the rollback did not complete ({len(result.leftovers)} thing(s) left): "
                  "run `exoform fleet plan` for this tenant")
    return " ".join(cause.split())


@dataclass(frozen=True)
class Query:
    """`fleet status` object queries: connectors to a smart host, objects by name pattern."""

    smart_host: str = ""
    name: str = ""

    def __bool__(self) -> bool:
        return bool(self.smart_host or self.name)

    def matches(self, obj: TenantObject) -> bool:
        host = self.smart_host.strip("[]").lower()
        if host and (obj.kind is not Kind.OUTBOUND_CONNECTOR or host not in obj.smart_hosts):
            return False
        return not self.name or fnmatch.fnmatchcase(obj.name.casefold(), self.name.casefold())

    def describe(self) -> str:
        parts = [f"connectors to smart host {self.smart_host}"] if self.smart_host else []
        return ", ".join(parts + ([f"objects named {self.name}"] if self.name else []))


def status_tenant(member: Member, session: Session, query: Query) -> TenantRow:
    found = survey(session)
    matches = tuple(f"{o.kind.value.replace('_', ' ')} {o.name}" + (f" -> {', '.join(o.smart_hosts)}"
                                                                    if o.smart_hosts else "")
                    for o in found.objects if query and query.matches(o))
    fields = _survey_fields(found)
    return row(member, _standing(found), matches=matches, **fields)


def drift_tenant(member: Member, session: Session) -> TenantRow:
    found = survey(session)
    result = Result.NOT_INSTALLED if not found.installed else \
        Result.DRIFTED if found.drift.drifted else Result.IN_SYNC
    return row(member, result, **_survey_fields(found))


def _standing(found: Survey) -> Result:
    if not found.installed:
        return Result.NOT_INSTALLED
    if found.drift.drifted:
        return Result.DRIFTED
    if found.plan.errors:
        return Result.PLAN_ERRORS
    return Result.CHANGES if found.plan.has_changes else Result.IN_SYNC


def _survey_fields(found: Survey) -> dict[str, object]:
    counts = found.plan.counts()
    errors = sum(d.severity is Severity.ERROR for d in found.mail_now)
    drift = tuple(Finding("drift", item.status.value, " ".join(
        filter(None, [item.address or item.exchange_name, item.detail] +
               [f"{a.name} changed" for a in item.attributes]))) for item in found.drift.items)
    first = (found.drift.items[0].exchange_name or found.drift.items[0].detail) if found.drift.items else ""
    return {"add": counts["add"], "change": counts["change"], "destroy": counts["destroy"],
            "errors": errors, "warnings": len(found.mail_now) - errors, "drifted": len(found.drift.items),
            "findings": drift + diagnostic_findings(found.mail_now),
            "detail": f"drifted: {first}" if first else ""}


def doctor_tenant(member: Member, session: Session, consent_url: str) -> TenantRow:
    report = doctor(session)
    problems = [f for f in report.findings if f.status is Status.PROBLEM]
    warnings = [f for f in report.findings if f.status is Status.WARNING]
    findings = tuple(Finding(f.status.value, f.check, f.detail + (f" (fix: {f.fix})" if f.fix else ""))
                     for f in problems + warnings)
    fix = problems[0].fix if problems else ""
    if problems and problems[0].check == "sign-in" and consent_url:
        fix = f"{fix}; admin consent: {consent_url}"
    detail = f"{problems[0].check}: {problems[0].detail}" if problems else ""
    return row(member, Result.READY if report.ok else Result.NOT_READY, errors=len(problems),
               warnings=len(warnings), findings=findings, detail=" ".join(detail.split()), fix=fix)
