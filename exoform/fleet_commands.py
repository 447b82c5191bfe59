"""The `exoform fleet` command group: plan, apply, destroy, drift, status, doctor and validate
across a fleet manifest. Parses, opens the run (providers shared by the tenants, a reporter per
tenant, the progress line), calls one fleet operation, renders the report, picks the exit code.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TextIO

from exoform.console import ConsoleReporter, confirm
from exoform.engine.errors import ExoformError
from exoform.engine.fleet import (
    FleetContext, FleetReport, Manifest, Member, Query, Result, Rollout, Selection, Shard,
    describe_waves, fleet_apply, fleet_doctor, fleet_drift, fleet_plan, fleet_status,
    load_manifest, saved_plans, select,
)
from exoform.engine.operations import Interrupts, PlanOptions, Reporter
from exoform.signals import handling_interrupts
from exoform.state_commands import duration
from exoform.text import safe
from exoform.views.fleet import ProgressLine, render_markdown, render_table, report_json

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_PARTIAL = 0, 1, 2, 3
DESCRIPTION = ("Many tenants in one run. A fleet manifest (-f, see examples/fleet.json) lists the "
               "tenants with their waves and overrides; every command works on the tenants chosen "
               "with --tenant, --wave and --shard, at most --concurrency at a time, and prints one "
               "report (a table, --json, or --format markdown for a change ticket).")


class TenantReporter(Reporter):
    """A tenant's progress during a fleet run: only warnings, prefixed with the tenant's name
    (steps and retries are summed up in the report instead)."""

    def __init__(self, name: str, stream: TextIO) -> None:
        self.name = name
        self.stream = stream

    def warning(self, message: str) -> None:
        print(f"{safe(self.name)}: Warning: {safe(message)}", file=self.stream, flush=True)


def _selection(args: argparse.Namespace) -> Selection:
    shard = Shard.parse(args.shard) if args.shard else None
    return Selection(tuple(args.tenant or ()), tuple(args.wave or ()), shard)


def _chosen(args: argparse.Namespace) -> tuple[Manifest, Selection, tuple[Member, ...]]:
    manifest = load_manifest(args.fleet)
    selection = _selection(args)
    return manifest, selection, select(manifest, selection)


@contextmanager
def _running(args: argparse.Namespace, manifest: Manifest, total: int) -> Iterator[FleetContext]:
    from exoform.providers.fleet import FleetProviders

    if min(args.concurrency, args.calls_per_tenant, args.processes) < 1:
        raise ExoformError("--concurrency, --calls-per-tenant and --processes take a whole number from 1")
    links = FleetProviders(concurrency=args.concurrency, calls_per_tenant=args.calls_per_tenant,
                           token_cache=not args.no_token_cache)
    progress = ProgressLine(total, sys.stderr)
    ctx = FleetContext(manifest, links, args.concurrency, lambda name: TenantReporter(name, sys.stderr),
                       progress, token_cache=not args.no_token_cache, processes=args.processes,
                       lock_timeout=args.lock_timeout)
    try:
        yield ctx
    finally:
        progress.close()
        ctx.close()


def _output(report: FleetReport, args: argparse.Namespace) -> None:
    if _format(args) == "json":
        print(json.dumps(report_json(report), indent=2, sort_keys=True))
    elif _format(args) == "markdown":
        print(render_markdown(report), end="")
    else:
        print(render_table(report))


def _format(args: argparse.Namespace) -> str:
    return "json" if args.json else str(args.format)


def _any(report: FleetReport, *results: Result) -> bool:
    return report.count(*results) > 0


def cmd_plan(args: argparse.Namespace) -> int:
    manifest, selection, members = _chosen(args)
    with _running(args, manifest, len(members)) as ctx:
        report = fleet_plan(ctx, members, selection, PlanOptions(destroy=args.destroy),
                            Path(args.out) if args.out else None)
    _output(report, args)
    if _any(report, Result.FAILED, Result.PLAN_ERRORS):
        return EXIT_ERROR
    return EXIT_CHANGES if args.detailed_exitcode and _any(report, Result.CHANGES) else EXIT_OK


def cmd_apply(args: argparse.Namespace, destroy: bool = False) -> int:
    manifest, selection, members = _chosen(args)
    options = PlanOptions(destroy=destroy)
    plans = getattr(args, "plans", None)
    if not (args.auto_approve or plans) and _format(args) == "json":
        raise ExoformError("--json cannot answer the confirmation: add --auto-approve, or apply "
                           "reviewed plans with --plans DIR")
    if args.max_failures < 0:
        raise ExoformError("--max-failures takes a whole number from 0")
    if plans:
        saved = saved_plans(manifest, members, Path(plans))
        members = tuple(m for m in members if m.name in saved)
        return _roll_out(args, manifest, selection, members, Rollout(options, Interrupts(), args.max_failures, saved))
    if args.auto_approve:
        return _roll_out(args, manifest, selection, members, Rollout(options, Interrupts(), args.max_failures))
    with tempfile.TemporaryDirectory(prefix="exoform-fleet-plans-") as folder:
        return _review_then_roll_out(args, manifest, selection, members, options, Path(folder))


def _review_then_roll_out(args: argparse.Namespace, manifest: Manifest, selection: Selection,
                          members: tuple[Member, ...], options: PlanOptions, folder: Path) -> int:
    """Plan every tenant (saved to `folder`), show the table, ask, then apply exactly those
    plans (each refused if the tenant or its state changed meanwhile)."""
    with _running(args, manifest, len(members)) as ctx:
        reviewed = fleet_plan(ctx, members, selection, options, folder)
    _output(reviewed, args)
    if not _any(reviewed, Result.CHANGES):
        print("\nNo tenant has changes to apply.", file=sys.stderr)
        return EXIT_ERROR if _any(reviewed, Result.FAILED, Result.PLAN_ERRORS) else EXIT_OK
    verb = "destroy everything exoform manages in" if options.destroy else "perform these actions on"
    if not confirm(f"Do you want to {verb} {reviewed.count(Result.CHANGES)} tenant(s), wave by wave?"):
        print("\nApply cancelled; nothing was changed.", file=sys.stderr)
        return EXIT_ERROR
    saved = {row.name: Path(row.plan_file) for row in reviewed.rows if row.plan_file}
    rollout = Rollout(options, Interrupts(), args.max_failures, saved, {row.name: row for row in reviewed.rows})
    return _roll_out(args, manifest, selection, members, rollout)


def _roll_out(args: argparse.Namespace, manifest: Manifest, selection: Selection,
              members: Sequence[Member], rollout: Rollout) -> int:
    with _running(args, manifest, len(members)) as ctx, handling_interrupts(ConsoleReporter(sys.stderr)) as interrupts:
        report = fleet_apply(ctx, members, selection, Rollout(
            rollout.options, interrupts, rollout.max_failures, rollout.saved, rollout.reviewed))
    _output(report, args)
    if interrupts.requested:
        return interrupts.exit_code
    if _any(report, Result.PARTIAL):
        return EXIT_PARTIAL
    bad = (Result.SKIPPED, Result.NOT_RUN, Result.INTERRUPTED)
    return EXIT_ERROR if report.failures or _any(report, *bad) else EXIT_OK


def cmd_drift(args: argparse.Namespace) -> int:
    manifest, selection, members = _chosen(args)
    with _running(args, manifest, len(members)) as ctx:
        report = fleet_drift(ctx, members, selection)
    _output(report, args)
    if _any(report, Result.FAILED):
        return EXIT_ERROR
    return EXIT_CHANGES if _any(report, Result.DRIFTED) else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    manifest, selection, members = _chosen(args)
    with _running(args, manifest, len(members)) as ctx:
        report = fleet_status(ctx, members, selection, Query(args.smart_host or "", args.name or ""))
    _output(report, args)
    return EXIT_ERROR if _any(report, Result.FAILED) else EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    manifest, selection, members = _chosen(args)
    with _running(args, manifest, len(members)) as ctx:
        report = fleet_doctor(ctx, members, selection)
    _output(report, args)
    return EXIT_OK if report.count(Result.READY) == len(report.rows) else EXIT_ERROR


def cmd_validate(args: argparse.Namespace) -> int:
    manifest, selection, members = _chosen(args)
    if _format(args) == "json":
        body = {"valid": True, "fleet": manifest.name, "waves": list(manifest.waves),
                "tenants": [{"tenant": m.name, "wave": m.wave, "integration": m.spec.integration}
                            for m in members]}
        print(json.dumps(body, indent=2, sort_keys=True))
    else:
        print(f"The fleet manifest is valid: fleet '{safe(manifest.name)}', {len(manifest.members)} "
              f"tenant(s) in waves {safe(describe_waves(manifest))}; {len(members)} selected "
              f"({safe(selection.describe())}).")
    return EXIT_OK


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--fleet", default="fleet.json", help="fleet manifest (default: fleet.json)")
    p.add_argument("--tenant", action="append", metavar="NAME", help="only this tenant; repeatable")
    p.add_argument("--wave", action="append", metavar="WAVE", help="only this wave; repeatable")
    p.add_argument("--shard", metavar="K/N", help="only the K-th of N shards (stable hash of the "
                                                  "tenant name): N runners together cover each tenant once")
    p.add_argument("--concurrency", type=int, default=8, metavar="N", help="tenants worked on at once (default 8)")
    p.add_argument("--calls-per-tenant", type=int, default=3, metavar="N",
                   help="calls of one tenant in flight at once (default 3)")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="plan, drift, status, doctor: spread the tenants over N worker processes, "
                        "--concurrency shared among them (POSIX; for hundreds of tenants on several cores)")
    p.add_argument("--json", action="store_true", help="the report as JSON on stdout (= --format json)")
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                   help="table (default), json, or markdown for a change ticket")
    p.add_argument("--no-token-cache", action="store_true", help="do not read or write the token cache")
    p.add_argument("--lock-timeout", type=duration, default=0.0, metavar="DURATION",
                   help="wait this long for each tenant's state lock (e.g. 30s, 5m; default 0: that "
                        "tenant fails at once)")


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", help="save one plan per tenant (DIR/<tenant>.plan.json)")
    p.add_argument("--destroy", action="store_true", help="plan the removal of everything")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 0 no changes, 2 some tenant has changes, 1 some tenant has errors")


def _change_args(name: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        if name == "apply":
            p.add_argument("--plans", metavar="DIR", help="apply exactly the plans `fleet plan --out DIR` "
                                                          "saved (each refused if stale)")
        p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
        p.add_argument("--max-failures", type=int, default=0, metavar="N",
                       help="go on after up to N failed tenants (default 0: stop at the first)")
    return add


def _status_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smart-host", metavar="HOST", help="find every tenant with a connector to HOST")
    p.add_argument("--name", metavar="PATTERN", help="find connectors and rules named PATTERN (* and ? allowed)")


def _nothing(p: argparse.ArgumentParser) -> None:
    pass


def _destroy(args: argparse.Namespace) -> int:
    return cmd_apply(args, destroy=True)


COMMANDS: tuple[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]], ...] = (
    ("validate", "check the manifest and every tenant's merged config", _nothing, cmd_validate),
    ("plan", "plan every tenant (--out DIR saves one plan each)", _plan_args, cmd_plan),
    ("apply", "apply wave by wave (stops at the first failed tenant)", _change_args("apply"), cmd_apply),
    ("destroy", "remove exoform's objects wave by wave", _change_args("destroy"), _destroy),
    ("drift", "what changed outside exoform, per tenant (exit 0/2/1)", _nothing, cmd_drift),
    ("status", "which tenants have the integration, drift, mail-flow findings, object queries",
     _status_args, cmd_status),
    ("doctor", "check consent, role and reachability of every tenant, changing nothing", _nothing, cmd_doctor),
)


def register(subparsers: Any) -> None:
    """Add `fleet <command>` to the CLI's argparse subparsers."""
    fleet = subparsers.add_parser("fleet", help="many tenants in one run (a fleet manifest)",
                                  description=DESCRIPTION)
    commands = fleet.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND", required=True)
    for name, text, add, handler in COMMANDS:
        p = commands.add_parser(name, help=text)
        _common(p)
        add(p)
        p.set_defaults(func=handler)
