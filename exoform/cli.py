"""The `exoform` command line: one table of commands and their arguments (argparse), and the
one place where errors become exit codes and clear messages (never a traceback): usage errors
exit 1 with the subcommand's usage, `--json` commands report errors as JSON on stdout, and a
closed output pipe ends the command quietly. What each command does is in `exoform.commands`."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, NoReturn, Sequence

from exoform import __version__, commands, doctor_commands, fleet_commands, state_commands
from exoform.console import output_closed, tolerant_output
from exoform.engine.errors import ExoformError
from exoform.errors import Cancelled, error_json
from exoform.logs import LEVELS, configure_logging
from exoform.providers.emulator.cli import register as register_emulator
from exoform.signals import terminating_cleanly
from exoform.text import safe

DESCRIPTION = "exoform wires an email security gateway into Exchange Online, Terraform style."

EPILOG = """exit codes: 0 success, 1 error (nothing changed, or rolled back cleanly; also a usage
error), 2 changes (plan --detailed-exitcode), 3 apply failed and its rollback did not complete,
130 interrupted by Ctrl-C (143 by SIGTERM). Ctrl-C during apply/destroy stops after the tenant
call in progress (never between a call and its state record) and rolls back unless --no-rollback;
a second Ctrl-C while rolling back warns, a third stops the rollback (then `exoform plan` /
`exoform apply` converge).

environment: EXOFORM_CONFIG (-c), EXOFORM_STATE (--state), EXOFORM_AUTO_APPROVE=1
(--auto-approve), EXOFORM_NO_TOKEN_CACHE=1, EXOFORM_LOG (--log-level), EXOFORM_LOG_FILE,
EXOFORM_LOG_FORMAT, NO_COLOR or EXOFORM_NO_COLOR=1 (--no-color), EXOFORM_FAULTS (test faults:
Cmdlet#N[:error|throttle|unavailable|crash], comma-separated). A flag on the command line wins.
"""

Adder = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


class UsageError(Exception):
    """A command line argparse cannot accept; carries the parser whose usage to show."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """No abbreviated flags (`plan --refresh` must not run `--refresh-only`), and errors that
    exit 1 with this (sub)command's usage instead of argparse's exit 2 - the code
    `plan --detailed-exitcode` uses for "changes"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """As argparse, but arguments left over are the (sub)command's error, with its usage."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            target: argparse.ArgumentParser = getattr(parsed, "parser_of", self)
            target.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


def env_flag(name: str) -> bool:
    """A boolean environment equivalent of a flag; an unclear value is a usage error."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ExoformError(f"{name}={safe(os.environ[name])!r} is not a yes/no value; use 1 or 0")


def _common(p: argparse.ArgumentParser, *, state: bool = True, json_output: bool = True) -> None:
    p.add_argument("-c", "--config", default=os.environ.get("EXOFORM_CONFIG") or "exoform.json",
                   help="config file (default: $EXOFORM_CONFIG or exoform.json)")
    if state:
        p.add_argument("--state", default=os.environ.get("EXOFORM_STATE") or None,
                       help="state file (default: $EXOFORM_STATE or state/<integration>.json next to the config)")
        p.add_argument("--lock-timeout", type=state_commands.duration, default=0.0, metavar="DURATION",
                       help="wait this long for the state lock (e.g. 30s, 5m; default 0: fail at once)")
        p.add_argument("--allow-unsafe-state-folder", action="store_true",
                       help="go on (with a warning) when other users may write the state folder")
    if json_output:
        p.add_argument("--json", action="store_true",
                       help="machine-readable output on stdout (errors too, as {\"error\": ...})")
    p.add_argument("--no-token-cache", action="store_true", default=env_flag("EXOFORM_NO_TOKEN_CACHE"),
                   help="do not read or write the token cache")
    _output(p)


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-color", action="store_true", help="no colour (also: NO_COLOR set); "
                   "colour is only ever used on a terminal")
    p.add_argument("--log-level", choices=LEVELS, type=str.lower, default=os.environ.get("EXOFORM_LOG") or None,
                   help="log to stderr (or --log-file) from this level on; default $EXOFORM_LOG or none")
    p.add_argument("--log-file", metavar="FILE", default=os.environ.get("EXOFORM_LOG_FILE") or None,
                   help="append the log to FILE instead of stderr (default $EXOFORM_LOG_FILE)")
    p.add_argument("--log-format", choices=("text", "json"), default=os.environ.get("EXOFORM_LOG_FORMAT") or "text",
                   help="text lines, or one JSON object per line (default $EXOFORM_LOG_FORMAT or text)")


def _sensitive(p: argparse.ArgumentParser) -> None:
    p.add_argument("--show-sensitive", action="store_true",
                   help="show sensitive values (the tenant information) instead of (sensitive value)")


def _formats(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("human", "json", "markdown"), default=None,
                   help="human (default), json (= --json: Terraform's plan JSON on one line) or "
                        "markdown (for a pull request or ticket)")
    _sensitive(p)


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
    _formats(p)


