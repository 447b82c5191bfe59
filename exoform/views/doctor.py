"""`exoform doctor` output: one line per check (status, what, detail) with the fix under it,
and the same as JSON. Read-only; values from the tenant are escaped for the terminal."""
from __future__ import annotations

from typing import Any

from exoform.engine.operations.doctor import DoctorReport, Status
from exoform.text import safe

_MARK = {Status.OK: "ok", Status.PROBLEM: "MISSING", Status.WARNING: "warning", Status.SKIPPED: "skipped"}


def render_doctor(report: DoctorReport) -> str:
    lines = [f"exoform doctor: {safe(report.tenant)} (read-only: nothing was changed)", ""]
    for finding in report.findings:
        lines.append(f"  {_MARK[finding.status]:<8} {safe(finding.check)}: {safe(finding.detail)}")
        if finding.fix and finding.status is not Status.OK:
            lines.append(f"           fix: {safe(finding.fix)}")
    problems = sum(f.status is Status.PROBLEM for f in report.findings)
    lines += ["", "Everything exoform needs is in place." if report.ok else
              f"{problems} thing(s) missing: fix them, then run `exoform doctor` again."]
    return "\n".join(lines)


def doctor_json(report: DoctorReport) -> dict[str, Any]:
    return {"tenant": report.tenant, "ok": report.ok,
            "findings": [{"check": f.check, "status": f.status.value, "detail": f.detail, "fix": f.fix}
                         for f in report.findings]}
