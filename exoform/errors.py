"""Errors as JSON for `--json` commands: `{"error": {"code", "message", "path"}}` on stdout, with
a stable code per error type (scripts branch on the code, people read the message)."""
from __future__ import annotations

from typing import Any

from exoform.engine import errors

# Most specific first: the first class an error is an instance of gives its code.
CODES: tuple[tuple[type[errors.ExoformError], str], ...] = (
    (errors.InputError, "invalid_input"),
    (errors.LockError, "state_locked"),
    (errors.StateError, "state_unusable"),
    (errors.PlanError, "plan_refused"),
    (errors.NotFound, "not_found"),
    (errors.AlreadyExists, "already_exists"),
    (errors.StillReferenced, "still_referenced"),
    (errors.LimitExceeded, "limit_exceeded"),
    (errors.ValidationFailed, "validation_failed"),
    (errors.PermissionDenied, "permission_denied"),
    (errors.AuthFailed, "auth_failed"),
    (errors.Throttled, "throttled"),
    (errors.Transient, "transient"),
    (errors.ProviderError, "tenant_call_failed"),
)


def error_code(error: errors.ExoformError) -> str:
    if isinstance(error, Cancelled):
        return "cancelled"
    return next((code for cls, code in CODES if isinstance(error, cls)), "error")


def error_json(error: errors.ExoformError) -> dict[str, Any]:
    """`path` is the file an input error is about (each issue adds its JSON path)."""
    body: dict[str, Any] = {"code": error_code(error), "message": str(error), "path": None}
    if isinstance(error, errors.InputError):
        body["path"] = error.source
        body["issues"] = [{"path": issue.path, "message": issue.message} for issue in error.issues]
    if isinstance(error, errors.ProviderError):
        body["cmdlet"], body["identity"], body["status"] = error.cmdlet, error.identity, error.status
    return {"error": body}


class Cancelled(errors.ExoformError):
    """The user did not answer `yes`: nothing was changed (exit 1)."""