def _change_args(name: str) -> Adder:
    def add(p: argparse.ArgumentParser) -> None:
        if name == "apply":
            p.add_argument("planfile", nargs="?", help="a plan saved with `plan --out`")
            _planning(p)
        p.add_argument("--auto-approve", action="store_true", default=env_flag("EXOFORM_AUTO_APPROVE"),
                       help="do not ask for confirmation (also: EXOFORM_AUTO_APPROVE=1)")
        p.add_argument("--no-rollback", action="store_true", help="keep partial progress on failure")
        _sensitive(p)
    return add


def _show_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="a saved plan or state file (default: the state)")
    _formats(p)


def _script_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("planfile", nargs="?", help="a plan saved with `plan --out` (default: plan now)")
    p.add_argument("--destroy", action="store_true", help="script the uninstall")
    p.add_argument("--accept-risk", action="append", metavar="ID", default=[],
                   help="acknowledge a finding (e.g. loop:NAME) so the script can be written; repeatable")
    p.add_argument("--adopt", action="store_true", help="take over unmarked objects that have the desired names")


def _trace_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("planfile", nargs="?", help="a plan saved with `plan --out` (default: plan now)")
    p.add_argument("--destroy", action="store_true", help="trace the uninstall")
    p.add_argument("--format", choices=("text", "mermaid", "dot"), default=None,
                   help="text (default): every class's path now, after each step and after the plan; "
                        "mermaid or dot: the planned mail flow drawn for reviewers")
    _planning(p)


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("planfile", nargs="?",
                   help="the saved plan a script was made from: the allow-list entries it added become exoform's")
    p.add_argument("--claim-entry", action="append", metavar="RANGE", default=[],
                   help="record this allow-list entry (one of the gateway's ranges, e.g. after a lost "
                        "state) as added by exoform, so destroy removes it; repeatable")
    _sensitive(p)


def _unlock_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("lock_id", metavar="LOCK_ID", help="the lock ID from the 'state is locked' error")
    p.add_argument("--force", action="store_true",
                   help="break the lock even though its holder still runs on this host")


def _completion_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete for")


def _none(p: argparse.ArgumentParser) -> None:
    pass


def _apply(args: argparse.Namespace) -> int:
    return commands.cmd_apply(args, "apply")


def _destroy(args: argparse.Namespace) -> int:
    return commands.cmd_apply(args, "destroy")


UNLOCK_DESCRIPTION = ("Clear the state lock whose ID a locked command printed. A lock whose holder "
                      "has exited is only a stale record; a lock still held is broken, which is "
                      "refused while the holder runs on this host unless --force.")

# name, help, arguments, handler, extra keyword arguments for add_parser (plus "state": False for
# a command without --state, "json": False for one that refuses --json)
COMMANDS: tuple[tuple[str, str, Adder, Handler, dict[str, Any]], ...] = (
    ("validate", "check the config file", _none, commands.cmd_validate, {"state": False}),
    ("plan", "show the changes apply would make (--out FILE saves them; --detailed-exitcode: 0/2/1)",
     _plan_args, commands.cmd_plan, {}),
    ("apply", "apply a saved plan, or plan and ask (rollback on failure; exit 1, or 3 if partial)",
     _change_args("apply"), _apply, {}),
    ("destroy", "remove everything exoform created for this integration (asks unless --auto-approve)",
     _change_args("destroy"), _destroy, {}),
    ("show", "print the state, or a saved plan file", _show_args, commands.cmd_show, {}),
    ("force-unlock", "clear a state lock left behind by a crashed or hung run (by its LOCK_ID)",
     _unlock_args, commands.cmd_force_unlock, {"description": UNLOCK_DESCRIPTION}),
    ("script", "print the plan as a PowerShell script (the \"Manual\" method)", _script_args,
     commands.cmd_script, {"json": False}),
    ("import", "take existing objects (vendor wizard, manual or script install) into state",
     _import_args, commands.cmd_import, {}),
    ("drift", "report changes made outside exoform since the last apply (= plan --refresh-only; 0/2/1)",
     _none, commands.cmd_drift, {}),
    ("trace", "trace every message class through the tenant now, after each step and after the plan "
     "(loops, bypasses, stopped rules)", _trace_args, commands.cmd_trace, {}),
    ("doctor", "pre-flight check of the tenant, changing nothing (exit 0 ready, 1 missing)",
     doctor_commands.add_args, doctor_commands.cmd_doctor,
     {"state": False, "description": doctor_commands.DESCRIPTION}),
)


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-l", "--long", action="store_true", help="also print Exchange names")


def _address_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("address", nargs="?", help="e.g. transport_rule.spf")
    p.add_argument("--version", type=int, metavar="SERIAL", help="read that version from the history")
    _sensitive(p)


def _rm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("addresses", nargs="+", metavar="ADDRESS", help="e.g. transport_rule.spf")
    p.add_argument("--remove-marker", action="store_true",
                   help="also take exoform's marker off the objects (else the next plan adopts them again)")


def _mv_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", metavar="OLD", help="the integration's current name")
    p.add_argument("new", metavar="NEW", help="its new name (re-marks its objects, moves its state)")


def _pull_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="where to write the state (0600; it holds the tenant information)")
    p.add_argument("--version", type=int, metavar="SERIAL", help="that version from the history")


