"""What each CLI command does: open a session on the config, call one operation, render its
result with a view and choose the exit code. Raises `ExoformError` for anything a user must
fix (the CLI prints it as one clear message). No planning or state logic lives here."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from exoform.console import ConsoleReporter, confirm
from exoform.engine import operations as ops
from exoform.engine.errors import ExoformError, PlanError
from exoform.engine.operations import ApplyResult, PlanOptions, Session
from exoform.engine.plan import Plan
from exoform.engine.state import to_json
from exoform.providers import registry
from exoform.signals import exit_code as interrupt_exit_code
from exoform.signals import handling_interrupts
from exoform.text import safe
from exoform.views.apply import render_interrupted, render_result, result_json
from exoform.views.drift import render_report, report_json
from exoform.views.importing import import_json, render_import
from exoform.views.plan import render_diagnostics, render_plan
from exoform.views.script import render_script
from exoform.views.show import render_list, render_state

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_PARTIAL = 0, 1, 2, 3


def open_session(args: argparse.Namespace) -> Session:
    stream = sys.stderr if getattr(args, "json", False) else sys.stdout
    return Session.open(
        args.config, ConsoleReporter(stream), registry, state=getattr(args, "state", None),
        token_cache=not getattr(args, "no_token_cache", False),
        prompt=lambda text: print(text, file=sys.stderr, flush=True),
        lock_timeout=getattr(args, "lock_timeout", 0.0),
        allow_unsafe_folder=getattr(args, "allow_unsafe_state_folder", False),
    )


def plan_codec(args: argparse.Namespace) -> Any:
    """How saved plans are read: the config's encryption when there is a config."""
    return open_session(args).codec if Path(args.config).exists() else ops.PLAIN


def plan_options(args: argparse.Namespace, *, destroy: bool = False) -> PlanOptions:
    return PlanOptions(destroy=destroy, adopt=bool(getattr(args, "adopt", False)),
                       accepted_risks=tuple(getattr(args, "accept_risk", None) or ()))


def _dump(body: Any) -> None:
    print(json.dumps(body, indent=2, sort_keys=True))


def cmd_validate(args: argparse.Namespace) -> int:
    spec = ops.validate(args.config)
    if args.json:
        print(json.dumps({"valid": True, "integration": spec.integration}))
    else:
        directions = " and ".join(spec.directions)
        print(f"The configuration is valid: integration '{spec.integration}', {spec.mode} mode, "
              f"{directions}, {spec.scope.users} users, {len(spec.gateway.ip_ranges)} IP range(s).")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    if args.refresh_only or args.verify:
        if args.out or (args.refresh_only and (args.verify or args.destroy or args.adopt)):
            raise ExoformError("--refresh-only and --verify only report; they cannot be combined with "
                               "--out, with each other, or (--refresh-only) with --destroy/--adopt")
        if args.refresh_only:
            return cmd_drift(args)
    session = open_session(args)
    if args.verify:
        return _verify(ops.verify(session, plan_options(args, destroy=args.destroy)), args.json)
    plan = session.plan(plan_options(args, destroy=args.destroy))
    if args.out:
        ops.save_plan(session, plan, Path(args.out))
    if args.json:
        _dump(ops.plan_to_json(plan))
    else:
        print(render_plan(plan))
        if args.out:
            print(f"\nSaved the plan to {args.out}. To perform exactly these actions, run:\n"
                  f"  exoform apply {args.out}")
    if plan.errors:
        return EXIT_ERROR
    return EXIT_CHANGES if args.detailed_exitcode and plan.has_changes else EXIT_OK


def _verify(verification: ops.Verification, as_json: bool) -> int:
    plan, matches = verification.plan, verification.matches
    if as_json:
        _dump({"matches": matches, "steps": len(plan.steps), "plan": ops.plan_to_json(plan)})
    elif matches:
        print(render_diagnostics(plan) + "Verified: the tenant matches the configuration.")
        if plan.has_changes:
            print("exoform's state does not record all of it yet: run `exoform import` to record the "
                  "objects (and `exoform import PLANFILE` to own the allow-list entries a script added).")
    else:
        print(render_plan(plan))
        if not plan.errors:
            print(f"\nThe tenant does not match the configuration: {len(plan.steps)} step(s) above are "
                  "still needed (a script that stopped early, or changes made since).")
    return EXIT_ERROR if plan.errors else (EXIT_OK if matches else EXIT_CHANGES)


