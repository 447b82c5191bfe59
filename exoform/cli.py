"""The `exoform` command line: one table of commands and their arguments (argparse), and the
one place where errors become exit codes and clear messages (never a traceback for a user's
mistake). What each command does is in `exoform.commands`."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from exoform import __version__, commands, doctor_commands, fleet_commands
from exoform.engine.errors import ExoformError
from exoform.providers.emulator.cli import register as register_emulator
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
  doctor     check, changing nothing, that exoform can manage the tenant (sign-in, role, reads, MX)
  fleet      many tenants in one run: fleet plan|apply|destroy|drift|status|doctor -f FLEET
"""

EPILOG = """exit codes: 0 success, 1 error (nothing changed, or rolled back cleanly), 2 changes
(plan --detailed-exitcode), 3 apply failed and its rollback did not complete, 130 interrupted by
Ctrl-C (143 by SIGTERM). Ctrl-C during apply/destroy stops after the tenant call in progress (never
between a call and its state record) and rolls back unless --no-rollback; a second Ctrl-C while
rolling back warns, a third stops the rollback (then `exoform plan` / `exoform apply` converge).
"""

Adder = Callable[[argparse.ArgumentParser], None]


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


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="FILE", help="save the plan for `exoform apply FILE`")
    p.add_argument("--destroy", action="store_true", help="plan the removal of everything")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 0 no changes, 2 changes, 1 error")
    p.add_argument("--verify", action="store_true",
                   help="only check that the tenant matches (e.g. after running a script): exit 0 yes, 2 no, 1 error")
    p.add_argument("--refresh-only", action="store_true",
                   help="drift report: what changed outside exoform since the last apply (exit 0 none, 2 drift, 1 error)")
    _planning(p)


def _change_args(name: str) -> Adder:
    def add(p: argparse.ArgumentParser) -> None:
        if name == "apply":
            p.add_argument("planfile", nargs="?", help="a plan saved with `plan --out`")
            _planning(p)
        p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
        p.add_argument("--no-rollback", action="store_true", help="keep partial progress on failure")
    return add


def _show_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="a saved plan or state file (default: the state)")


def _script_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("planfile", nargs="?", help="a plan saved with `plan --out` (default: plan now)")
    p.add_argument("--destroy", action="store_true", help="script the uninstall")
    p.add_argument("--accept-risk", action="append", metavar="ID", default=[],
                   help="acknowledge a finding (e.g. loop:NAME) so the script can be written; repeatable")
    p.add_argument("--adopt", action="store_true", help="take over unmarked objects that have the desired names")


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("planfile", nargs="?",
                   help="the saved plan a script was made from: the allow-list entries it added become exoform's")


def _unlock_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("lock_id", metavar="LOCK_ID", help="the lock ID from the 'state is locked' error")
    p.add_argument("--force", action="store_true",
                   help="break the lock even though its holder still runs on this host")


def _none(p: argparse.ArgumentParser) -> None:
    pass


def _apply(args: argparse.Namespace) -> int:
    return commands.cmd_apply(args, "apply")


def _destroy(args: argparse.Namespace) -> int:
    return commands.cmd_apply(args, "destroy")


UNLOCK_DESCRIPTION = ("Clear the state lock whose ID a locked command printed. A lock whose holder "
                      "has exited is only a stale record; a lock still held is broken, which is "
                      "refused while the holder runs on this host unless --force.")

# name, help, arguments, handler, extra keyword arguments for add_parser
COMMANDS: tuple[tuple[str, str, Adder, Callable[[argparse.Namespace], int], dict[str, Any]], ...] = (
    ("validate", "check the config file", _none, commands.cmd_validate, {"state": False}),
    ("plan", "show the changes apply would make", _plan_args, commands.cmd_plan, {}),
    ("apply", "apply (asks for confirmation unless --auto-approve)", _change_args("apply"), _apply, {}),
    ("destroy", "destroy (asks for confirmation unless --auto-approve)", _change_args("destroy"), _destroy, {}),
    ("show", "print the state or a saved plan", _show_args, commands.cmd_show, {}),
    ("force-unlock", "clear a state lock left behind (by its LOCK_ID)", _unlock_args,
     commands.cmd_force_unlock, {"description": UNLOCK_DESCRIPTION}),
    ("script", "print the plan as a PowerShell script (the \"Manual\" method)", _script_args,
     commands.cmd_script, {}),
    ("import", "take existing objects (wizard, manual or script install) into state", _import_args,
     commands.cmd_import, {}),
    ("drift", "report changes made outside exoform since the last apply (exit 0/2/1)", _none,
     commands.cmd_drift, {}),
    ("doctor", "pre-flight check of the tenant, changing nothing (exit 0 ready, 1 missing)",
     doctor_commands.add_args, doctor_commands.cmd_doctor,
     {"state": False, "description": doctor_commands.DESCRIPTION}),
)
def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-l", "--long", action="store_true", help="also print Exchange names")


def _address_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("address", help="e.g. transport_rule.spf")


STATE_COMMANDS: tuple[tuple[str, str, Adder, Callable[[argparse.Namespace], int]], ...] = (
    ("list", "list resource addresses", _list_args, commands.cmd_state_list),
    ("show", "show one resource", _address_args, commands.cmd_state_show),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exoform", description=HELP, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"exoform {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text, add, handler, extra in COMMANDS[:5]:
        _add(sub, name, text, add, handler, extra)
    state = sub.add_parser("state", help="inspect the state").add_subparsers(dest="state_command", metavar="SUBCOMMAND")
    for name, text, add, handler in STATE_COMMANDS:
        _add(state, name, text, add, handler, {})
    for name, text, add, handler, extra in COMMANDS[5:]:
        _add(sub, name, text, add, handler, extra)
    fleet_commands.register(sub)
    register_emulator(sub)
    return parser


def _add(sub: Any, name: str, text: str, add: Adder, handler: Callable[[argparse.Namespace], int],
         extra: dict[str, Any]) -> None:
    options = dict(extra)
    with_state = options.pop("state", True)
    p = sub.add_parser(name, help=text, **options)
    _common(p, state=with_state)
    add(p)
    p.set_defaults(func=handler)


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
