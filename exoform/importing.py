"""`exoform import [PLANFILE]`: take what the tenant already holds for this configuration into
state without any tenant call — objects with our marker, and unmarked objects with the desired
names (the vendor's wizard, a manual install, an `exoform script` run) — then show the
differences the next apply fixes. Objects marked by another integration are never taken."""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from exoform.engine.adoption import ImportResult, import_state
from exoform.engine.blueprint import ALLOWLIST
from exoform.engine.errors import PlanError
from exoform.engine.lock import StateLock
from exoform.engine.model import Address
from exoform.engine.ownership import owner
from exoform.engine.plan import Plan, Severity
from exoform.engine.planfile import plan_to_json, read_plan
from exoform.engine.provider import READ_TYPES
from exoform.render import render_diagnostics, render_plan
from exoform.text import safe


def register(sub: argparse._SubParsersAction, common: Callable[..., None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("import", help="take existing objects (wizard, manual or script install) into state")
    common(p)
    p.add_argument("planfile", nargs="?",
                   help="the saved plan a script was made from: the allow-list entries it added become exoform's")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from exoform.commands import Context

    ctx = Context.load(args)
    claim = _claimed(Path(args.planfile), ctx.spec.integration) if args.planfile else ()
    with ExitStack() as stack:
        stack.enter_context(StateLock(ctx.store.path, "exoform import"))
        provider = ctx.provider()
        stack.callback(provider.close)
        state = ctx.store.load(ctx.spec.integration)
        read = provider.read(READ_TYPES)
        found = ctx.plan(provider, state, "apply", adopt=True, accepted=(), read=read)
        conflicts = [d for d in found.diagnostics if d.severity is Severity.ERROR and d.code == "name_conflict"]
        if conflicts:
            print(render_diagnostics(found), file=sys.stderr)
            raise PlanError("objects with the configured names belong to another integration (above); "
                            "nothing was imported")
        result = import_state(found, state, claim)
        if not result.state.same_content(state):
            ctx.store.save(result.state)
        after = ctx.plan(provider, result.state, "apply", adopt=False, read=read)
    _report(found, result, after, args.json)
    return 0


def _claimed(path: Path, integration: str) -> tuple[str, ...]:
    plan = read_plan(path)
    if plan.integration != integration or plan.operation != "apply":
        raise PlanError(f"{path} is a {plan.operation} plan for integration '{plan.integration}', not an "
                        f"apply plan for '{integration}'")
    return next((c.list_add for c in plan.changes if c.address == ALLOWLIST), ())


def _report(found: Plan, result: ImportResult, after: Plan, as_json: bool) -> None:
    if as_json:
        body: dict[str, Any] = {
            "imported": [str(a) for a in result.taken], "refreshed": [str(a) for a in result.refreshed],
            "dropped": [str(a) for a in result.dropped], "plan": plan_to_json(after),
        }
        print(json.dumps(body, indent=2, sort_keys=True))
        return
    if not (result.taken or result.refreshed or result.dropped):
        print("Nothing to import: the state already records what the tenant holds for this configuration.\n")
    else:
        print(f"Import complete: {len(result.taken)} taken into state, {len(result.refreshed)} refreshed "
              f"from the tenant, {len(result.dropped)} dropped (gone from the tenant). No tenant calls were made.")
        print("\n".join(_line(found, a, mark) for mark, group in (("+", result.taken), ("~", result.refreshed),
                                                                   ("-", result.dropped)) for a in group) + "\n")
    print("What the next `exoform apply` would change:\n" if after.has_changes else "", end="")
    print(render_plan(after))


def _line(plan: Plan, address: Address, mark: str) -> str:
    try:
        change = plan.change(address)
    except KeyError:
        return f"  {mark} {address}"
    note = ""
    if mark == "+" and change.before and owner(address.kind, change.before_dict) is None and \
            address != ALLOWLIST:
        note = " (no exoform marker yet: the next apply writes it)"
    return f"  {mark} {address} \"{safe(change.exchange_name)}\"{note}"
