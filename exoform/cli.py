"""The `exoform` command line: argparse wiring and the one place where errors become exit
codes and clear messages (never a traceback for a user's mistake)."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from exoform import __version__
from exoform.engine.errors import ExoformError
from exoform.text import safe

HELP = """exoform wires an email security gateway into Exchange Online, Terraform style:
  validate   check the config file
  plan       show what would change (--out FILE saves it, --detailed-exitcode: 0/2/1)
  apply      apply a saved plan, or plan and ask (rollback on failure; exit 1, or 3 if partial)
  destroy    remove everything exoform created for this integration
  show       print the state, or a saved plan file
  state      list / show resources in the state
  force-unlock LOCK_ID  clear a state lock left behind by a crashed or hung run
  script     print the plan as a PowerShell script (the "Manual" method)
  import     take existing objects (vendor wizard, manual or script install) into state
  drift      report changes made outside exoform since the last apply (= plan --refresh-only)
"""


def _common(p: argparse.ArgumentParser, *, state: bool = True) -> None:
    p.add_argument("-c", "--config", default="exoform.json", help="config file (default: exoform.json)")
    if state:
        p.add_argument("--state", help="state file (default: state/<integration>.json)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--no-token-cache", action="store_true", help="do not read or write the token cache")


def _planning(p: argparse.ArgumentParser) -> None:
    """Options that change what a plan may do (recorded in a saved plan)."""
    p.add_argument("--accept-risk", action="append", metavar="ID", default=[],
                   help="acknowledge a finding (e.g. loop:NAME) so it no longer blocks apply; repeatable")
    p.add_argument("--adopt", action="store_true",
                   help="take over unmarked objects that already have the desired names (see `exoform import`)")


EPILOG = """exit codes: 0 success, 1 error (nothing changed, or rolled back cleanly), 2 changes
(plan --detailed-exitcode), 3 apply failed and its rollback did not complete, 130 interrupted by
Ctrl-C (143 by SIGTERM). Ctrl-C during apply/destroy stops after the tenant call in progress (never
between a call and its state record) and rolls back unless --no-rollback; a second Ctrl-C while
rolling back warns, a third stops the rollback (then `exoform plan` / `exoform apply` converge).
"""


def build_parser() -> argparse.ArgumentParser:
    from exoform import commands, locking, show

    parser = argparse.ArgumentParser(prog="exoform", description=HELP, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"exoform {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("validate", help="check the config file")
    _common(p, state=False)
    p.set_defaults(func=commands.cmd_validate)
    p = sub.add_parser("plan", help="show the changes apply would make")
    _common(p)
    p.add_argument("--out", metavar="FILE", help="save the plan for `exoform apply FILE`")
    p.add_argument("--destroy", action="store_true", help="plan the removal of everything")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 0 no changes, 2 changes, 1 error")
    p.add_argument("--verify", action="store_true",
                   help="only check that the tenant matches (e.g. after running a script): exit 0 yes, 2 no, 1 error")
    p.add_argument("--refresh-only", action="store_true",
                   help="drift report: what changed outside exoform since the last apply (exit 0 none, 2 drift, 1 error)")
    _planning(p)
    p.set_defaults(func=commands.cmd_plan)
    for name, operation in (("apply", "apply"), ("destroy", "destroy")):
        p = sub.add_parser(name, help=f"{name} (asks for confirmation unless --auto-approve)")
        _common(p)
        if name == "apply":
            p.add_argument("planfile", nargs="?", help="a plan saved with `plan --out`")
            _planning(p)
        p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
        p.add_argument("--no-rollback", action="store_true", help="keep partial progress on failure")
        p.set_defaults(func=_bind(commands.cmd_apply, operation))
    p = sub.add_parser("show", help="print the state or a saved plan")
    _common(p)
    p.add_argument("file", nargs="?", help="a saved plan or state file (default: the state)")
    p.set_defaults(func=show.cmd_show)
    state = sub.add_parser("state", help="inspect the state").add_subparsers(dest="state_command", metavar="SUBCOMMAND")
    p = state.add_parser("list", help="list resource addresses")
    _common(p)
    p.add_argument("-l", "--long", action="store_true", help="also print Exchange names")
    p.set_defaults(func=show.cmd_state_list)
    p = state.add_parser("show", help="show one resource")
    _common(p)
    p.add_argument("address", help="e.g. transport_rule.spf")
    p.set_defaults(func=show.cmd_state_show)
    locking.register(sub, _common)
    _register_extras(sub)
    return parser


def _register_extras(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Commands that live beside their features (PowerShell script, emulator)."""
    from exoform import drift, importing, script

    script.register(sub, _common)
    importing.register(sub, _common)
    drift.register(sub, _common)
    try:
        from exoform.providers.emulator.cli import register
    except ImportError:  # the emulator needs the test extra (trustme, cryptography)
        return
    register(sub)


def _bind(fn: Callable[..., int], operation: str) -> Callable[[argparse.Namespace], int]:
    return lambda args: fn(args, operation)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args))
    except ExoformError as error:
        # Line by line: a multi-line message keeps its lines, but nothing inside a line
        # (values from files) can act on the terminal.
        text = "\n".join(safe(line) for line in str(error).splitlines())
        print(f"Error: {text}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
