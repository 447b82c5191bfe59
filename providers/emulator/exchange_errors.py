"""Answers shaped like Exchange Online's Admin API errors: the error JSON with
`details[0].message = "ErrorId|ExceptionType|text"`, the NUL-byte 403 labelled gzip, and the
bodiless 401 with `WWW-Authenticate` and `x-ms-diagnostics`."""
from __future__ import annotations

import hashlib
import uuid

from exoform.engine.errors import NotFound, PermissionDenied, ProviderError, ValidationFailed
from exoform.providers.emulator.messages import Reply, json_reply

_CODES = {400: "BadRequest", 404: "NotFound", 429: "TooManyRequests", 500: "InternalServerError",
          503: "ServiceUnavailable"}
# What Exchange's own resource identity answers in WWW-Authenticate.
_WWW_AUTHENTICATE = ('Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
                     'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
                     'token_types="app_asserted_user_v1 service_asserted_app_v1", '
                     'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
                     'error="invalid_token"')


def error_reply(status: int, exception_type: str, text: str, *,
                headers: dict[str, str] | None = None) -> Reply:
    """An Exchange error answer; `error.message` is generic, the details carry the truth."""
    error_id = "Ex" + hashlib.sha1(exception_type.encode()).hexdigest()[:6].upper()
    request_id = str(uuid.uuid4())
    document = {"error": {
        "code": _CODES.get(status, "InternalServerError"),
        "message": "Error executing cmdlet",
        "details": [{"code": "Context", "target": "",
                     "message": f"{error_id}|{exception_type}|{text}"}],
        "innererror": {
            "message": "Error executing cmdlet",
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            "internalexception": {"message": text, "type": exception_type},
        },
    }}
    merged = {"request-id": request_id, "x-ExceptionType": exception_type.rsplit(".", 1)[-1],
              **(headers or {})}
    return json_reply(status, document, merged)


def model_error_reply(error: ProviderError) -> Reply:
    """The answer for a TenantModel error: 404 not found, 400 validation, 500 anything else."""
    if isinstance(error, PermissionDenied):
        return forbidden_reply()
    status = 404 if isinstance(error, NotFound) else 400 if isinstance(error, ValidationFailed) else 500
    return error_reply(status, error.exception_type or "System.InvalidOperationException",
                       error.detail)


def forbidden_reply() -> Reply:
    """Unknown or RBAC-denied cmdlet: NUL bytes labelled gzip, as the real service sends."""
    return Reply(403, b"\x00" * 24, {"Content-Type": "application/json", "Content-Encoding": "gzip"})


def unauthorized_reply(code: int, reason: str) -> Reply:
    return Reply(401, b"", {
        "WWW-Authenticate": _WWW_AUTHENTICATE,
        "x-ms-diagnostics": f'{code};reason="{reason}";error_category="invalid_token"',
    })
