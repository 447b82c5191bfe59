"""Providers for a fleet run: one HTTP connection pool per CA bundle and one persistent msal
token cache per app registration and cloud, shared by every tenant; each tenant its own gate
(calls in flight, Retry-After and back-off, 429/503 counts) and, for tests, its own faults
(EXOFORM_FLEET_FAULTS=NAME=Cmdlet#N:kind;NAME=...).
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import urlsplit

import requests

from exoform.engine.errors import InputError, Issue
from exoform.engine.fleet.report import Traffic
from exoform.engine.provider import Provider
from exoform.engine.reporter import Reporter
from exoform.engine.spec import TenantSpec
from exoform.providers import registry
from exoform.providers.faults import ENV_VAR, FaultPlan
from exoform.providers.throttle import DEFAULT_CALLS_PER_TENANT, TenantGate

if TYPE_CHECKING:  # msal and the Exchange provider load only when a tenant needs them
    from exoform.providers.exchange.token_cache import SharedTokenCacheFile, TenantTokenCache

FLEET_FAULTS_ENV = "EXOFORM_FLEET_FAULTS"


def fleet_faults(environ: Mapping[str, str] | None = None) -> dict[str, FaultPlan]:
    """Per-tenant fault plans from EXOFORM_FLEET_FAULTS (`name=<EXOFORM_FAULTS syntax>;...`)."""
    raw = (os.environ if environ is None else environ).get(FLEET_FAULTS_ENV, "")
    plans: dict[str, FaultPlan] = {}
    for index, item in enumerate(part.strip() for part in raw.split(";")):
        if not item:
            continue
        name, sep, spec = item.partition("=")
        if not sep or not name.strip():
            raise InputError(FLEET_FAULTS_ENV, [Issue(f"item {index + 1}", f"'{item}' is not "
                                                      f"NAME={ENV_VAR} syntax, e.g. contoso=New-TransportRule#1:error")])
        plans[name.strip().casefold()] = FaultPlan.parse(spec)
    return plans


class _TenantLink:
    """One tenant's providers (the session's `Providers`), with the fleet's shared parts."""

    def __init__(self, fleet: "FleetProviders", name: str, tenant: TenantSpec) -> None:
        self._fleet = fleet
        self._tenant = tenant
        self.gate = TenantGate(fleet.calls_per_tenant)
        self.faults = fleet.faults.get(name.casefold())

    def make_provider(self, tenant: TenantSpec, integration: str, reporter: Reporter, *,
                      token_cache: bool = True, prompt: Callable[[str], Any] | None = None) -> Provider:
        if tenant.provider == "sandbox":
            from exoform.providers.sandbox import SandboxProvider

            return SandboxProvider(registry.sandbox_path(tenant, integration), reporter=reporter,
                                   faults=self.faults, gate=self.gate)
        from exoform.providers.exchange import SharedLink, make_provider

        shared = SharedLink(self._fleet.session_for(tenant.options), self._fleet.cache_for(tenant.options),
                            self.gate)
        return make_provider(tenant.options, reporter, token_cache=token_cache, faults=self.faults,
                             shared=shared)

    def tenant_label(self, tenant: TenantSpec, integration: str) -> str:
        return registry.tenant_label(tenant, integration)

    def traffic(self) -> Traffic:
        return self.gate.counts()

    def consent_url(self) -> str:
        if self._tenant.provider == "sandbox":
            return ""
        from exoform.providers.exchange import ExchangeSettings

        return ExchangeSettings.from_options(self._tenant.options).consent_url


class FleetProviders:
    """The `FleetLinks` of one fleet run (see `exoform.engine.fleet.links`)."""

    def __init__(self, *, concurrency: int, calls_per_tenant: int = DEFAULT_CALLS_PER_TENANT,
                 token_cache: bool = True, environ: Mapping[str, str] | None = None) -> None:
        self.calls_per_tenant = calls_per_tenant
        self.pool_size = max(10, concurrency * calls_per_tenant)
        self.token_cache = token_cache
        self.faults = fleet_faults(environ)
        self._lock = threading.Lock()
        self._sessions: dict[str, requests.Session] = {}
        self._caches: dict[str, SharedTokenCacheFile] = {}

    def tenant(self, name: str, tenant: TenantSpec) -> _TenantLink:
        return _TenantLink(self, name, tenant)

    def session_for(self, options: Mapping[str, Any]) -> requests.Session:
        """One connection pool per CA bundle, big enough for every call in flight."""
        from exoform.providers.exchange import ExchangeSettings, make_session

        settings = ExchangeSettings.from_options(options)
        key = settings.ca_bundle or ""
        with self._lock:
            if key not in self._sessions:
                session = make_session(settings)
                adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=self.pool_size)
                session.mount("https://", adapter)
                self._sessions[key] = session
            return self._sessions[key]

    def cache_for(self, options: Mapping[str, Any]) -> TenantTokenCache | None:
        """The tenant's part of the one token cache file of the app in this cloud (None
        without a persistent cache)."""
        if not self.token_cache:
            return None
        from msal.authority import canonicalize

        from exoform.providers.exchange import ExchangeSettings
        from exoform.providers.exchange.token_cache import SharedTokenCacheFile, fleet_cache_path

        settings = ExchangeSettings.from_options(options)
        _, host, realm = canonicalize(settings.authority)
        path = fleet_cache_path(urlsplit(settings.authority).netloc, settings.client_id)
        with self._lock:
            if str(path) not in self._caches:
                self._caches[str(path)] = SharedTokenCacheFile(path)
            shared = self._caches[str(path)]
        return shared.for_tenant(realm)

    def close(self) -> None:
        with self._lock:
            for cache in self._caches.values():
                try:
                    cache.flush()
                except OSError:
                    pass  # an unwritable cache costs one token request per tenant next time
            for session in self._sessions.values():
                session.close()
            self._caches.clear()
            self._sessions.clear()
