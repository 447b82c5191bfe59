"""Access tokens for the Exchange Admin API through msal: app-only (certificate or secret) or
delegated (device code), cached in memory and optionally in a persistent file.

`TokenSource.token()` is thread-safe; `refresh()` replaces a token the API rejected (one 401).
"""
from __future__ import annotations

import base64
import json
import sys
import threading
import time
from typing import Any, Callable

import msal
import requests
from msal.authority import canonicalize

from exoform.engine.errors import AuthFailed
from exoform.engine.reporter import Reporter
from exoform.providers.exchange.credentials import load_credential
from exoform.providers.exchange.settings import ExchangeSettings
from exoform.providers.exchange.token_cache import CacheFile, TokenCacheFile, cache_path

DevicePrompt = Callable[[str], None]


def prompt_on_stderr(message: str) -> None:
    """Default device-code prompt: msal's sentence with the URL and the code."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


class TokenSource:
    """Gives out a valid bearer token, asking the identity platform only when needed."""

    def __init__(
        self,
        settings: ExchangeSettings,
        session: requests.Session,
        reporter: Reporter,
        *,
        cache_file: CacheFile | None,
        device_prompt: DevicePrompt = prompt_on_stderr,
    ) -> None:
        self._settings = settings
        self._session = session
        self._reporter = reporter
        self._cache_file = cache_file
        self._cache = cache_file.cache if cache_file else msal.SerializableTokenCache()
        self._device_prompt = device_prompt
        self._app: msal.ClientApplication | None = None
        self._lock = threading.Lock()
        self._current = ""
        self.token_requests = 0  # requests that reached the identity platform
        self.username = ""  # the signed-in admin (device code), for X-AnchorMailbox

    @classmethod
    def for_settings(cls, settings: ExchangeSettings, session: requests.Session,
                     reporter: Reporter, *, persistent: bool,
                     device_prompt: DevicePrompt = prompt_on_stderr) -> "TokenSource":
        cache_file = TokenCacheFile(cache_path(settings.authority, settings.client_id)) \
            if persistent else None
        return cls(settings, session, reporter, cache_file=cache_file,
                   device_prompt=device_prompt)

    def token(self) -> str:
        """A bearer token valid for the Admin API scope (from a cache when possible)."""
        with self._lock:
            if not self._current:
                self._current = self._acquire(force=False)
            return self._current

    def refresh(self, rejected: str) -> str:
        """A new token after the API answered 401 to `rejected`; one request for all threads."""
        with self._lock:
            if self._current == rejected or not self._current:
                self._current = self._acquire(force=True)
            return self._current

    def _acquire(self, *, force: bool) -> str:
        if not force and self._settings.auth.app_only:
            cached = self._cached_app_token()
            if cached:
                return cached
        app = self._application()
        if self._settings.auth.app_only:
            result = self._app_only(app, force=force)
        else:
            result = self._delegated(app, force=force)
        if "access_token" not in result:
            raise _auth_failed(result)
        if result.get("token_source") == "identity_provider":
            self.token_requests += 1
        self._save_cache()
        return str(result["access_token"])

    def _cached_app_token(self) -> str:
        """A still-fresh app-only token from the cache, found without building the msal app:
        a warm start then needs no OpenID discovery and no certificate parsing (~60 ms).
        Mirrors msal's own rule: a token with under 5 minutes left, or past refresh_on, is stale."""
        now = time.time()
        # By the authority's host and tenant too (msal's `environment` and `realm`): a fleet's one
        # cache holds every tenant's token, and with all four keys msal finds it in O(1).
        _, environment, realm = canonicalize(self._settings.authority)
        query = {"client_id": self._settings.client_id, "home_account_id": None,
                 "environment": environment, "realm": realm}
        for entry in self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN,
                                        target=[self._settings.scope], query=query):
            fresh = int(entry["expires_on"]) - now >= 300
            aging = "refresh_on" in entry and int(entry["refresh_on"]) < now
            if fresh and not aging and "ext_cache_key" not in entry:
                return str(entry["secret"])
        return ""

    def _app_only(self, app: Any, *, force: bool) -> dict[str, Any]:
        if force:
            # The API refused the cached token (revoked, clock skew): drop it, ask again.
            app.remove_tokens_for_client()
        return dict(_call_msal(lambda: app.acquire_token_for_client([self._settings.scope]),
                               self._settings.authority))

    def _delegated(self, app: Any, *, force: bool) -> dict[str, Any]:
        scopes = [self._settings.scope]
        accounts = _call_msal(app.get_accounts, self._settings.authority)
        if accounts:
            self.username = str(accounts[0].get("username") or "")
            result = _call_msal(lambda: app.acquire_token_silent_with_error(
                scopes, accounts[0], force_refresh=force), self._settings.authority)
            if result and "access_token" in result:
                return dict(result)
        flow = _call_msal(lambda: app.initiate_device_flow(scopes), self._settings.authority)
        if "user_code" not in flow:
            raise _auth_failed(flow)
        self._device_prompt(str(flow.get("message") or
                                f"Open {flow.get('verification_uri')} and enter {flow['user_code']}"))
        result = _call_msal(lambda: app.acquire_token_by_device_flow(flow),
                            self._settings.authority)
        claims = result.get("id_token_claims") or {}
        self.username = str(claims.get("preferred_username") or self.username)
        return dict(result)

    def _application(self) -> Any:
        if self._app is None:
            self._app = _call_msal(self._build_application, self._settings.authority)
        return self._app

    def _build_application(self) -> Any:
        common: dict[str, Any] = {
            "authority": self._settings.authority,
            "token_cache": self._cache,
            "http_client": self._session,
            # No alias lookup on login.microsoftonline.com: the authority is explicit, and
            # private/emulated authorities would fail it.
            "instance_discovery": False,
        }
        if not self._settings.auth.app_only:
            return msal.PublicClientApplication(self._settings.client_id, **common)
        credential = load_credential(self._settings.auth)
        # azure_region=False: MSAL_FORCE_REGION in the environment must not rewrite the host.
        return msal.ConfidentialClientApplication(
            self._settings.client_id, client_credential=credential.msal_value,
            azure_region=False, **common)

    def _save_cache(self) -> None:
        if self._cache_file is None:
            return
        try:
            self._cache_file.save()
        except OSError as error:
            self._reporter.warning(
                f"could not save the token cache {self._cache_file.path}: {error.strerror}")


