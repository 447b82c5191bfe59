"""The emulator's identity platform, enough of Entra ID for real msal: OpenID discovery, the
token endpoint (client credentials with a secret or a certificate assertion, device code,
refresh token) and the device authorization endpoint, with Entra-shaped error answers.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from exoform.providers.emulator.messages import Reply, Request, json_reply
from exoform.providers.emulator.tokens import TokenIssuer

_PATH = re.compile(r"^/(?P<tenant>[^/]+)/(?P<rest>v2\.0/\.well-known/openid-configuration"
                   r"|oauth2/v2\.0/(token|devicecode|authorize))$")
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class RegisteredApp:
    """An app registration: a confidential client (secret and/or certificates) or a public one."""

    client_id: str
    secret: str | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    public: bool = False


@dataclass
class _DeviceFlow:
    client_id: str
    expires: float
    polls: int = 0


class OAuthError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


class IdentityPlatform:
    """Serves `/{tenant}/v2.0/.well-known/openid-configuration` and `/{tenant}/oauth2/v2.0/*`."""

    def __init__(self, issuer: TokenIssuer, tenant_aliases: set[str], base_url: Callable[[], str],
                 *, device_approve_after_polls: int = 1, username: str = "admin@contoso.onmicrosoft.com") -> None:
        self._issuer = issuer
        self._aliases = tenant_aliases
        self._base_url = base_url
        self._approve_after = device_approve_after_polls
        self._username = username
        self._apps: dict[str, RegisteredApp] = {}
        self._device_flows: dict[str, _DeviceFlow] = {}
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> client id
        self._lock = threading.Lock()
        self.token_requests: Counter[str] = Counter()  # by grant type
        self.requests = 0  # every request to the identity platform (discovery included)
        self.assertion_forms: list[tuple[str, tuple[str, ...]]] = []  # (alg, thumbprint claims)

    def register(self, app: RegisteredApp) -> None:
        self._apps[app.client_id.lower()] = app

    def handles(self, path: str) -> bool:
        return bool(_PATH.match(path))

    def handle(self, request: Request) -> Reply:
        match = _PATH.match(request.path)
        assert match is not None
        with self._lock:
            self.requests += 1
        tenant, rest = match.group("tenant"), match.group("rest")
        try:
            if tenant.lower() not in self._aliases:
                raise OAuthError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
            if rest.startswith("v2.0"):
                return json_reply(200, self._configuration(tenant))
            if request.method != "POST":
                raise OAuthError(405, "invalid_request", 900561, "The endpoint only accepts POST.")
            if rest.endswith("devicecode"):
                return json_reply(200, self._device_code(request.form()))
            if rest.endswith("token"):
                return json_reply(200, self._token(request))
            raise OAuthError(400, "invalid_request", 900144, "Interactive sign-in is not emulated.")
        except OAuthError as error:
            return json_reply(error.status, _error_document(error))

    def _configuration(self, tenant: str) -> dict[str, Any]:
        base = f"{self._base_url()}/{tenant}"
        return {
            "issuer": f"{self._base_url()}/{self._issuer.tenant_id}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        }

    def _token(self, request: Request) -> dict[str, Any]:
        form = request.form()
        grant = form.get("grant_type", "")
        with self._lock:
            self.token_requests[grant] += 1
        app = self._app(form.get("client_id", ""))
        if grant == "client_credentials":
            self._authenticate(app, form, token_endpoint=request.base_url + request.path)
            self._check_scope(form.get("scope", ""))
            return self._app_token(app)
        if grant == _DEVICE_GRANT:
            return self._poll_device(app, form.get("device_code", ""))
        if grant == "refresh_token":
            if self._refresh_tokens.get(form.get("refresh_token", "")) != app.client_id:
                raise OAuthError(400, "invalid_grant", 70000, "The refresh token is invalid or expired.")
            return self._user_token(app)
        raise OAuthError(400, "unsupported_grant_type", 70003,
                         f"The app requested an unsupported grant type '{grant}'.")

    def _app(self, client_id: str) -> RegisteredApp:
        app = self._apps.get(client_id.lower())
        if app is None:
            raise OAuthError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the "
                             "directory.")
        return app

    def _check_scope(self, scope: str) -> None:
        resources = {s.rsplit("/.default", 1)[0] for s in scope.split() if s.endswith("/.default")}
        if self._issuer.resource not in resources:
            raise OAuthError(400, "invalid_scope", 500011,
                             f"The resource principal named {' '.join(sorted(resources)) or scope} "
                             "was not found in the tenant.")

    def _authenticate(self, app: RegisteredApp, form: dict[str, str], *, token_endpoint: str) -> None:
        if app.public:
            raise OAuthError(400, "unauthorized_client", 700025,
                             "Client is public so neither 'client_assertion' nor 'client_secret' "
                             "should be presented.")
        if "client_assertion" in form:
            if form.get("client_assertion_type") != _ASSERTION_TYPE:
                raise OAuthError(400, "invalid_request", 90014, "client_assertion_type is invalid.")
            header = verify_assertion(app, form["client_assertion"], token_endpoint)
            # How the client named its certificate and signed (tests check msal's SHA-256 form).
            self.assertion_forms.append((str(header.get("alg")), tuple(sorted(
                k for k in ("x5t", "x5t#S256", "x5c") if k in header))))
            return
        secret = form.get("client_secret", "")
        if not app.secret or not hmac.compare_digest(secret.encode(), app.secret.encode()):
            raise OAuthError(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the "
                             "request is the client secret value, not the client secret ID, for a "
                             f"secret added to app '{app.client_id}'.")

    def _app_token(self, app: RegisteredApp) -> dict[str, Any]:
        lifetime = self._issuer.lifetime
        return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                "access_token": self._issuer.issue(app.client_id)}

    def _device_code(self, form: dict[str, str]) -> dict[str, Any]:
        app = self._app(form.get("client_id", ""))
        if not app.public:
            raise OAuthError(400, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")
        device_code = secrets.token_urlsafe(24)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        with self._lock:
            self._device_flows[device_code] = _DeviceFlow(app.client_id, time.time() + 900)
        uri = f"{self._base_url()}/devicelogin"
        return {"device_code": device_code, "user_code": user_code, "verification_uri": uri,
                "expires_in": 900, "interval": 1,
                "message": f"To sign in, use a web browser to open the page {uri} and enter the "
                           f"code {user_code} to authenticate."}

    def _poll_device(self, app: RegisteredApp, device_code: str) -> dict[str, Any]:
        with self._lock:
            flow = self._device_flows.get(device_code)
            if flow is None or flow.client_id != app.client_id or flow.expires < time.time():
                raise OAuthError(400, "expired_token", 70020, "The provided value for the input "
                                 "parameter 'device_code' is not valid or has expired.")
            flow.polls += 1
            if flow.polls < self._approve_after:
                raise OAuthError(400, "authorization_pending", 70016,
                                 "OAuth 2.0 device flow error. Authorization is pending.")
            del self._device_flows[device_code]
        return self._user_token(app)

    def _user_token(self, app: RegisteredApp) -> dict[str, Any]:
        lifetime = self._issuer.lifetime
        refresh_token = secrets.token_urlsafe(32)
        with self._lock:
            self._refresh_tokens[refresh_token] = app.client_id
        oid = str(uuid.uuid5(uuid.NAMESPACE_OID, self._username))
        tid = self._issuer.tenant_id
        info = json.dumps({"uid": oid, "utid": tid}).encode()
        resource = self._issuer.resource
        return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                # Entra echoes the granted scopes, `.default` included; msal caches under them.
                "scope": f"{resource}/AdminApi.AccessAsUser.All {resource}/.default",
                "access_token": self._issuer.issue(app.client_id, username=self._username),
                "refresh_token": refresh_token, "id_token": self._id_token(app, oid),
                "client_info": base64.urlsafe_b64encode(info).decode().rstrip("=")}

    def _id_token(self, app: RegisteredApp, oid: str) -> str:
        now = int(time.time())
        claims = {"iss": f"{self._base_url()}/{self._issuer.tenant_id}/v2.0", "aud": app.client_id,
                  "iat": now, "nbf": now, "exp": now + 3600, "sub": oid, "oid": oid,
                  "tid": self._issuer.tenant_id, "preferred_username": self._username,
                  "name": "Emulated Exchange Administrator", "ver": "2.0"}
        return jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256")


def verify_assertion(app: RegisteredApp, assertion: str, token_endpoint: str) -> dict[str, Any]:
    """Check a certificate client assertion: registered certificate (x5t / x5t#S256), signature,
    audience = this token endpoint, iss = sub = client id, not expired."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        raise OAuthError(401, "invalid_client", 50012, "The client assertion is not a JWT.") from None
    certificate = _certificate_for(app, header)
    try:
        claims = jwt.decode(assertion, certificate.public_key(), algorithms=["RS256", "PS256"],  # type: ignore[arg-type]
                            audience=token_endpoint, issuer=app.client_id,
                            options={"require": ["exp", "aud", "iss", "sub"]})
    except jwt.ExpiredSignatureError:
        raise OAuthError(401, "invalid_client", 700024,
                         "Client assertion is not within its valid time range.") from None
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as error:
        raise OAuthError(401, "invalid_client", 700021,
                         f"Client assertion audience or issuer is invalid ({error}).") from None
    except jwt.InvalidTokenError:
        raise OAuthError(401, "invalid_client", 700027,
                         "Client assertion failed signature validation.") from None
    if claims.get("sub") != app.client_id:
        raise OAuthError(401, "invalid_client", 700023, "Client assertion subject is invalid.")
    return dict(header)


def _certificate_for(app: RegisteredApp, header: dict[str, Any]) -> x509.Certificate:
    for claim, digest in (("x5t", hashlib.sha1), ("x5t#S256", hashlib.sha256)):
        if claim not in header:
            continue
        # msal pads x5t with "=" (not RFC 7515's unpadded form): decode, then compare bytes.
        value = str(header[claim]).rstrip("=")
        wanted = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        for certificate in app.certificates:
            if digest(certificate.public_bytes(serialization.Encoding.DER)).digest() == wanted:
                return certificate
    raise OAuthError(401, "invalid_client", 700027, "Client assertion contains an invalid "
                     "signature: the key was not found (no registered certificate matches x5t).")


def _error_document(error: OAuthError) -> dict[str, Any]:
    trace = str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return {"error": error.error,
            "error_description": f"AADSTS{error.code}: {error.description}\r\nTrace ID: {trace}"
                                 f"\r\nCorrelation ID: {uuid.uuid4()}\r\nTimestamp: {stamp}",
            "error_codes": [error.code], "timestamp": stamp, "trace_id": trace}
