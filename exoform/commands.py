"""What each CLI command does: load the config and state, read the tenant through the
provider, plan, render, ask, apply. Returns exit codes; raises `ExoformError` for anything a
user must fix (the CLI prints it as one clear message)."""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from exoform.console import ConsoleReporter, confirm
from exoform.engine.apply import ApplyResult, Executor
from exoform.engine.config import load_config
from exoform.engine.errors import ExoformError, PlanError
from exoform.engine.lock import StateLock
from exoform.interrupts import exit_code as interrupt_exit_code, handling_interrupts, render_interrupted
from exoform.engine.plan import Plan
from exoform.engine.planfile import plan_to_json, read_plan, write_plan
from exoform.engine.planner import PlanRequest, make_plan
from exoform.engine.provider import READ_TYPES, Provider
from exoform.engine.spec import IntegrationSpec
from exoform.engine.state import State
from exoform.engine.statefile import StateStore, default_state_path
from exoform.providers.registry import make_provider, tenant_label
from exoform.render import render_diagnostics, render_plan, render_result

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_PARTIAL = 0, 1, 2, 3


@dataclass
class Context:
    args: argparse.Namespace
    spec: IntegrationSpec
    store: StateStore
    reporter: ConsoleReporter

    @classmethod
    def load(cls, args: argparse.Namespace) -> "Context":
        spec = load_config(args.config)
        path = Path(args.state) if args.state else default_state_path(spec.integration)
        stream = sys.stderr if getattr(args, "json", False) else sys.stdout
        return cls(args, spec, StateStore(path), ConsoleReporter(stream))

    def provider(self) -> Provider:
        return make_provider(
            self.spec.tenant, self.spec.integration, self.reporter,
            token_cache=not getattr(self.args, "no_token_cache", False),
            prompt=lambda text: print(text, file=sys.stderr, flush=True),
        )

    def plan(self, provider: Provider, state: State, operation: str, *, adopt: bool | None = None,
             accepted: tuple[str, ...] | None = None, read: dict[str, Any] | None = None) -> Plan:
        """The plan now; `adopt`/`accepted` default to the --adopt/--accept-risk flags, `read`
        to a fresh read of the tenant."""
        spec, args = self.spec, self.args
        label = tenant_label(spec.tenant, spec.integration)
        adopt = bool(getattr(args, "adopt", False)) if adopt is None else adopt
        accepted = tuple(getattr(args, "accept_risk", None) or ()) if accepted is None else accepted
        read = provider.read(READ_TYPES) if read is None else read
        request = PlanRequest.for_spec(spec, read, state, operation, label, adopt=adopt, accepted_risks=accepted)
        plan = make_plan(request)
        if not self.store.exists():
            # A state that does not exist yet has no lineage to pin (Terraform does the same).
            plan = replace(plan, state_lineage="")
        return plan


