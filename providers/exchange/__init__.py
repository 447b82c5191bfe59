"""The `exchange_online` provider: Exchange Online's REST Admin API (InvokeCommand) reached with
msal tokens. `make_provider` builds it from the config's tenant options; nothing here imports
the engine's internals beyond its public errors, cmdlets, provider and reporter modules.
"""
from __future__ import annotations

import threading
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

import requests

from exoform.engine.reporter import Reporter
from exoform.providers.exchange.auth import DevicePrompt, TokenSource, prompt_on_stderr
from exoform.providers.exchange.client import AdminApiClient
from exoform.providers.exchange.credentials import key_file_warning
from exoform.providers.exchange.journal import WriteJournal, journal_path
from exoform.providers.exchange.provider import ExchangeOnlineProvider
from exoform.providers.exchange.settings import ExchangeSettings
from exoform.providers.exchange.token_cache import CacheFile
from exoform.providers.faults import FaultSource
from exoform.providers.retry import Gate, RetryPolicy

__all__ = ["ExchangeOnlineProvider", "ExchangeSettings", "SharedLink", "make_provider", "make_session"]


@dataclass(frozen=True)
class SharedLink:
    """What the tenants of one fleet run share (one HTTP connection pool and one token cache)
    and what is the tenant's own (its gate: calls in flight, back-off, 429/503 counts)."""

    session: requests.Session
    cache_file: CacheFile | None
    gate: Gate | None = None


class _EnvironmentOnce(requests.Session):
    """A session that reads the proxy settings of the environment once per host and request
    shape, not on every request (requests scans the whole environment each time: a few ms per
    call, a tenth of a tenant's plan when a fleet plans a thousand)."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], Any] = {}
        self._environment_lock = threading.Lock()

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        parts = urlsplit(str(url))
        key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert)
        with self._environment_lock:
            known = self._environment.get(key)
        if known is None:
            known = self._merged(url, proxies, stream, verify, cert)
            with self._environment_lock:
                self._environment[key] = known
        return {k: dict(v) if isinstance(v, dict) else v for k, v in known.items()}

    def _merged(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


class _EnvironmentProxies(_EnvironmentOnce):
    """A session that ignores REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE (trust_env off: they would
    silently override the configured CA bundle) but still routes through HTTPS_PROXY/HTTP_PROXY
    and honours NO_PROXY: a private CA is usually there because of a TLS-inspecting proxy."""

    def _merged(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        merged = super()._merged(url, proxies, stream, verify, cert)
        if not merged.get("proxies") and not requests.utils.should_bypass_proxies(url, no_proxy=None):
            found = urllib.request.getproxies()
            merged["proxies"] = {scheme: proxy for scheme, proxy in found.items() if scheme != "no"}
        return merged


def make_session(settings: ExchangeSettings) -> requests.Session:
    """The run's one HTTP session, shared by msal and the Admin API client."""
    if not settings.ca_bundle:
        return _EnvironmentOnce()
    session = _EnvironmentProxies()
    session.trust_env = False
    session.verify = settings.ca_bundle
    return session


def make_provider(
    options: Mapping[str, Any],
    reporter: Reporter,
    *,
    token_cache: bool = True,
    device_code_prompt: DevicePrompt = prompt_on_stderr,
    retry_policy: RetryPolicy | None = None,
    faults: FaultSource | None = None,
    shared: SharedLink | None = None,
) -> ExchangeOnlineProvider:
    """An ExchangeOnlineProvider for the config's `tenant` options (InputError if invalid).

    `faults` defaults to `FaultPlan.from_env()` (EXOFORM_FAULTS; only `crash` acts client-side).
    `shared` (a fleet run): the HTTP session, token cache and tenant gate to use instead of new
    ones; the provider then leaves the session open when it closes.
    """
    settings = ExchangeSettings.from_options(options)
    warning = key_file_warning(settings.auth)
    if warning:
        reporter.warning(warning)
    session = shared.session if shared else make_session(settings)
    if shared is not None:
        tokens = TokenSource(settings, session, reporter, cache_file=shared.cache_file,
                             device_prompt=device_code_prompt)
    else:
        tokens = TokenSource.for_settings(settings, session, reporter, persistent=token_cache,
                                          device_prompt=device_code_prompt)
    if faults is None:
        from exoform.providers.faults import FaultPlan

        faults = FaultPlan.from_env()
    client = AdminApiClient(settings, session, tokens, reporter, policy=retry_policy,
                            faults=faults, gate=shared.gate if shared else None)
    # The write journal lives beside the token cache, and like it is kept only when allowed.
    journal = WriteJournal(journal_path(settings.endpoint, settings.tenant_id) if token_cache else None)
    return ExchangeOnlineProvider(client, tokens, session, reporter, journal=journal,
                                  owns_session=shared is None)
