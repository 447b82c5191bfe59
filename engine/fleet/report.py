"""The fleet report as data: one row per tenant (wave, adds/changes/destroys, findings, result,
duration, 429/503 counts, the fix for a missing consent or role) and the run around it (command,
selection, why a rollout stopped). Frozen; the views render it as a table, JSON or Markdown.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Result(str, Enum):
    NO_CHANGES = "no_changes"
    CHANGES = "changes"  # plan: apply would change the tenant
    PLAN_ERRORS = "plan_errors"  # plan: the plan has errors (apply skips the tenant)
    APPLIED = "applied"
    DESTROYED = "destroyed"
    SKIPPED = "skipped"  # apply: the plan had errors, nothing was changed
    ROLLED_BACK = "rolled_back"  # a step failed; the rollback restored the tenant
    PARTIAL = "partial"  # a step failed and the rollback did not complete
    REFUSED = "refused"  # a saved plan was stale or foreign; nothing was changed
    FAILED = "failed"  # the tenant could not be worked on (sign-in, consent, lock, read)
    NOT_RUN = "not_run"  # the rollout stopped before this tenant
    INTERRUPTED = "interrupted"
    IN_SYNC = "in_sync"
    DRIFTED = "drifted"
    NOT_INSTALLED = "not_installed"
    INSTALLED = "installed"
    READY = "ready"
    NOT_READY = "not_ready"

    @property
    def failure(self) -> bool:
        """Counts against --max-failures: the rollout of this tenant went wrong."""
        return self in (Result.ROLLED_BACK, Result.PARTIAL, Result.REFUSED, Result.FAILED)

    @property
    def text(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class Traffic:
    """A tenant's calls in this run: attempts, answers 429 and 503, seconds paused."""

    calls: int = 0
    throttled: int = 0
    unavailable: int = 0
    paused: float = 0.0


@dataclass(frozen=True)
class Finding:
    """A diagnostic, drift item or doctor finding of one tenant, for the report's detail."""

    severity: str  # error | warning | info | drift
    code: str
    message: str
    id: str = ""


@dataclass(frozen=True)
class TenantRow:
    name: str
    wave: str
    result: Result
    duration: float  # seconds
    add: int = 0
    change: int = 0
    destroy: int = 0
    errors: int = 0  # findings that block (plan errors, unsafe mail flow, doctor problems)
    warnings: int = 0
    drifted: int = 0
    detail: str = ""  # one line: the failure, or what stands out
    fix: str = ""  # what an administrator must do (admin-consent URL, role to assign)
    findings: tuple[Finding, ...] = ()
    traffic: Traffic = Traffic()
    matches: tuple[str, ...] = ()  # status queries: the tenant's objects that matched
    plan_file: str = ""


@dataclass(frozen=True)
class FleetReport:
    fleet: str
    command: str  # plan | apply | destroy | drift | status | doctor
    selection: str
    rows: tuple[TenantRow, ...]  # wave order, then manifest order
    waves: tuple[str, ...]
    stopped: str = ""  # why the rollout stopped early
    interrupted: str | None = None  # the signal that stopped the run
    query: str = ""  # status: what was looked for
    wall: float = 0.0  # seconds the whole run took

    def count(self, *results: Result) -> int:
        return sum(row.result in results for row in self.rows)

    @property
    def failures(self) -> int:
        return sum(row.result.failure for row in self.rows)
