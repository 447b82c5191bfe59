"""What the chaos harness checks and how it names a kill point.

Kill points come from the state's pending record (which step's call was in flight), the
killed process's progress lines (rolling back or not), and the tenant compared with a
simulation of the plan's steps (did the in-flight call take effect?). Invariants after
recovery: our objects match the state one to one, unmanaged objects and allow-list entries
are untouched, the state is valid with its lineage kept and its serial never going back.
"""
from __future__ import annotations

import copy
import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.kinds import normalize, normalize_ip
from exoform.engine.model import Kind
from exoform.engine.ownership import owner
from exoform.engine.plan import Plan
from exoform.engine.read import TenantRead
from exoform.engine.snapshot import snapshot
from exoform.engine.state import State
from exoform.providers.sandbox import tenant_issues
from exoform.providers.tenant_model import TenantModel, dump_tenant, empty_tenant

TYPES = ("InboundConnector", "OutboundConnector", "TransportRule", "HostedConnectionFilterPolicy")
OBJECT_KINDS = (Kind.INBOUND_CONNECTOR, Kind.OUTBOUND_CONNECTOR, Kind.TRANSPORT_RULE)


def canonical(document: Mapping[str, Any]) -> str:
    """The bytes the sandbox writes for `document` (ids and defaults filled in)."""
    model = TenantModel({**empty_tenant(), **document})
    full = model.document()
    for exchange_type in TYPES:
        full[exchange_type] = model.invoke(CmdletCall.of(f"Get-{exchange_type}"))
    return dump_tenant(full)


def read_all(document: Mapping[str, Any]) -> TenantRead:
    model = TenantModel(copy.deepcopy(dict(document)))
    return TenantRead({t: model.invoke(CmdletCall.of(f"Get-{t}")) for t in TYPES})


def step_snapshots(document: Mapping[str, Any], plan: Plan) -> list[dict[str, Any]]:
    """snapshots[i]: the tenant after the plan's first i steps (simulated on a copy)."""
    model = TenantModel(copy.deepcopy(dict(document)))
    shots = [snapshot(read_all(model.document()))]
    for step in plan.steps:
        try:
            model.invoke(step.call)
        except Exception:  # noqa: BLE001 - a step the simulation cannot run: stop simulating
            break
        shots.append(snapshot(read_all(model.document())))
    return shots


@dataclass(frozen=True)
class KillPoint:
    phase: str  # startup/planning, apply, rollback, finished
    position: str  # e.g. "in call, took effect"
    step: int | None  # plan step index (from 0)
    cmdlet: str

    @property
    def key(self) -> str:
        step = "-" if self.step is None else str(self.step + 1)
        return f"{self.phase}|{self.position}|{step}|{self.cmdlet}"


def kill_point(state: State | None, lines: Sequence[str], document: Mapping[str, Any],
               shots: Sequence[dict[str, Any]], exit_code: int | None) -> KillPoint:
    """Where the process was when it died, as far as its files and output tell."""
    if exit_code is not None and exit_code >= 0:
        return KillPoint("finished", f"exited {exit_code} before the kill", None, "")
    rolling = any("Rolling back" in line for line in lines)
    phase = "rollback" if rolling else "apply"
    pending = state.pending if state is not None else None
    if pending is not None:
        now = snapshot(read_all(document))
        k = pending.step
        done, undone = (k + 1, k) if phase == "apply" else (k, k + 1)
        landed = "?"
        if done < len(shots) and now == shots[done]:
            landed = "took effect"
        elif undone < len(shots) and now == shots[undone]:
            landed = "not yet in effect"
        return KillPoint(phase, f"in call, {landed}", k, pending.cmdlet)
    started = [line for line in lines if line.startswith("[")]
    if not started and not rolling:
        return KillPoint("startup/planning", "before the first step", None, "")
    if rolling:
        return KillPoint("rollback", "between undo steps", None, "")
    return KillPoint("apply", "between steps (after a state write)", None, "")


# --- invariants after recovery ---------------------------------------------------------------


def unmanaged(document: Mapping[str, Any], integration: str) -> dict[str, Any]:
    """Every object not carrying our marker, normalized, plus their rules' relative order."""
    out: dict[str, Any] = {}
    for kind in OBJECT_KINDS:
        objects = document.get(kind.exchange_type, ())
        for obj in objects:
            if owner(kind, obj) != integration:
                out[f"{kind.exchange_type} {obj.get('Name')}"] = normalize(kind, obj)
    rules = sorted(document.get("TransportRule", ()), key=lambda r: int(r.get("Priority") or 0))
    out["rule order"] = [r["Name"] for r in rules if owner(Kind.TRANSPORT_RULE, r) != integration]
    return out


def allow_list(document: Mapping[str, Any]) -> set[str]:
    entries: set[str] = set()
    for policy in document.get("HostedConnectionFilterPolicy", ()):
        raw = policy.get("IPAllowList") or []
        entries |= {normalize_ip(e) for e in ([raw] if isinstance(raw, str) else raw)}
    return entries


def check_objects(document: Mapping[str, Any], state: State, integration: str) -> list[str]:
    """Ours in the tenant == ours in the state, one to one (no duplicate, no orphan)."""
    problems = []
    records = {r.guid: r for r in state.resources if r.address.kind in OBJECT_KINDS}
    for kind in OBJECT_KINDS:
        names = [str(o.get("Name", "")).casefold() for o in document.get(kind.exchange_type, ())]
        if len(names) != len(set(names)):
            problems.append(f"duplicate {kind.exchange_type} names: {sorted(names)}")
        for obj in document.get(kind.exchange_type, ()):
            if owner(kind, obj) == integration and str(obj.get("Guid")) not in records:
                problems.append(f"orphaned {kind.exchange_type} '{obj.get('Name')}' (marked ours, not in state)")
    guids = {str(o.get("Guid")) for k in OBJECT_KINDS for o in document.get(k.exchange_type, ())}
    for guid, record in records.items():
        if guid not in guids:
            problems.append(f"state records {record.address} ({guid}), which is not in the tenant")
    return problems


def check_unmanaged(before: Mapping[str, Any], after: Mapping[str, Any], integration: str,
                    admin_entries: set[str]) -> tuple[int, list[str]]:
    """Count and describe unmanaged objects or allow-list entries lost or changed."""
    old, new = unmanaged(before, integration), unmanaged(after, integration)
    problems = [f"unmanaged {name} lost or changed" for name in sorted(old) if old[name] != new.get(name)]
    missing = admin_entries - allow_list(after)
    problems += [f"admin allow-list entry {entry} lost" for entry in sorted(missing)]
    return len(problems), problems


def check_files(state_path: Path) -> list[str]:
    problems = []
    for path in state_path.parent.iterdir():
        if path.name.endswith(".tmp"):
            problems.append(f"temp file left: {path.name}")
        elif path.suffix in (".json", ".backup") and stat.S_IMODE(path.stat().st_mode) != 0o600:
            problems.append(f"{path.name} has mode {oct(stat.S_IMODE(path.stat().st_mode))}, not 0600")
    return problems


def check_tenant_file(path: Path) -> list[str]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [f"tenant file unreadable: {error}"]
    return [f"tenant file invalid: {issue}" for issue in tenant_issues(document)]
