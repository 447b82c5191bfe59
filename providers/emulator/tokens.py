"""Access tokens the emulator issues and the Admin API accepts: HS256 JWTs shaped like Entra's
(aud, iss, tid, appid, exp, roles or scp). Validation failures carry the reason text Exchange
puts in `x-ms-diagnostics`; `expire_all()` lets a test make every issued token stale at once.
"""
from __future__ import annotations

import itertools
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

APP_ROLE = "Exchange.ManageAsApp"
USER_SCOPE = "AdminApi.AccessAsUser.All"
# Entra role template ids as they appear in a token's `wids`.
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"


class TokenRejected(Exception):
    """The bearer token is not acceptable; `reason` is safe to send back."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    tenant_id: str
    client_id: str
    app_only: bool
    username: str = ""
    directory_roles: tuple[str, ...] = ()  # the token's `wids`

    def may_run(self, cmdlet: str) -> bool:
        """An app needs an Entra role besides Exchange.ManageAsApp (measured: the app role alone
        gets 403): Exchange or Global Administrator for everything, Global Reader for Get-."""
        if not self.app_only:
            return True
        roles = set(self.directory_roles)
        if roles & {EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR}:
            return True
        return GLOBAL_READER in roles and cmdlet.lower().startswith("get-")


class TokenIssuer:
    """Signs and checks the emulator's access tokens."""

    def __init__(self, tenant_id: str, resource: str, lifetime: int,
                 directory_roles: tuple[str, ...] = (EXCHANGE_ADMINISTRATOR,)) -> None:
        self.tenant_id = tenant_id
        self.directory_roles = directory_roles
        self.resource = resource  # the Admin API audience, https://outlook.office365.com
        self.lifetime = lifetime
        self._key = secrets.token_bytes(32)
        self._serial = itertools.count(1)
        self._revoked_through = 0
        self._lock = threading.Lock()

    def issue(self, client_id: str, *, username: str = "", audience: str | None = None,
              tenant_id: str | None = None, lifetime: int | None = None) -> str:
        """A signed token; the keyword overrides exist to forge bad tokens in tests."""
        now = time.time()
        claims: dict[str, Any] = {
            "aud": audience or self.resource,
            "iss": f"https://sts.windows.net/{tenant_id or self.tenant_id}/",
            "tid": tenant_id or self.tenant_id, "appid": client_id,
            "iat": int(now), "nbf": int(now) - 1,
            "exp": int(now + (self.lifetime if lifetime is None else lifetime)),
            "oid": str(uuid.uuid5(uuid.NAMESPACE_OID, username or client_id)),
            "uti": str(next(self._serial)),
        }
        if username:
            claims.update(scp=USER_SCOPE, upn=username, idtyp="user")
        else:
            claims.update(roles=[APP_ROLE], idtyp="app")
            if self.directory_roles:
                claims["wids"] = list(self.directory_roles)
        return jwt.encode(claims, self._key, algorithm="HS256")

    def expire_all(self) -> None:
        """Every token issued so far now reads as expired (a revoked or aged-out token)."""
        with self._lock:
            self._revoked_through = next(self._serial)

    def validate(self, authorization: str, tenant_in_path: str, tenant_aliases: set[str]) -> Principal:
        """The principal of `Authorization: Bearer ...`, or TokenRejected (401)."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRejected(2000001, "The Authorization header is missing or is not a bearer token.")
        claims = self._decode(token.strip())
        if int(claims.get("uti", "0")) <= self._revoked_through:
            raise TokenRejected(2000008, "The token has expired.")
        if str(claims.get("aud", "")).rstrip("/") != self.resource:
            raise TokenRejected(2000003, f"The audience claim value is invalid '{claims.get('aud')}'.")
        if claims.get("tid") != self.tenant_id or tenant_in_path.lower() not in tenant_aliases:
            raise TokenRejected(2000009, "The token's tenant does not match the tenant in the URL.")
        if APP_ROLE not in (claims.get("roles") or []) and USER_SCOPE not in str(claims.get("scp")):
            raise TokenRejected(2000007, "The token grants no Exchange Admin API role or scope.")
        return Principal(claims["tid"], str(claims.get("appid", "")), "roles" in claims,
                         str(claims.get("upn", "")), tuple(claims.get("wids") or ()))

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            return dict(jwt.decode(token, self._key, algorithms=["HS256"],
                                   options={"verify_aud": False, "require": ["exp", "aud", "tid"]}))
        except jwt.ExpiredSignatureError:
            raise TokenRejected(2000008, "The token has expired.") from None
        except jwt.InvalidTokenError:
            raise TokenRejected(2000001, "The token is malformed or its signature is invalid.") from None
