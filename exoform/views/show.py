"""`show`, `state list` and `state show` output: a state file or a saved plan, read-only."""
from __future__ import annotations

from pathlib import Path

from exoform.engine.operations import sensitive_attrs
from exoform.engine.state import State, StateResource
from exoform.text import literal, safe
from exoform.views.plan import SENSITIVE


def render_state(state: State, path: Path | str) -> str:
    lines = [f"# state {safe(path)}: integration {state.integration}, serial {state.serial}, "
             f"lineage {state.lineage}"]
    if state.pending:
        lines.append(f"# WARNING: an apply was interrupted during {state.pending.cmdlet} "
                     f"'{safe(state.pending.identity)}'; run `exoform plan` to reconcile")
    lines += [render_resource(resource) for resource in state.resources]
    if not state.resources:
        lines.append("# (no resources)")
    return "\n".join(lines)


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


def render_list(state: State, long: bool) -> str:
    return "\n".join(f"{r.address}\t{safe(r.exchange_name)}" if long else str(r.address)
                     for r in state.resources)
