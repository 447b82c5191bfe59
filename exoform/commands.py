"""What each CLI command does: open a session on the config, call one operation, render its
result with a view and choose the exit code. Raises `ExoformError` for anything a user must
fix (the CLI prints it as one clear message, or as JSON with --json). No planning or state logic
lives here."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from exoform.completion import completion_script, manual_page
from exoform.console import ConsoleReporter, color_wanted, confirm, output_closed, paint
from exoform.engine import operations as ops
from exoform.engine.errors import ExoformError, PlanError
from exoform.engine.operations import ApplyResult, PlanOptions, Session
from exoform.engine.plan import Plan
from exoform.errors import Cancelled
from exoform.providers import registry
from exoform.signals import exit_code as interrupt_exit_code
from exoform.signals import handling_interrupts
from exoform.text import safe
from exoform.views.apply import render_interrupted, render_result, result_json
from exoform.views.drift import render_report, report_json
from exoform.views.importing import import_json, render_import
from exoform.views.markdown import render_markdown
from exoform.views.plan import render_diagnostics, render_plan
from exoform.views.script import render_script
from exoform.views.show import render_list, render_state
from exoform.views.terraform_json import plan_document, state_document

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_PARTIAL = 0, 1, 2, 3


def output_format(args: argparse.Namespace) -> str:
    """human, json or markdown: `--json` is `--format json`."""
    chosen = getattr(args, "format", None)
    if getattr(args, "json", False):
        if chosen not in (None, "json"):
            raise ExoformError(f"--json and --format {chosen} ask for two different outputs; give one")
        return "json"
    return chosen or "human"


def open_session(args: argparse.Namespace) -> Session:
    # Progress goes to stderr whenever stdout carries a document (JSON or Markdown).
    stream = sys.stderr if output_format(args) != "human" else sys.stdout
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
    """One line of JSON on stdout, like `terraform show -json`."""
    print(json.dumps(body, sort_keys=True))  # ASCII: no control or BiDi character reaches a terminal raw


def _human(args: argparse.Namespace, text: str) -> None:
    print(paint(text) if color_wanted(bool(getattr(args, "no_color", False)), sys.stdout) else text)


def _document(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    return plan_document(plan, timestamp=plan.created or _now(),
                         show_sensitive=bool(getattr(args, "show_sensitive", False)))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _emit_plan(plan: Plan, args: argparse.Namespace) -> None:
    shape = output_format(args)
    if shape == "json":
        _dump(_document(plan, args))
    elif shape == "markdown":
        print(render_markdown(plan))
    else:
        _human(args, render_plan(plan))


def cmd_validate(args: argparse.Namespace) -> int:
    spec = ops.validate(args.config)
    if args.json:
        _dump({"valid": True, "integration": spec.integration, "config": args.config})
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
        if output_format(args) == "markdown":
            raise ExoformError("--format markdown renders plans; --refresh-only and --verify support "
                               "the human output and --json")
        if args.refresh_only:
            return cmd_drift(args)
    session = open_session(args)
    if args.verify:
        return _verify(ops.verify(session, plan_options(args, destroy=args.destroy)), args)
    plan = session.plan(plan_options(args, destroy=args.destroy))
    if args.out:
        ops.save_plan(session, plan, Path(args.out))
    _emit_plan(plan, args)
    if args.out and output_format(args) == "human":
        print(f"\nSaved the plan to {args.out}. To perform exactly these actions, run:\n"
              f"  exoform apply {args.out}")
    if plan.errors:
        return EXIT_ERROR
    return EXIT_CHANGES if args.detailed_exitcode and plan.has_changes else EXIT_OK


def _verify(verification: ops.Verification, args: argparse.Namespace) -> int:
    plan, matches = verification.plan, verification.matches
    if output_format(args) == "json":
        _dump({"matches": matches, "steps": len(plan.steps), "plan": _document(plan, args)})
    elif matches:
        print(render_diagnostics(plan) + "Verified: the tenant matches the configuration.")
        if plan.has_changes:
            print("exoform's state does not record all of it yet: run `exoform import` to record the "
                  "objects (and `exoform import PLANFILE` to own the allow-list entries a script added).")
    else:
        _human(args, render_plan(plan))
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
            _human(args, render_plan(plan))
        if plan.errors:
            raise PlanError("the plan has errors (above); nothing was changed")
        if not plan.has_changes:
            run.settle()
            return _print_json(plan, None, args) if args.json else EXIT_OK
        asked = not (args.auto_approve or saved)
        if asked and not confirm(_question(plan)):
            verb = "Destroy" if plan.operation == "destroy" else "Apply"
            raise Cancelled(f"{verb} cancelled; nothing was changed.")
        with handling_interrupts(session.reporter) as interrupts:
            result = run.execute(rollback=not args.no_rollback, interrupts=interrupts, reread=asked)
    return _finish(plan, result, args)


def _question(plan: Plan) -> str:
    where = f"integration '{safe(plan.integration)}' on {safe(plan.tenant)}"
    if plan.operation == "destroy":
        return f"Do you really want to destroy everything exoform manages for {where}?"
    return f"Do you want to perform these actions for {where}?"


def _finish(plan: Plan, result: ApplyResult, args: argparse.Namespace) -> int:
    code = EXIT_OK if result.ok else (EXIT_ERROR if result.rollback_complete else EXIT_PARTIAL)
    if result.interrupted:
        code = interrupt_exit_code(result)
    try:
        if args.json:
            _print_json(plan, result, args)
        else:
            text = render_interrupted(plan, result) if result.interrupted else render_result(plan, result)
            print("\n" + text, file=sys.stdout if result.ok else sys.stderr)
    except BrokenPipeError:
        output_closed()  # the apply is done: its exit code still tells how it went
    return code


def _print_json(plan: Plan, result: ApplyResult | None, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"plan": _document(plan, args)}
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
    if args.json:
        _dump(import_json(outcome, _document(outcome.after, args)))
    else:
        print(render_import(outcome))
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
        if not path.exists():
            raise ExoformError(f"{path} does not exist: give a plan saved with `exoform plan --out FILE` "
                               "or a state file (without a file, show prints this config's state)")
        document = ops.load_document(path, plan_codec(args))
    else:
        session = open_session(args)
        document, path = ops.current_state(session), session.store.where
    shape = output_format(args)
    if isinstance(document, Plan):
        _emit_plan(document, args)
    elif shape == "markdown":
        raise ExoformError(f"{path} is a state file; --format markdown renders plans (`exoform plan "
                           "--format markdown`, or `exoform show --format markdown PLANFILE`)")
    elif shape == "json":
        _dump(state_document(document, show_sensitive=args.show_sensitive))
    else:
        print(render_state(document, path))
    return EXIT_OK


def cmd_state_list(args: argparse.Namespace) -> int:
    state = ops.current_state(open_session(args))
    if args.json:
        _dump({"resources": [{"address": str(r.address), "exchange_name": r.exchange_name}
                             for r in state.resources]})
    elif state.resources:
        print(render_list(state, args.long))
    return EXIT_OK


def cmd_force_unlock(args: argparse.Namespace) -> int:
    done = ops.force_unlock(open_session(args), args.lock_id, force=args.force)
    who = safe(done.holder.describe())
    if args.json:
        _dump({"unlocked": True, "held": done.held, "holder": done.holder.describe()})
    elif done.held:
        print(f"Broke the lock held by {who}. If that process still runs, it stops at its next "
              "state write; run `exoform plan` to see where things stand.")
    else:
        print(f"The lock was not held: the record of {who} was stale (that process has exited). "
              "Cleared it.")
    return EXIT_OK


def cmd_completion(args: argparse.Namespace) -> int:
    print(completion_script(args.root, args.shell), end="")
    return EXIT_OK


def cmd_manpage(args: argparse.Namespace) -> int:
    print(manual_page(args.root), end="")
    return EXIT_OK
