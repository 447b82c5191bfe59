"""`exoform script`: the current plan (or a saved one, or a destroy plan) as a reviewable
PowerShell script for the ExchangeOnlineManagement module — the seed's "Manual" method."""
from __future__ import annotations

import argparse
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from exoform.engine.plan import Plan
from exoform.engine.planfile import read_plan
from exoform.powershell import command, comment
from exoform.render import summary_line


def register(sub: argparse._SubParsersAction, common: Callable[..., None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("script", help="print the plan as a PowerShell script")
    common(p)
    p.add_argument("planfile", nargs="?", help="a plan saved with `plan --out` (default: plan now)")
    p.add_argument("--destroy", action="store_true", help="script the uninstall")
    p.set_defaults(func=cmd_script)


def cmd_script(args: argparse.Namespace) -> int:
    from exoform.commands import Context

    if args.planfile:
        plan = read_plan(Path(args.planfile))
    else:
        ctx = Context.load(args)
        with ExitStack() as stack:
            provider = ctx.provider()
            stack.callback(provider.close)
            plan = ctx.plan(provider, ctx.store.load(ctx.spec.integration), "destroy" if args.destroy else "apply")
    print(render_script(plan, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    return 1 if plan.errors else 0


def render_script(plan: Plan, when: str) -> str:
    lines = [
        comment(f"exoform {plan.operation} script for integration {plan.integration}"),
        comment(f"tenant: {plan.tenant}"),
        comment(summary_line(plan)),
        comment(f"generated {when}; review every line before running it."),
        comment("Requires the ExchangeOnlineManagement module, signed in as an Exchange administrator:"),
        comment("  Connect-ExchangeOnline -UserPrincipalName admin@yourtenant.onmicrosoft.com"),
        "$ErrorActionPreference = 'Stop'",
        "",
    ]
    for diagnostic in plan.diagnostics:
        lines.append(comment(f"{diagnostic.severity.value}: {diagnostic.message}"))
    if not plan.steps:
        lines.append(comment("No changes: the tenant already matches the configuration."))
    for step in plan.steps:
        lines.append(comment(f"Step {step.index + 1}: {step.description} ({step.address})"))
        lines.append(command(step.call))
    lines.append("")
    lines.append(comment("Done. Run `exoform plan` to confirm the tenant matches the configuration."))
    return "\n".join(lines)