def cmd_validate(args: argparse.Namespace) -> int:
    spec = load_config(args.config)
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
            from exoform.drift import cmd_drift

            return cmd_drift(args)
    ctx = Context.load(args)
    operation = "destroy" if args.destroy else "apply"
    with ExitStack() as stack:
        provider = ctx.provider()
        stack.callback(provider.close)
        state = ctx.store.load(ctx.spec.integration)
        plan = ctx.plan(provider, state, operation)
    if args.verify:
        return _verify(plan, args.json)
    if args.out:
        write_plan(Path(args.out), plan)
    if args.json:
        print(json.dumps(plan_to_json(plan), indent=2, sort_keys=True))
    else:
        print(render_plan(plan))
        if args.out:
            print(f"\nSaved the plan to {args.out}. To perform exactly these actions, run:\n"
                  f"  exoform apply {args.out}")
    if plan.errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def _verify(plan: Plan, as_json: bool) -> int:
    """Does the tenant match? Only tenant work counts: recording objects in state does not."""
    matches = not plan.errors and not plan.steps
    if as_json:
        print(json.dumps({"matches": matches, "steps": len(plan.steps), "plan": plan_to_json(plan)},
                         indent=2, sort_keys=True))
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
    ctx = Context.load(args)
    with ExitStack() as stack:
        lock = stack.enter_context(StateLock(ctx.store.path, f"exoform {operation}"))
        ctx.store.guard = lock.verify  # stop before writing if force-unlock broke the lock
        provider = ctx.provider()
        stack.callback(provider.close)
        state = ctx.store.load(ctx.spec.integration)
        saved = getattr(args, "planfile", None)
        read = provider.read(READ_TYPES)
        plan = _saved_plan(ctx, provider, state, Path(saved), read) if saved else ctx.plan(provider, state, operation, read=read)
        if not args.json:
            print(render_plan(plan))
        if plan.errors:
            print("\nError: the plan has errors (above); nothing was changed.", file=sys.stderr)
            return EXIT_ERROR
        if not plan.has_changes:
            # Nothing to change in the tenant, but state still records what was just read (like
            # Terraform's refresh on apply): an interrupted call's pending record is settled, a
            # rule the admin enabled is recorded as enabled. Saved only if something differs.
            Executor(provider, ctx.store, ctx.reporter).settle(plan, state)
            return _print_json(plan, None) if args.json else EXIT_OK
        asked = not (args.auto_approve or saved)
        if asked and not confirm(_question(plan)):
            print("\nApply cancelled; nothing was changed.", file=sys.stderr)
            return EXIT_ERROR
        with handling_interrupts(ctx.reporter) as interrupts:
            executor = Executor(provider, ctx.store, ctx.reporter, interrupts=interrupts)
            # The read the plan came from is the pre-apply snapshot, unless a person took time
            # to answer the prompt in between: then the executor reads the tenant again.
            result = executor.apply(plan, state, rollback=not args.no_rollback, read=None if asked else read)
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
    body: dict[str, Any] = {"plan": plan_to_json(plan)}
    if result is not None:
        body["result"] = {
            "ok": result.ok, "completed_steps": list(result.completed),
            "failed_step": result.failed_step, "error": str(result.error) if result.error else None,
            "rolled_back": result.rolled_back, "rollback_complete": result.rollback_complete,
            "leftovers": list(result.leftovers), "interrupted": result.interrupted,
        }
    print(json.dumps(body, indent=2, sort_keys=True))
    return EXIT_OK


def _saved_plan(ctx: Context, provider: Provider, state: State, path: Path, read: dict[str, Any]) -> Plan:
    """Load a saved plan and refuse it unless it still describes exactly what would happen."""
    plan = read_plan(path)
    spec = ctx.spec
    lineage = state.lineage if ctx.store.exists() else ""
    if plan.integration != spec.integration or plan.tenant != tenant_label(spec.tenant, spec.integration):
        raise PlanError(f"{path} was made for integration '{plan.integration}' on {plan.tenant}, "
                        "not this configuration's; make a new plan with `exoform plan --out`")
    if plan.state_lineage == "" and lineage:
        raise PlanError(f"saved plan {path} is stale: it was made before any state existed and "
                        f"{ctx.store.path} has been written since; make a new plan")
    if plan.state_lineage != lineage:
        raise PlanError(f"{path} does not match the state {ctx.store.path} (different lineage); "
                        "it was made against another state — make a new plan")
    if plan.state_serial != state.serial:
        raise PlanError(f"saved plan {path} is stale: the state changed (serial {plan.state_serial} "
                        f"-> {state.serial}) after it was made; make a new plan")
    if plan.config_digest != spec.digest:
        raise PlanError(f"saved plan {path} is stale: {spec.source} changed after it was made; "
                        "make a new plan")
    fresh = ctx.plan(provider, state, plan.operation, adopt=plan.adopt, accepted=plan.accepted_risks, read=read)
    if fresh.errors:
        raise PlanError(f"saved plan {path} can no longer be applied: the tenant changed after it was "
                        f"made and planning now finds: {fresh.errors[0].message}")
    if _comparable(fresh) != _comparable(plan):
        raise PlanError(f"saved plan {path} is stale: the tenant changed after it was made, so "
                        "its steps are no longer what exoform would do; make a new plan")
    return plan


def _comparable(plan: Plan) -> Any:
    body = plan_to_json(plan)
    return body["resource_changes"], body["steps"]
