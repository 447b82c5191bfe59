"""Connection settings of the `exchange_online` provider, parsed from `TenantSpec.options`.

Holds where to connect (Admin API endpoint, identity authority, trusted CA) and how to sign in;
never a secret value: secrets are named by environment variable and read only when signing in.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from exoform.engine.errors import InputError, Issue
from exoform.engine.exchange import DEVICE_CODE_CLIENT_ID

SOURCE = "the exchange_online tenant settings"

# cloud -> (Admin API endpoint, identity platform host)
CLOUDS: dict[str, tuple[str, str]] = {
    "global": ("https://outlook.office365.com", "https://login.microsoftonline.com"),
    "gcc-high": ("https://outlook.office365.us", "https://login.microsoftonline.us"),
    "dod": ("https://outlook-dod.office365.us", "https://login.microsoftonline.us"),
}
AUTH_METHODS = ("certificate", "secret", "device_code")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.I)


@dataclass(frozen=True)
class AuthSettings:
    """How to sign in; paths and environment variable names only."""

    method: str
    certificate_path: str = ""
    certificate_password_env: str = ""
    client_secret_env: str = ""

    @property
    def app_only(self) -> bool:
        return self.method != "device_code"


@dataclass(frozen=True)
class ExchangeSettings:
    """Where the tenant is and how to reach it."""

    tenant_id: str
    client_id: str
    cloud: str
    endpoint: str
    authority: str
    auth: AuthSettings
    ca_bundle: str | None = None

    @property
    def scope(self) -> str:
        """The app-only/delegated scope of the Admin API resource."""
        return f"{self.endpoint}/.default"

    @property
    def tenant_is_guid(self) -> bool:
        return _is_guid(self.tenant_id)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "ExchangeSettings":
        """Validate `options`; raises InputError listing every problem found."""
        issues: list[Issue] = []
        tenant_id = _tenant_id(options, issues)
        cloud = str(options.get("cloud") or "global")
        if cloud not in CLOUDS:
            issues.append(Issue("tenant.cloud", f"must be one of {', '.join(CLOUDS)}, not '{cloud}'"))
            cloud = "global"
        default_endpoint, login_host = CLOUDS[cloud]
        endpoint = _https_url(options, "endpoint", default_endpoint, issues)
        authority = _https_url(options, "authority", f"{login_host}/{tenant_id}", issues)
        auth = _auth(options.get("auth"), issues)
        client_id = _client_id(options, auth, issues)
        ca_bundle = options.get("ca_bundle")
        if ca_bundle is not None and not isinstance(ca_bundle, str):
            issues.append(Issue("tenant.ca_bundle", "must be a file path"))
            ca_bundle = None
        if issues:
            raise InputError(SOURCE, issues)
        return cls(tenant_id, client_id, cloud, endpoint, authority, auth, ca_bundle or None)


def _is_guid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _tenant_id(options: Mapping[str, Any], issues: list[Issue]) -> str:
    value = options.get("tenant_id")
    if not isinstance(value, str) or not (_is_guid(value) or _DOMAIN.match(value)):
        issues.append(Issue("tenant.tenant_id", "must be the tenant GUID or its domain "
                                                "(e.g. contoso.onmicrosoft.com)"))
        return "invalid-tenant"
    return value.lower()


def _client_id(options: Mapping[str, Any], auth: AuthSettings, issues: list[Issue]) -> str:
    value = options.get("client_id")
    if value is None and auth.method == "device_code":
        return DEVICE_CODE_CLIENT_ID
    if not isinstance(value, str) or not _is_guid(value):
        issues.append(Issue("tenant.client_id", "must be the application (client) id, a GUID"))
        return ""
    return value.lower()


def _https_url(options: Mapping[str, Any], key: str, default: str, issues: list[Issue]) -> str:
    value = options.get(key, default)
    parts = urlsplit(value) if isinstance(value, str) else None
    # msal refuses non-https authorities, and a bearer token must never travel in clear text.
    if parts is None or parts.scheme != "https" or not parts.hostname or parts.query:
        issues.append(Issue(f"tenant.{key}", "must be an https:// URL"))
        return default
    return str(value).rstrip("/")


def _auth(value: Any, issues: list[Issue]) -> AuthSettings:
    if not isinstance(value, Mapping) or value.get("method") not in AUTH_METHODS:
        issues.append(Issue("tenant.auth.method", f"must be one of {', '.join(AUTH_METHODS)}"))
        return AuthSettings("invalid")
    method = str(value["method"])
    settings = AuthSettings(
        method,
        certificate_path=str(value.get("certificate_path") or ""),
        certificate_password_env=str(value.get("certificate_password_env") or ""),
        client_secret_env=str(value.get("client_secret_env") or ""),
    )
    if method == "certificate" and not settings.certificate_path:
        issues.append(Issue("tenant.auth.certificate_path", "is required for certificate sign-in"))
    if method == "secret" and not settings.client_secret_env:
        issues.append(Issue("tenant.auth.client_secret_env",
                            "must name the environment variable holding the client secret"))
    return settings
