"""The typed error tree every layer raises across its boundary.

`ExoformError` is the root; the CLI turns any of them into one clear message and exit code 1.
Provider errors carry the cmdlet, the object and Exchange's own text, never raw HTTP or JSON.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass


class ExoformError(Exception):
    """Root of every error exoform reports to a user (never shown as a traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Issue:
    """One problem in a user's file: where (JSON path like `gateway.ip_ranges[0]`) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputError(ExoformError):
    """A user's file (config, state, plan, tenant) is wrong; lists every issue found."""

    def __init__(self, source: str, issues: list[Issue] | tuple[Issue, ...]) -> None:
        self.source = source
        self.issues = tuple(issues)
        only = self.issues[0] if len(self.issues) == 1 else None
        if only is not None and not only.path and only.message.startswith("is "):
            # One problem with the whole file: one sentence, not "x is not valid: - is not valid JSON".
            super().__init__(f"{source} {only.message}")
            return
        lines = [f"{source} {_be(source)} not valid:"] + [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))


def _be(subject: str) -> str:
    """"are" for a plural subject in words ("the tenant settings"), "is" for a file or a
    variable (exoform.json, EXOFORM_FAULTS)."""
    last = subject.rsplit(" ", 1)[-1]
    plural = " " in subject and last.endswith("s") and last.islower() and not any(c in last for c in "./\\")
    return "are" if plural else "is"


class StateError(ExoformError):
    """The state file cannot be used (corrupt, newer format, foreign lineage)."""


class StateWriteError(StateError):
    """The state could not be written (disk full, read-only folder, backend unreachable): the
    caller keeps the state in memory and fails like a failed step (rollback)."""


class WriteConflict(StateError):
    """A conditional state write found a newer version than the one this command read (a lost
    lease, a stale writer): nothing was overwritten."""


class LockError(ExoformError):
    """Another exoform process holds the state lock (or this command's lock was lost)."""


# A state write that did not happen: a full disk or a read-only folder, or under the command's
# own lock a newer version (a deleted state) or a lost lease. The store keeps the state in
# memory for each; an apply treats each as a failed step (rollback).
UNWRITABLE_STATE = (StateWriteError, WriteConflict, LockError)


class PlanError(ExoformError):
    """A plan cannot be made or a saved plan cannot be applied (stale, foreign, tampered)."""


class ConcurrentChangeError(PlanError):
    """Right before routing goes live, the tenant's rules or connectors turned out changed by
    someone else so that the rest of the plan would make mail fail: the apply stops there."""


class ProviderError(ExoformError):
    """A tenant call failed. Subclasses say how; fields say which cmdlet and object."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        cmdlet: str = "",
        identity: str = "",
        exception_type: str = "",
        status: int | None = None,
    ) -> None:
        self.detail = message
        self.cmdlet = cmdlet
        self.identity = identity
        self.exception_type = exception_type
        self.status = status
        super().__init__(self._sentence())

    def named(self, name: str) -> "ProviderError":
        """The same error naming the object by `name` (calls address objects by Guid, people
        know them by name)."""
        if not name or self.identity in ("", name):
            return self
        renamed = copy.copy(self)
        renamed.identity = name
        renamed.message = renamed._sentence()
        renamed.args = (renamed.message,)
        return renamed

    def _sentence(self) -> str:
        where = self.cmdlet or "the tenant call"
        if self.identity:
            where += f" on '{self.identity}'"
        return f"{where} failed: {self.detail}"


class NotFound(ProviderError):
    """The object does not exist (ManagementObjectNotFoundException)."""


class AlreadyExists(ProviderError):
    """An object with that name exists (…AlreadyExistsException)."""


class StillReferenced(ProviderError):
    """A connector is still the target of a rule's RouteMessageOutboundConnector."""


class ValidationFailed(ProviderError):
    """The service rejected a parameter or value (400, task validation errors)."""


class LimitExceeded(ValidationFailed):
    """A server-side limit was hit (300 transport rules, list sizes)."""


class PermissionDenied(ProviderError):
    """The identity lacks the role or the cmdlet is unknown to it (403, NUL body)."""


class AuthFailed(ProviderError):
    """No valid token: bad credentials, expired or wrong-audience token (401)."""


class Throttled(ProviderError):
    """429: the call may be retried after `retry_after` seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class Transient(ProviderError):
    """503/504 or a transient Exchange exception type; retried with backoff."""

    retryable = True


class ServerError(ProviderError):
    """A non-retryable server-side failure (the `error` fault, unexpected 5xx)."""
