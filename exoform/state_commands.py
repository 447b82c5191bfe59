"""The state commands for recovery and sharing (`state rm|mv|history|show --version|pull|push|
migrate`) and the `--lock-timeout` duration: open a session, call one operation, print what it
did. Errors are `ExoformError`s the CLI prints as one clear message."""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from exoform.commands import EXIT_OK, open_session
from exoform.engine.errors import ExoformError
from exoform.engine.model import Address
from exoform.engine.operations import moving, statecmds
from exoform.engine.operations.migrating import migrate, previous_session
from exoform.text import safe
from exoform.views.show import render_resource, render_state
from exoform.views.terraform_json import resource_document
from exoform.views.state import (
    history_json,
    render_history,
    render_migrated,
    render_moved,
    render_pulled,
    render_pushed,
    render_removed,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """`--lock-timeout` values as Terraform writes them: 0, 30s, 5m, 1h, 250ms (plain = seconds)."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration; write e.g. 30s, 5m or 1h")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _addresses(texts: list[str]) -> list[Address]:
    found = []
    for text in texts:
        try:
            found.append(Address.parse(text))
        except ValueError as error:
            raise ExoformError(f"'{safe(text)}' is not a resource address: {error}") from None
    return found


def cmd_state_rm(args: argparse.Namespace) -> int:
    removed = moving.remove_resources(open_session(args), _addresses(args.addresses),
                                      remove_marker=args.remove_marker)
    print(render_removed(removed))
    return EXIT_OK


def cmd_state_mv(args: argparse.Namespace) -> int:
    session = open_session(args)
    print(render_moved(moving.move_integration(session, args.old, args.new), session.spec.integration))
    return EXIT_OK


def cmd_state_history(args: argparse.Namespace) -> int:
    session = open_session(args)
    versions = statecmds.history(session)
    where = session.store.where
    print(json.dumps(history_json(where, versions), indent=2, sort_keys=True) if args.json
          else render_history(where, versions))
    return EXIT_OK


def cmd_state_show(args: argparse.Namespace) -> int:
    """One resource of the state (or, with --version, of that version), or the whole version."""
    session = open_session(args)
    state = statecmds.pulled(session, args.version)
    if args.address is None:
        if args.version is None:
            raise ExoformError("name a resource address (see `exoform state list`), or give --version N")
        print(render_state(state, f"{session.store.where} (version {args.version})"))
        return EXIT_OK
    address = _addresses([args.address])[0]
    resource = state.get(address)
    if resource is None:
        known = ", ".join(str(r.address) for r in state.resources) or "none"
        raise ExoformError(f"{address} is not in the state (known: {known})")
    if args.json:
        print(json.dumps(resource_document(resource, show_sensitive=args.show_sensitive), sort_keys=True))
    else:
        print(render_resource(resource))
    return EXIT_OK


def cmd_state_pull(args: argparse.Namespace) -> int:
    state = statecmds.pull(open_session(args), Path(args.file), args.version)
    print(render_pulled(state, args.file))
    return EXIT_OK


def cmd_state_push(args: argparse.Namespace) -> int:
    session = open_session(args)
    pushed = statecmds.push(session, Path(args.file), force=args.force)
    print(render_pushed(pushed, session.store.where))
    return EXIT_OK


def cmd_state_migrate(args: argparse.Namespace) -> int:
    session = open_session(args)
    migrated = migrate(session, previous_session(session, Path(args.previous)))
    if args.json:
        print(json.dumps({"copied": migrated.copied, "source": migrated.source, "target": migrated.target,
                          "lineage": migrated.state.lineage, "serial": migrated.state.serial}, sort_keys=True))
    else:
        print(render_migrated(migrated))
    return EXIT_OK
