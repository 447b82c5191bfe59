"""The operations layer between the CLI and the engine (Terraform's backend/local): plan,
apply or destroy (fresh or a saved plan), import, drift, verify, force-unlock and the file
commands, each returning typed results. The CLI imports this package, the plan and state
types and the errors, and nothing else of the engine.
"""
from __future__ import annotations

from pathlib import Path

from exoform.engine.drift import DriftReport, DriftStatus, ResourceDrift
from exoform.engine.errors import ExoformError, InputError
from exoform.engine.exchange import is_guid
from exoform.engine.interrupt import Interrupts
from exoform.backends.codec import PLAIN, Codec
from exoform.engine.jsonfile import read_regular
from exoform.engine.kinds import sensitive_attrs
from exoform.engine.kinds.allowlist import by_address
from exoform.engine.lock import Unlocked
from exoform.engine.operations.reports import (
    DriftOutcome,
    ImportBlocked,
    ImportOutcome,
    Verification,
    drift,
    import_objects,
    verify,
)
from exoform.engine.operations.running import ApplyRun, applying
from exoform.engine.operations.session import PlanOptions, Providers, Session, request_for, state_path
from exoform.engine.operations.statecmds import current_state, force_unlock, save_plan
from exoform.engine.outcome import ApplyResult, Leftover, LeftoverKind
from exoform.engine.plan import Plan
from exoform.engine.planfile import plan_to_json, read_plan, reason_text
from exoform.engine.reporter import CallRecord, Reporter
from exoform.engine.config import load_config, missing_files
from exoform.engine.spec import IntegrationSpec
from exoform.engine.state import State
from exoform.engine.statefile import read_state_file

__all__ = [
    "ApplyResult", "ApplyRun", "CallRecord", "DriftOutcome", "DriftReport", "DriftStatus", "ImportBlocked",
    "ImportOutcome", "IntegrationSpec", "Interrupts", "Leftover", "LeftoverKind", "PLAIN", "PlanOptions",
    "Providers", "Reporter", "ResourceDrift", "Session", "Unlocked", "Verification", "applying",
    "by_address", "current_state", "drift", "force_unlock", "import_objects", "is_guid", "load_document",
    "plan_to_json", "read_plan",
    "read_state", "reason_text", "request_for", "save_plan", "sensitive_attrs", "state_of_config",
    "validate", "verify",
]


def validate(config: str | Path) -> IntegrationSpec:
    """The validated config, its referenced files included (InputError lists every problem)."""
    spec = load_config(config)
    missing = missing_files(spec)
    if missing:
        raise InputError(str(config), missing)
    return spec


def state_of_config(config: str | Path, given: str | None) -> Path:
    """Where the state of the integration `config` names lives (or `given`)."""
    return Path(given) if given else state_path(load_config(config), None)


def read_state(path: Path) -> State:
    if not path.exists():
        raise ExoformError(f"no state at {path}: nothing has been applied for this integration yet")
    return read_state_file(path)


def load_document(path: Path, codec: Codec = PLAIN) -> Plan | State:
    """A saved plan or a state file, whichever `path` holds (either may be encrypted)."""
    raw = read_regular(path, "plan or state")
    if raw is None:
        raise ExoformError(f"{path} not found")
    data = codec.decode(raw, str(path), "plan or state")
    if isinstance(data, dict) and "resource_changes" in data:
        return read_plan(path, codec)
    if isinstance(data, dict) and "gateway" in data and "protection" in data:
        raise ExoformError(f"{path} is an exoform config file, not a saved plan or a state file: "
                           f"`exoform show -c {path}` shows that config's state")
    return read_state_file(path, codec)
