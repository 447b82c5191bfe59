"""Turns a failed InvokeCommand response into exoform's typed errors.

Exchange's `error.message` is generic; the exception type in `details[0].message`
(`ErrorId|ExceptionType|text`, fallback `innererror.internalexception`) says what happened.
Messages are one sentence built from Exchange's text, never raw JSON or response bodies.
"""
from __future__ import annotations

import email.utils
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping

from exoform.engine.errors import (
    AlreadyExists,
    AuthFailed,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    ProviderError,
    ServerError,
    StillReferenced,
    Throttled,
    Transient,
    ValidationFailed,
)

# Exception types the Exchange module itself retries (server busy, failover, replication).
TRANSIENT_TYPES = frozenset({
    "DCOverloadedException", "SuitabilityDirectoryException", "ServerInMMException",
    "ADServerSettingsChangedException", "StorageTransientException",
})
_VALIDATION_HINTS = ("Validation", "Parameter", "Argument", "InvalidEnum", "DataSource")
_LIMIT_HINTS = ("TooMany", "Limit", "Quota")
# Exchange raises some conditions as plain .NET types and says what happened only in the text:
# a duplicate rule name is an ArgumentException ("... already exists"), the 300-rule and 8 KB
# limits are InvalidOperationExceptions (ErrorTooManyTransportRules, ErrorRuleXmlTooBig).
_EXISTS_TEXT = re.compile(r"already exist", re.IGNORECASE)
_LIMIT_TEXT = re.compile(r"too many|too big|too large|maximum|limit", re.IGNORECASE)
_MAX_TEXT = 400


@dataclass(frozen=True)
class ExchangeFault:
    """What the response says went wrong: exception type (short name) and its text."""

    exception_type: str = ""
    text: str = ""
    code: str = ""


def parse_fault(body: bytes, headers: Mapping[str, str]) -> ExchangeFault:
    """Read Exchange's error JSON; a missing or unreadable body yields an empty fault."""
    error = _error_object(body)
    full_type, text = _from_details(error.get("details"))
    if not full_type:
        inner = _mapping(error.get("innererror"))
        internal = _mapping(inner.get("internalexception"))
        full_type = str(internal.get("type") or inner.get("type") or "")
        text = text or str(internal.get("message") or inner.get("message") or "")
    full_type = full_type or str(headers.get("x-ExceptionType") or "")
    text = text or str(error.get("message") or "")
    return ExchangeFault(full_type.rsplit(".", 1)[-1], _one_line(text), str(error.get("code") or ""))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8")) if body.strip(b"\x00 \r\n\t") else {}
    except (UnicodeDecodeError, ValueError):
        return {}
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else {}


def _from_details(details: Any) -> tuple[str, str]:
    if not isinstance(details, list) or not details or not isinstance(details[0], dict):
        return "", ""
    parts = str(details[0].get("message") or "").split("|", 2)
    if len(parts) == 3:
        return parts[1].strip(), parts[2]
    return "", parts[-1]


def _one_line(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def classify(status: int, body: bytes, headers: Mapping[str, str], *, cmdlet: str,
             identity: str) -> ProviderError:
    """The typed error for a failed response (status >= 400)."""
    fault = parse_fault(body, headers) if status != 403 else ExchangeFault()
    kind, detail = _kind_and_detail(status, fault, headers)
    kw: dict[str, Any] = {"cmdlet": cmdlet, "identity": identity,
                          "exception_type": fault.exception_type, "status": status}
    if kind is Throttled:
        return Throttled(detail, retry_after=parse_retry_after(headers.get("Retry-After")), **kw)
    return kind(detail, **kw)


def _kind_and_detail(status: int, fault: ExchangeFault,
                     headers: Mapping[str, str]) -> tuple[type[ProviderError], str]:
    text = fault.text
    if status == 401:
        reason = _diagnostic_reason(headers.get("x-ms-diagnostics", ""))
        return AuthFailed, f"the Admin API rejected the access token (HTTP 401: " \
                           f"{reason or text or 'no reason given'})"
    if status == 403:
        # The real service answers an unknown or RBAC-denied cmdlet with NUL bytes as "gzip".
        return PermissionDenied, ("the service refused the call (HTTP 403): the app or admin "
                                  "lacks the Exchange role for this cmdlet, or the cmdlet is unknown")
    if status == 429:
        return Throttled, f"the service is throttling requests (HTTP 429){_tail(text)}"
    by_type = _kind_by_type(fault.exception_type, text)
    if by_type is not None:
        return by_type, text or f"Exchange reported {fault.exception_type}"
    if status == 404 and not (fault.code or fault.text):
        # A bare 404 means a wrong URL, not a missing object: never let it pass for "absent".
        return ServerError, "the Admin API endpoint answered HTTP 404 (check tenant.endpoint)"
    return _kind_by_status(status), text or f"the service answered HTTP {status}"


def _kind_by_type(exception_type: str, text: str) -> type[ProviderError] | None:
    if not exception_type:
        return None
    if exception_type == "ArgumentException" and _EXISTS_TEXT.search(text):
        return AlreadyExists
    if exception_type == "InvalidOperationException" and _LIMIT_TEXT.search(text):
        return LimitExceeded
    if exception_type in TRANSIENT_TYPES:
        return Transient
    if exception_type == "CommandNotFoundException":
        return PermissionDenied  # the cmdlet is outside the caller's RBAC (or does not exist)
    if exception_type.endswith("NotFoundException"):
        return NotFound
    if exception_type.endswith("AlreadyExistsException"):
        return AlreadyExists
    if "ConnectorStillReferenced" in exception_type:
        return StillReferenced
    if any(hint in exception_type for hint in _LIMIT_HINTS):
        return LimitExceeded
    if any(hint in exception_type for hint in _VALIDATION_HINTS):
        return ValidationFailed
    return None


def _kind_by_status(status: int) -> type[ProviderError]:
    if status == 404:
        return NotFound
    if status in (400, 422):
        return ValidationFailed
    if status in (502, 503, 504):
        return Transient
    return ServerError


def _tail(text: str) -> str:
    return f": {text}" if text else ""


def _diagnostic_reason(value: str) -> str:
    """`x-ms-diagnostics: 2000008;reason="The token has expired.";error_category=...`."""
    match = re.search(r'reason="([^"]*)"', value)
    return match.group(1).rstrip(".") if match else ""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from `Retry-After`: a (possibly fractional) number or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        seconds = when - time.time()
    return max(seconds, 0.0) if seconds == seconds else None  # NaN -> None