def _push_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a state file (e.g. from `state pull`)")
    p.add_argument("--force", action="store_true", help="replace a state of another lineage or a newer serial")


def _migrate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="previous", required=True, metavar="CONFIG",
                   help="the config as it was before its backend (or encryption) block changed")


STATE_COMMANDS: tuple[tuple[str, str, Adder, Handler], ...] = (
    ("list", "list resource addresses", _list_args, commands.cmd_state_list),
    ("show", "show one resource (or a version with --version)", _address_args, state_commands.cmd_state_show),
    ("rm", "forget resources (the objects stay in the tenant)", _rm_args, state_commands.cmd_state_rm),
    ("mv", "rename an integration: move its state, re-mark its objects", _mv_args, state_commands.cmd_state_mv),
    ("history", "list the versions of the state the backend keeps", _none, state_commands.cmd_state_history),
    ("pull", "write the state to a file", _pull_args, state_commands.cmd_state_pull),
    ("push", "replace the state with a file", _push_args, state_commands.cmd_state_push),
    ("migrate", "copy the state to the backend the config names now", _migrate_args,
     state_commands.cmd_state_migrate),
)

# Commands that read no config: name, help, arguments, handler (they refuse --json).
TOOL_COMMANDS: tuple[tuple[str, str, Adder, Handler], ...] = (
    ("completion", "print a shell completion script (bash, zsh or fish; installed nowhere)",
     _completion_args, commands.cmd_completion),
    ("manpage", "print the manual page (roff, generated from this parser; installed nowhere)",
     _none, commands.cmd_manpage),
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="exoform", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"exoform {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, text, add, handler, extra in COMMANDS[:5]:
        _add(sub, name, text, add, handler, extra)
    state = sub.add_parser("state", help="inspect, repair, move and share the state",
                           description="The state: list, show, rm, mv, history, pull, push, migrate.")
    state.set_defaults(func=None)
    state_sub = state.add_subparsers(dest="state_command", metavar="SUBCOMMAND", title="subcommands")
    for name, text, add, handler in STATE_COMMANDS:
        _add(state_sub, name, text, add, handler, {})
    for name, text, add, handler, extra in COMMANDS[5:]:
        _add(sub, name, text, add, handler, extra)
    fleet_commands.register(sub)
    register_emulator(sub)
    for name, text, add, handler in TOOL_COMMANDS:
        tool = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        add(tool)
        tool.set_defaults(func=handler, root=parser)
    _own_usage(parser)
    return parser


def _own_usage(parser: argparse.ArgumentParser) -> None:
    """Every (sub)command names itself, for its usage in errors and when it runs without a
    subcommand (`exoform state` prints the state subcommands)."""
    parser.set_defaults(parser_of=parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _own_usage(child)


def _add(sub: Any, name: str, text: str, add: Adder, handler: Handler, extra: dict[str, Any]) -> None:
    options = dict(extra)
    with_state = options.pop("state", True)
    with_json = options.pop("json", True)
    options.setdefault("description", text[0].upper() + text[1:] + ".")
    p = sub.add_parser(name, help=text, **options)
    _common(p, state=with_state, json_output=with_json)
    add(p)
    p.set_defaults(func=handler)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    pairs = zip(arguments, arguments[1:] + [""])
    wants_json = "--json" in arguments or "--format=json" in arguments or ("--format", "json") in pairs
    try:
        return _run(arguments, wants_json)
    except BrokenPipeError:
        return output_closed()


def _run(arguments: list[str], wants_json: bool) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(arguments)
    except UsageError as usage:
        return _usage_error(usage, wants_json)
    except ExoformError as error:  # a bad EXOFORM_* value
        return _report(error, wants_json)
    if not getattr(args, "func", None):
        target: argparse.ArgumentParser = getattr(args, "parser_of", parser)
        target.print_help()
        return 1
    # A closed pipe never stops a command half-way; SIGTERM/SIGHUP release locks on the way out.
    with tolerant_output(), terminating_cleanly():
        try:
            configure_logging(getattr(args, "log_level", None), getattr(args, "log_file", None),
                              getattr(args, "log_format", "text"))
            return int(args.func(args))
        except ExoformError as error:
            return _report(error, bool(getattr(args, "json", False)) or getattr(args, "format", None) == "json")
        except KeyboardInterrupt:
            print("\nInterrupted.", file=sys.stderr)
            return 130


def _usage_error(usage: UsageError, as_json: bool) -> int:
    usage.parser.print_usage(sys.stderr)
    print(f"Error: {safe(usage)}\nRun '{usage.parser.prog} --help' for the options.", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": {"code": "usage", "message": str(usage), "path": None}}))
    return 1


def _report(error: ExoformError, as_json: bool) -> int:
    # Line by line: a multi-line message keeps its lines, but nothing inside a line (values
    # from files) can act on the terminal.
    text = "\n".join(safe(line) for line in str(error).splitlines())
    print(text if isinstance(error, Cancelled) else f"Error: {text}", file=sys.stderr)
    if as_json:
        print(json.dumps(error_json(error), sort_keys=True))
    return 1
