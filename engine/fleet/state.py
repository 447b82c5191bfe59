"""Where a fleet tenant's state lives: the ONE place that decides it. Today a local state file
per tenant beside the manifest, `<manifest dir>/.exoform/fleet/<fleet>/<tenant>.state.json`;
a state backend (a `backend` block in the defaults) is meant to be plugged in here.
"""
from __future__ import annotations

from pathlib import Path

from exoform.engine.fleet.manifest import Manifest, Member
from exoform.engine.operations.session import state_path
from exoform.engine.statefile import StateStore

STATE_FOLDER = Path(".exoform") / "fleet"


def tenant_state_path(manifest: Manifest, member: Member) -> Path:
    folder = manifest.base_dir / STATE_FOLDER / manifest.name
    return state_path(member.spec, str(folder / f"{member.name}.state.json"))


def tenant_store(manifest: Manifest, member: Member) -> StateStore:
    """The state store of one tenant of the fleet, keyed by the tenant's name in the manifest
    (each tenant has its own integration state, lock and backup)."""
    return StateStore(tenant_state_path(manifest, member))
