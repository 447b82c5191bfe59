"""The shared token cache file of a fleet: each tenant its own msal cache in memory (so msal's
scans stay per tenant), one file on disk; writers (a run's worker processes, two runs) merge
their tokens into the file under its lock instead of overwriting each other's."""
from __future__ import annotations

import json
import stat
from pathlib import Path

from exoform.providers.exchange.token_cache import SharedTokenCacheFile, TenantTokenCache


def _with_token(cache: TenantTokenCache, realm: str) -> None:
    key = f"-login.example-accesstoken-app-{realm}-scope"
    entry = {"credential_type": "AccessToken", "secret": f"token-of-{realm}", "home_account_id": "",
             "environment": "login.example", "client_id": "app", "realm": realm, "target": "scope",
             "cached_at": "0", "expires_on": "9999999999"}
    data = json.loads(cache.cache.serialize())
    data.setdefault("AccessToken", {})[key] = entry
    cache.cache.deserialize(json.dumps(data))
    cache.cache.has_state_changed = True


def _realms(cache: TenantTokenCache) -> list[str]:
    return sorted(e["realm"] for e in json.loads(cache.cache.serialize()).get("AccessToken", {}).values())


def test_two_writers_keep_each_others_tokens_and_each_tenant_sees_its_own(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "fleet.json"
    first, second = SharedTokenCacheFile(path), SharedTokenCacheFile(path)  # both loaded empty
    _with_token(first.for_tenant("tenant-a"), "tenant-a")
    _with_token(second.for_tenant("tenant-b"), "tenant-b")
    first.flush()
    second.flush()
    tokens = json.loads(path.read_text(encoding="utf-8"))["AccessToken"]
    assert sorted(e["realm"] for e in tokens.values()) == ["tenant-a", "tenant-b"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = SharedTokenCacheFile(path)
    assert _realms(reloaded.for_tenant("TENANT-A")) == ["tenant-a"]  # its own entries only
    assert reloaded.for_tenant("tenant-b") is reloaded.for_tenant("Tenant-B")


def test_nothing_changed_writes_nothing_and_save_waits_for_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    now = [0.0]
    cache = SharedTokenCacheFile(path, interval=30.0, clock=lambda: now[0])
    tenant = cache.for_tenant("tenant-a")
    cache.flush()
    assert not path.exists()
    _with_token(tenant, "tenant-a")
    tenant.save()
    assert not path.exists()  # not yet: a fleet signs in to many tenants in a row
    now[0] = 31.0
    tenant.save()
    assert path.exists()