def cmd_apply(args: argparse.Namespace, operation: str = "apply") -> int:
    session = open_session(args)
    saved = Path(args.planfile) if getattr(args, "planfile", None) else None
    with ops.applying(session, plan_options(args, destroy=operation == "destroy"), saved) as run:
        plan = run.plan
        if not args.json:
            print(render_plan(plan))
        if plan.errors:
            print("\nError: the plan has errors (above); nothing was changed.", file=sys.stderr)
            return EXIT_ERROR
        if not plan.has_changes:
            run.settle()
            return _print_json(plan, None) if args.json else EXIT_OK
        asked = not (args.auto_approve or saved)
        if asked and not confirm(_question(plan)):
            print("\nApply cancelled; nothing was changed.", file=sys.stderr)
            return EXIT_ERROR
        with handling_interrupts(session.reporter) as interrupts:
            result = run.execute(rollback=not args.no_rollback, interrupts=interrupts, reread=asked)
    return _finish(plan, result, args.json)


def _question(plan: Plan) -> str:
    if plan.operation == "destroy":
        return "Do you really want to destroy everything exoform manages for this integration?"
    return "Do you want to perform these actions?"


def _finish(plan: Plan, result: ApplyResult, as_json: bool) -> int:
    code = EXIT_OK if result.ok else (EXIT_ERROR if result.rollback_complete else EXIT_PARTIAL)
    if result.interrupted:
        code = interrupt_exit_code(result)
    if as_json:
        _print_json(plan, result)
    else:
        text = render_interrupted(plan, result) if result.interrupted else render_result(plan, result)
        print("\n" + text, file=sys.stdout if result.ok else sys.stderr)
    return code


def _print_json(plan: Plan, result: ApplyResult | None) -> int:
    body: dict[str, Any] = {"plan": ops.plan_to_json(plan)}
    if result is not None:
        body["result"] = result_json(result)
    _dump(body)
    return EXIT_OK


def cmd_drift(args: argparse.Namespace) -> int:
    outcome = ops.drift(open_session(args))
    if args.json:
        _dump(report_json(outcome.report, outcome.tenant))
    else:
        print(render_report(outcome.report, outcome.has_state))
    return EXIT_CHANGES if outcome.report.drifted else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    session = open_session(args)
    try:
        outcome = ops.import_objects(session, Path(args.planfile) if args.planfile else None)
    except ops.ImportBlocked as blocked:
        print(render_diagnostics(blocked.plan), file=sys.stderr)
        raise
    print(import_json(outcome) if args.json else render_import(outcome))
    return EXIT_OK


def cmd_script(args: argparse.Namespace) -> int:
    source = f"the saved plan {args.planfile}" if args.planfile else "the tenant and state as read now"
    if args.planfile:
        plan = ops.read_plan(Path(args.planfile), plan_codec(args))
    else:
        plan = open_session(args).plan(plan_options(args, destroy=args.destroy))
    if plan.errors:
        print(render_diagnostics(plan), file=sys.stderr)
        raise PlanError("the plan has errors (above), so no script was written")
    print(render_script(plan, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), source))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    path: Path | str
    if args.file:
        path = Path(args.file)
        document = ops.load_document(path, plan_codec(args)) if path.exists() else ops.read_state(path)
    else:
        session = open_session(args)
        document, path = ops.current_state(session), session.store.where
    if isinstance(document, Plan):
        print(json.dumps(ops.plan_to_json(document), indent=2, sort_keys=True) if args.json
              else render_plan(document))
    elif args.json:
        _dump(to_json(document))
    else:
        print(render_state(document, path))
    return EXIT_OK


def cmd_state_list(args: argparse.Namespace) -> int:
    state = ops.current_state(open_session(args))
    if state.resources:
        print(render_list(state, args.long))
    return EXIT_OK


def cmd_force_unlock(args: argparse.Namespace) -> int:
    done = ops.force_unlock(open_session(args), args.lock_id, force=args.force)
    who = safe(done.holder.describe())
    if done.held:
        print(f"Broke the lock held by {who}. If that process still runs, it stops at its next "
              "state write; run `exoform plan` to see where things stand.")
    else:
        print(f"The lock was not held: the record of {who} was stale (that process has exited). "
              "Cleared it.")
    return EXIT_OK
