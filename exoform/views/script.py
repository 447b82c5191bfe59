"""`exoform script`: a plan (the current one, a saved one, or a destroy plan) as a reviewable
PowerShell script for the ExchangeOnlineManagement module - the seed's "Manual" method. It
requires the module, checks for a session to the plan's tenant before the first change, passes
-WhatIf through to every cmdlet, and runs one cmdlet per step in plan order, stopping at the
first error."""
from __future__ import annotations

import textwrap

from exoform import __version__
from exoform.engine.operations import is_guid
from exoform.engine.plan import Plan
from exoform.views.plan import summary_line
from exoform.views.powershell import command, comment, quote

REQUIRES = ("#Requires -Version 5.1", "#Requires -Modules ExchangeOnlineManagement")
# `.\install.ps1 -WhatIf` sets $WhatIfPreference in the script's scope; the module's cmdlets do not
# see a caller's preference variables, so each change passes it on explicitly.
BINDING = ("[CmdletBinding(SupportsShouldProcess = $true)]", "param()")
WHATIF = " -WhatIf:$WhatIfPreference"
SCRIPT_FILE = "install.ps1"  # the name the README saves the script as


def render_script(plan: Plan, when: str, source: str = "the current plan") -> str:
    """The whole script; pure ASCII, every value quoted by `exoform.powershell`."""
    lines = [*REQUIRES, *_header(plan, when, source)]
    for diagnostic in plan.diagnostics:
        ident = f" [{diagnostic.id}]" if diagnostic.id else ""
        text = f"{diagnostic.severity.value.upper()}{ident}: {diagnostic.message}"
        lines += [comment(part) for part in textwrap.wrap(text, 96, subsequent_indent="  ")]
    lines += ["", *BINDING, "", "$ErrorActionPreference = 'Stop'", "", *session_check(plan.tenant), ""]
    if not plan.steps:
        lines.append(comment("No changes: the tenant already matches the configuration."))
    for step in plan.steps:
        lines.append(comment(f"Step {step.index + 1}/{len(plan.steps)}: {step.description} ({step.address})"))
        lines.append(command(step.call) + WHATIF)
    lines += ["", *(comment(text) for text in _footer(plan))]
    return "\n".join(lines) + "\n"


def session_check(tenant: str) -> list[str]:
    """Before the first change: a connected Exchange Online session, to the plan's tenant."""
    provider, _, ident = tenant.partition(":")
    lines = [comment("Before the first change: a connected session, to the tenant this plan was made for."),
             "$exoformSessions = @(Get-ConnectionInformation)",
             "if (-not ($exoformSessions.State -contains 'Connected')) { throw "
             + quote("Not connected to Exchange Online: run Connect-ExchangeOnline first.") + " }"]
    wrong = quote(f"This session is connected to another tenant: the plan was made for {ident}.")
    if provider == "exchange_online" and is_guid(ident):
        lines.append(f"if (-not ($exoformSessions.TenantID -contains {quote(ident)})) {{ throw {wrong} }}")
    elif provider == "exchange_online" and ident:
        lines.append(f"if (-not (Get-AcceptedDomain -Identity {quote(ident)} -ErrorAction SilentlyContinue)) "
                     f"{{ throw {wrong} }}")
    else:
        lines.append(comment(f"The plan was made on {tenant}, a simulated tenant: no tenant to check."))
    return lines


def _header(plan: Plan, when: str, source: str) -> list[str]:
    texts = [
        f"exoform {plan.operation} script for integration '{plan.integration}' (exoform {__version__})",
        f"Tenant:    {plan.tenant}",
        f"Summary:   {summary_line(plan)}",
        f"Generated: {when}, from {source}.",
        "",
        "Review every line before you run it. Each step is one cmdlet, in the order exoform would run",
        "them. The script stops at the first error ($ErrorActionPreference = 'Stop'): the steps above",
        "the failing one are done, nothing below it runs. Fix the cause, then make a new script.",
        "",
        "Run it in PowerShell with the ExchangeOnlineManagement module, signed in as an Exchange",
        "administrator:",
        "  Install-Module ExchangeOnlineManagement -Scope CurrentUser   # once",
        "  Connect-ExchangeOnline -UserPrincipalName admin@yourtenant.onmicrosoft.com",
        f"  .\\{SCRIPT_FILE} -WhatIf   # what each cmdlet would do; changes nothing",
        f"  .\\{SCRIPT_FILE}",
        "It checks first that the session is connected to the tenant the plan was made for.",
        "It contains no credentials; rules carry the gateway's tenant information (SetHeaderValue).",
    ]
    if any(step.call.name == "New-TransportRule" and step.call.args.get("Enabled") is False for step in plan.steps):
        texts.append("Rules are created disabled (-Enabled:$false) so you can review them first.")
    return [comment(text) if text else "#" for text in texts]


def _footer(plan: Plan) -> list[str]:
    if plan.operation == "destroy":
        return ["Done. Afterwards, with the same config file:",
                "  exoform plan --destroy --verify   # exit 0: nothing of exoform's is left",
                "  exoform destroy --auto-approve    # makes no tenant calls now; clears exoform's state"]
    return ["Done. Afterwards, with the same config file:",
            "  exoform plan --verify       # exit 0: the tenant matches the configuration; 2: not yet",
            "  exoform import [PLANFILE]   # record the objects in exoform's state",
            "Give `exoform import` the saved plan this script was made from, so that the allow-list",
            "entries the script added are recorded as exoform's (without it they count as your own)."]
