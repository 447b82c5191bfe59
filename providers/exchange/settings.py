"""Connection settings of the `exchange_online` provider, parsed from `TenantSpec.options`.

Holds where to connect (Admin API endpoint, identity authority, trusted CA) and how to sign in;
never a secret value: secrets are named by environment variable and read only when signing in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from exoform.engine.exchange import is_guid

#: The source of errors found when signing in (an environment variable not set, a bad key file).
SOURCE = "the exchange_online tenant settings"

# cloud -> (Admin API endpoint = the token's resource, identity platform host). GCC (moderate)
# tenants use the commercial hosts; 21Vianet is recognised by the config and refused there.
CLOUDS: dict[str, tuple[str, str]] = {
    "global": ("https://outlook.office365.com", "https://login.microsoftonline.com"),
    "gcc": ("https://outlook.office365.com", "https://login.microsoftonline.com"),
    "gcc-high": ("https://outlook.office365.us", "https://login.microsoftonline.us"),
    "dod": ("https://outlook-dod.office365.us", "https://login.microsoftonline.us"),
}
# The DNS suffix every Admin API host of a cloud ends with (a regional redirect must stay in it).
CLOUD_SUFFIXES = {"global": ".office365.com", "gcc": ".office365.com",
                  "gcc-high": ".office365.us", "dod": ".office365.us"}


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
    dns_over_https: str = ""  # a DNS-over-HTTPS (JSON) resolver for doctor's MX check

    @property
    def consent_url(self) -> str:
        """Where an administrator grants the app its permission (admin consent)."""
        login = self.authority.rsplit("/", 1)[0]
        return f"{login}/{self.tenant_id}/adminconsent?client_id={self.client_id}"

    @property
    def scope(self) -> str:
        """The app-only/delegated scope: the cloud's Exchange Online resource, whatever host
        `endpoint` overrides (the token's audience is the resource, not the host posted to)."""
        return f"{CLOUDS[self.cloud][0]}/.default"

    def same_cloud(self, host: str) -> bool:
        """`host` may receive the token after a regional redirect: a host of this cloud's
        Admin API domain, or - for a private endpoint (an emulator, a proxy) - that very host."""
        endpoint_host = (urlsplit(self.endpoint).hostname or "").lower()
        suffix = CLOUD_SUFFIXES[self.cloud]
        host = host.lower().rstrip(".")
        if endpoint_host.endswith(suffix):
            return host.endswith(suffix)
        return host == endpoint_host

    @property
    def tenant_is_guid(self) -> bool:
        return is_guid(self.tenant_id)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "ExchangeSettings":
        """Settings from `TenantSpec.options` as `parse_config` validated them (it is the one
        validator of tenant options, and it applies the device-code client id); this only fills
        in the cloud's endpoint and authority and puts ids and URLs in canonical form."""
        tenant_id = str(options["tenant_id"]).lower()
        cloud = str(options.get("cloud") or "global")
        default_endpoint, login_host = CLOUDS[cloud]
        return cls(
            tenant_id=tenant_id,
            client_id=str(options["client_id"]).lower(),
            cloud=cloud,
            endpoint=_url(options, "endpoint", default_endpoint),
            authority=_url(options, "authority", f"{login_host}/{tenant_id}"),
            auth=_auth(options["auth"]),
            ca_bundle=options.get("ca_bundle") or None,
            dns_over_https=str(options.get("dns_over_https") or ""),
        )


def _url(options: Mapping[str, Any], key: str, default: str) -> str:
    return str(options.get(key) or default).rstrip("/")


def _auth(value: Mapping[str, Any]) -> AuthSettings:
    return AuthSettings(
        str(value["method"]),
        certificate_path=str(value.get("certificate_path") or ""),
        certificate_password_env=str(value.get("certificate_password_env") or ""),
        client_secret_env=str(value.get("client_secret_env") or ""),
    )
