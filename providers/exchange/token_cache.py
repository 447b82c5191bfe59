"""The persistent msal token cache: one 0600 JSON file per authority and client id under the
user's cache directory, so a second command within a token's life asks the identity platform
for nothing; a fleet run shares one file per client and cloud, its entries keyed by tenant.
A damaged file is ignored (the next sign-in rewrites it), never fatal.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import msal

from exoform.engine import oslock
from exoform.engine.jsonfile import atomic_write_json


def cache_dir() -> Path:
    """`$EXOFORM_CACHE_DIR`, else `$XDG_CACHE_HOME/exoform`, else `~/.cache/exoform`."""
    override = os.environ.get("EXOFORM_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "exoform"


def cache_path(authority: str, client_id: str) -> Path:
    """The cache file of one authority (tenant) and client."""
    key = hashlib.sha256(f"{authority.lower()}|{client_id.lower()}".encode()).hexdigest()[:20]
    return cache_dir() / f"msal-token-cache-{key}.json"


class TokenCacheFile:
    """An msal SerializableTokenCache loaded from and saved to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache = msal.SerializableTokenCache()
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return
        try:
            self.cache.deserialize(text)
        except ValueError:
            # A truncated or foreign file only costs one token request.
            self.cache = msal.SerializableTokenCache()

    def save(self) -> None:
        """Write the cache if msal changed it: atomic replace, owner-only permissions."""
        with self._lock:
            if not self.cache.has_state_changed:
                return
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write_json(self.path, json.loads(self.cache.serialize()), mode=0o600)
            self.cache.has_state_changed = False


def fleet_cache_path(login_host: str, client_id: str) -> Path:
    """The one cache file of a fleet's app registration in one cloud (msal keys its tokens by
    tenant, the `realm`, so every tenant's token lives in it side by side)."""
    key = hashlib.sha256(f"fleet|{login_host.lower()}|{client_id.lower()}".encode()).hexdigest()[:20]
    return cache_dir() / f"msal-token-cache-fleet-{key}.json"


class CacheFile(Protocol):
    """What a token source needs of a persistent cache: msal's cache, and `save` after a token."""

    path: Path
    cache: msal.SerializableTokenCache

    def save(self) -> None: ...


class SharedTokenCacheFile:
    """One file many tenants' token sources share, each tenant its own msal cache in memory
    (`for_tenant`; msal scans a cache on every token request, so one cache of a thousand tenants
    would make a fleet's sign-ins quadratic). `save` (after each token) writes at most every
    `interval` seconds, `flush` at the end of the run: rewriting a file of 1,000 tokens after
    each of 1,000 sign-ins would cost more than the sign-ins. Writers merge (under a lock on
    `<file>.lock`), so the worker processes of a run, or two runs, keep each other's tokens."""

    def __init__(self, path: Path, interval: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._interval = interval
        self._clock = clock
        self._written = clock()
        self._lock = threading.Lock()
        self._disk = _on_disk(path)
        self._tenants: dict[str, TenantTokenCache] = {}

    def for_tenant(self, realm: str) -> "TenantTokenCache":
        """The cache of the tenant msal calls `realm` (the authority's tenant segment)."""
        with self._lock:
            found = self._tenants.get(realm.lower())
            if found is None:
                found = TenantTokenCache(self, _slice(self._disk, realm))
                self._tenants[realm.lower()] = found
            return found

    def save(self) -> None:
        if self._clock() - self._written >= self._interval:
            self.flush()

    def flush(self) -> None:
        self._written = self._clock()
        with self._lock:
            ours = [json.loads(t.cache.serialize()) for t in self._tenants.values() if t.cache.has_state_changed]
            if not ours:
                return
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with _locked(self.path.with_name(self.path.name + ".lock")):
                merged = _on_disk(self.path)
                for document in ours:
                    for section, entries in document.items():
                        if isinstance(entries, dict):
                            merged[section] = {**(merged.get(section) or {}), **entries}
                atomic_write_json(self.path, merged, mode=0o600)


class TenantTokenCache:
    """One tenant's part of a `SharedTokenCacheFile` (a `CacheFile` for its token source)."""

    def __init__(self, shared: SharedTokenCacheFile, entries: dict[str, Any]) -> None:
        self.path = shared.path
        self.cache = msal.SerializableTokenCache()
        if entries:
            self.cache.deserialize(json.dumps(entries))
        self._shared = shared

    def save(self) -> None:
        self._shared.save()


def _slice(document: dict[str, Any], realm: str) -> dict[str, Any]:
    """The entries of one tenant (and those of no tenant, such as app metadata)."""
    wanted = realm.lower()
    out: dict[str, Any] = {}
    for section, entries in document.items():
        if isinstance(entries, dict):
            out[section] = {key: entry for key, entry in entries.items() if not isinstance(entry, dict)
                            or str(entry.get("realm", wanted)).lower() == wanted}
    return out


def _on_disk(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        oslock.lock(fd, wait=True)
        yield
    finally:
        os.close(fd)
