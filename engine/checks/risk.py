"""Acknowledged findings: IDs named by `--accept-risk` turn the matching errors into warnings
that say so; an ID that matches nothing is itself reported, so a typo cannot go unnoticed.
Runs last, over every diagnostic of the plan."""
from __future__ import annotations

import dataclasses
from typing import Sequence

from exoform.engine.plan import Diagnostic, Severity


def accept_risks(diagnostics: Sequence[Diagnostic], accepted: Sequence[str]) -> list[Diagnostic]:
    wanted = {a.casefold(): a for a in accepted}
    out = []
    for d in diagnostics:
        if d.id and d.id.casefold() in wanted:
            note = f" (risk accepted with --accept-risk {d.id})" if d.severity is Severity.ERROR else ""
            severity = Severity.WARNING if d.severity is Severity.ERROR else d.severity
            d = dataclasses.replace(d, severity=severity, message=d.message + note, accepted=True)
        out.append(d)
    known = {d.id.casefold() for d in diagnostics if d.id}
    for key in sorted(set(wanted) - known):
        out.append(Diagnostic(
            Severity.WARNING, "unknown_risk_id",
            f"--accept-risk {wanted[key]} matches no finding of this plan; nothing was accepted by it "
            "(the finding may be gone, or the ID is misspelt)."))
    return out
