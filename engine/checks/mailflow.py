"""What the mail-flow model found, as plan diagnostics: a call no order of the plan can make
safe (error), the planned state's findings - a class that loops, is rejected or lost, or an
in-scope class that misses the gateway (error, a warning when the tenant has it without exoform
too), foreign rules exoform's rules stop, chains and leaked headers (warnings) - what staged
rules would do once enabled, and the steps during which a protected class skips the gateway.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from exoform.engine.mailflow import Finding, FindingCode, Simulation
from exoform.engine.mailflow.describe import finding_text
from exoform.engine.plan import Diagnostic, Severity, Step
from exoform.engine.planning.mailsafety import MailReport

# Codes that mean mail does not flow as the config intends: the plan is refused for them.
_BLOCKING = frozenset({FindingCode.LOOP, FindingCode.REJECTED, FindingCode.LOST, FindingCode.UNCERTAIN,
                       FindingCode.BYPASS, FindingCode.SHADOW, FindingCode.ROUTED})
_ADVICE = {
    FindingCode.STOPPED: (" Move it above exoform's rules (or set rules.placement to \"bottom\"), or "
                          "acknowledge it if exoform's copy is meant to end rule processing."),
    FindingCode.SHADOW: " Move it below exoform's rules, or turn off its 'Stop processing more rules'.",
    FindingCode.HEADER_LEAK: (" The header carries the gateway's tenant information; in monitoring mode "
                              "the vendor's rules set it on the original message too."),
}


Names = Mapping[str, str]  # casefolded Exchange name of exoform's object -> its address


def mail_diagnostics(report: MailReport, steps: Sequence[Step], names: Names) -> list[Diagnostic]:
    found = _unsafe(report, steps)
    found += [_diagnostic(f, report.planned, "", names) for f in report.planned.findings]
    seen = {f.id for f in report.planned.findings}
    if report.preview is not None:
        found += [_diagnostic(f, report.preview, "once the rules are enabled: ", names, preview=True)
                  for f in report.preview.findings if f.id not in seen and f.code in _BLOCKING]
    found += _gaps(report, steps)
    return found


def now_diagnostics(simulation: Simulation, names: Names) -> list[Diagnostic]:
    """The tenant as it is now (drift, verify): what does not flow as intended."""
    return [_diagnostic(f, simulation, "now: ", names) for f in simulation.findings]


def _diagnostic(finding: Finding, simulation: Simulation, prefix: str, names: Names,
                preview: bool = False) -> Diagnostic:
    blocking = finding.code in _BLOCKING and not finding.preexisting and not preview
    severity = Severity.ERROR if blocking else Severity.WARNING
    text = prefix + finding_text(finding, simulation) + "." + _ADVICE.get(finding.code, "")
    ours = [ref for ref in finding.objects if ref.ours]
    address = names.get(ours[0].name.casefold(), "") if ours else ""
    return Diagnostic(severity, f"mail_{finding.code.value}", text, address, id=finding.id)


def _unsafe(report: MailReport, steps: Sequence[Step]) -> list[Diagnostic]:
    found = []
    for item in report.unsafe:
        simulation = report.after[item.step]
        finding = next(f for f in simulation.findings if f.id == item.finding)
        step = steps[item.step]
        found.append(Diagnostic(
            Severity.ERROR, "unsafe_step",
            f"after step {item.step + 1} ({step.description}) {finding_text(finding, simulation)}, and no "
            "order of this plan's steps avoids it; apply the change in two plans (e.g. disable the "
            "rules first), or acknowledge it if the gap is acceptable.",
            str(step.address), id=f"step:{finding.id}"))
    return found


def _gaps(report: MailReport, steps: Sequence[Step]) -> list[Diagnostic]:
    by_class: dict[str, list[int]] = {}
    for step, message_class in report.gaps:
        by_class.setdefault(message_class, []).append(step)
    return [Diagnostic(
        Severity.WARNING, "protection_gap",
        f"{message_class.replace('_', ' ')} mail skips the gateway while the plan runs, after step(s) "
        f"{', '.join(str(i + 1) for i in indexes)} ({steps[indexes[0]].description}); it passes the gateway "
        "again once the plan has run.", id=f"gap:{message_class}")
        for message_class, indexes in sorted(by_class.items())]