def token_claims(token: str) -> dict[str, Any]:
    """The claims of an access token, unverified (the identity platform signed it; exoform only
    reads which tenant it is for). An opaque or malformed token has none."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _call_msal(fn: Callable[[], Any], authority: str) -> Any:
    """Run an msal call, turning network and discovery failures into AuthFailed."""
    try:
        return fn()
    except requests.RequestException as error:
        raise AuthFailed(f"cannot reach the identity platform at {authority} "
                         f"({type(error).__name__})") from None
    except msal.exceptions.MsalServiceError as error:
        raise AuthFailed(f"the identity platform at {authority} failed: "
                         f"{_first_line(str(error.error_description or error.error))}") from None
    except ValueError as error:
        # msal raises ValueError for an authority whose OpenID configuration cannot be read.
        raise AuthFailed(f"the identity authority {authority} is not usable: "
                         f"{_first_line(str(error))}") from None


def _auth_failed(result: dict[str, Any]) -> AuthFailed:
    code = str(result.get("error") or "unknown_error")
    text = _first_line(str(result.get("error_description") or "no description given"))
    return AuthFailed(f"sign-in was refused ({code}): {text}")


def _first_line(text: str) -> str:
    """Entra descriptions carry trace/correlation ids on later lines; keep the sentence."""
    return text.strip().splitlines()[0].strip() if text.strip() else ""
