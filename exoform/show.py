"""`show`, `state list` and `state show`: print a state file or a saved plan, read-only."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from exoform.engine.errors import ExoformError
from exoform.engine.jsonfile import read_json
from exoform.engine.kinds import sensitive_attrs
from exoform.engine.model import Address
from exoform.engine.planfile import read_plan, plan_to_json
from exoform.engine.state import State, StateResource, to_json
from exoform.engine.statefile import read_state_file, default_state_path
from exoform.engine.config import load_config
from exoform.render import SENSITIVE, render_plan
from exoform.text import literal, safe


def _state_path(args: argparse.Namespace) -> Path:
    if getattr(args, "state", None):
        return Path(args.state)
    return default_state_path(load_config(args.config).integration)


def _load_state(path: Path) -> State:
    if not path.exists():
        raise ExoformError(f"no state at {path}: nothing has been applied for this integration yet")
    return read_state_file(path)


def cmd_show(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else _state_path(args)
    if args.file and path.exists() and isinstance(data := read_json(path, "plan or state"), dict) \
            and "resource_changes" in data:
        plan = read_plan(path)
        print(json.dumps(plan_to_json(plan), indent=2, sort_keys=True) if args.json else render_plan(plan))
        return 0
    state = _load_state(path)
    if args.json:
        print(json.dumps(to_json(state), indent=2, sort_keys=True))
        return 0
    print(f"# state {safe(path)}: integration {state.integration}, serial {state.serial}, "
          f"lineage {state.lineage}")
    if state.pending:
        print(f"# WARNING: an apply was interrupted during {state.pending.cmdlet} "
              f"'{safe(state.pending.identity)}'; run `exoform plan` to reconcile")
    for resource in state.resources:
        print(render_resource(resource))
    if not state.resources:
        print("# (no resources)")
    return 0


def render_resource(resource: StateResource) -> str:
    hidden = sensitive_attrs(resource.address.kind)
    lines = [f"# {resource.address}:", f"resource \"{resource.address.kind.value}\" \"{resource.address.name}\" {{"]
    rows = [("guid", resource.guid)] + [(k, v) for k, v in resource.attributes if v not in (None, ())]
    if resource.owned_entries:
        rows.append(("owned_entries", resource.owned_entries))
    if resource.dependencies:
        rows.append(("dependencies", tuple(str(d) for d in resource.dependencies)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        shown = SENSITIVE if key in hidden else literal(value)
        lines.append(f"    {key.ljust(width)} = {shown}")
    lines.append("}")
    return "\n".join(lines)


def cmd_state_list(args: argparse.Namespace) -> int:
    state = _load_state(_state_path(args))
    for resource in state.resources:
        print(f"{resource.address}\t{safe(resource.exchange_name)}" if args.long else str(resource.address))
    return 0


def cmd_state_show(args: argparse.Namespace) -> int:
    try:
        address = Address.parse(args.address)
    except ValueError as error:
        raise ExoformError(f"'{safe(args.address)}' is not a resource address: {error}") from None
    state = _load_state(_state_path(args))
    resource = state.get(address)
    if resource is None:
        known = ", ".join(str(r.address) for r in state.resources) or "none"
        raise ExoformError(f"{address} is not in the state (known: {known})")
    print(render_resource(resource))
    return 0
