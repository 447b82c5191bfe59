"""`exoform script`: the current plan (or a saved one, or a destroy plan) as a reviewable
PowerShell script for the ExchangeOnlineManagement module — the seed's "Manual" method. One
cmdlet per step in plan order, stopping at the first error; a plan with errors is refused."""
from __future__ import annotations

import argparse
import sys
import textwrap
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from exoform import __version__
from exoform.engine.errors import PlanError
from exoform.engine.plan import Plan
from exoform.engine.planfile import read_plan
from exoform.powershell import command, comment
from exoform.render import render_diagnostics, summary_line


def register(sub: argparse._SubParsersAction, common: Callable[..., None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("script", help="print the plan as a PowerShell script (the \"Manual\" method)")
    common(p)
    p.add_argument("planfile", nargs="?", help="a plan saved with `plan --out` (default: plan now)")
    p.add_argument("--destroy", action="store_true", help="script the uninstall")
    p.add_argument("--accept-risk", action="append", metavar="ID", default=[],
                   help="acknowledge a finding (e.g. loop:NAME) so the script can be written; repeatable")
    p.add_argument("--adopt", action="store_true", help="take over unmarked objects that have the desired names")
    p.set_defaults(func=cmd_script)


def cmd_script(args: argparse.Namespace) -> int:
    from exoform.commands import Context

    source = f"the saved plan {args.planfile}" if args.planfile else "the tenant and state as read now"
    if args.planfile:
        plan = read_plan(Path(args.planfile))
    else:
        ctx = Context.load(args)
        with ExitStack() as stack:
            provider = ctx.provider()
            stack.callback(provider.close)
            plan = ctx.plan(provider, ctx.store.load(ctx.spec.integration), "destroy" if args.destroy else "apply")
    if plan.errors:
        print(render_diagnostics(plan), file=sys.stderr)
        raise PlanError("the plan has errors (above), so no script was written")
    print(render_script(plan, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), source))
    return 0


def render_script(plan: Plan, when: str, source: str = "the current plan") -> str:
    """The whole script; pure ASCII, every value quoted by `exoform.powershell`."""
    lines = _header(plan, when, source)
    for diagnostic in plan.diagnostics:
        ident = f" [{diagnostic.id}]" if diagnostic.id else ""
        text = f"{diagnostic.severity.value.upper()}{ident}: {diagnostic.message}"
        lines += [comment(part) for part in textwrap.wrap(text, 96, subsequent_indent="  ")]
    lines += ["", "$ErrorActionPreference = 'Stop'", ""]
    if not plan.steps:
        lines.append(comment("No changes: the tenant already matches the configuration."))
    for step in plan.steps:
        lines.append(comment(f"Step {step.index + 1}/{len(plan.steps)}: {step.description} ({step.address})"))
        lines.append(command(step.call))
    lines += ["", *(comment(text) for text in _footer(plan))]
    return "\n".join(lines) + "\n"


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
        "  .\\exoform.ps1",
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
