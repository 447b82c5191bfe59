"""Acknowledged findings: IDs named by `--accept-risk` or the config's `accept_risks` turn the
matching errors into warnings that say so; an ID that matches nothing is itself reported, so a
typo or a stale entry cannot go unnoticed. Runs last, over every diagnostic of the plan."""
from __future__ import annotations

import dataclasses
from typing import Sequence

from exoform.engine.plan import Diagnostic, Severity


def accept_risks(diagnostics: Sequence[Diagnostic], accepted: Sequence[str],
                 in_config: Sequence[str] = ()) -> list[Diagnostic]:
    """`accepted`: the command line's IDs; `in_config`: the config's."""
    wanted = {a.casefold(): "--accept-risk" for a in accepted}
    for a in in_config:
        wanted.setdefault(a.casefold(), "the config's accept_risks")
    out = []
    for d in diagnostics:
        if d.id and d.id.casefold() in wanted:
            where = wanted[d.id.casefold()]
            how = f"{where} {d.id}" if where.startswith("--") else f"{d.id} in {where}"
            note = f" (risk accepted with {how})" if d.severity is Severity.ERROR else ""
            severity = Severity.WARNING if d.severity is Severity.ERROR else d.severity
            d = dataclasses.replace(d, severity=severity, message=d.message + note, accepted=True)
        out.append(d)
    known = {d.id.casefold() for d in diagnostics if d.id}
    for key in sorted(set(wanted) - known):
        out.append(_unknown(key, wanted[key], accepted, in_config))
    return out


def _unknown(key: str, where: str, accepted: Sequence[str], in_config: Sequence[str]) -> Diagnostic:
    if where.startswith("--"):
        return Diagnostic(
            Severity.WARNING, "unknown_risk_id",
            f"--accept-risk {next(a for a in accepted if a.casefold() == key)} matches no finding of this plan; nothing was accepted by it "
            "(the finding may be gone, or the ID is misspelt).")
    ident = next(a for a in in_config if a.casefold() == key)
    return Diagnostic(
        Severity.WARNING, "unknown_risk_id",
        f"accept_risks in the config lists {ident!r}, which matches no finding of this plan (the "
        "finding may be gone, or the ID is misspelt); remove it from the config so it cannot "
        "accept a future finding unseen.")
