"""The shared token cache file of a fleet: writers (a run's worker processes, two runs) merge
their tokens into the file under its lock instead of overwriting each other's."""
from __future__ import annotations

import json
import stat
from pathlib import Path

from exoform.providers.exchange.token_cache import SharedTokenCacheFile


def _with_token(cache: SharedTokenCacheFile, realm: str) -> None:
    key = f"-login.example-accesstoken-app-{realm}-scope"
    entry = {"credential_type": "AccessToken", "secret": f"token-of-{realm}", "home_account_id": "",
             "environment": "login.example", "client_id": "app", "realm": realm, "target": "scope",
             "cached_at": "0", "expires_on": "9999999999"}
    data = json.loads(cache.cache.serialize())
    data.setdefault("AccessToken", {})[key] = entry
    cache.cache.deserialize(json.dumps(data))
    cache.cache.has_state_changed = True


def test_two_writers_keep_each_others_tokens(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "fleet.json"
    first, second = SharedTokenCacheFile(path), SharedTokenCacheFile(path)  # both loaded empty
    _with_token(first, "tenant-a")
    _with_token(second, "tenant-b")
    first.flush()
    second.flush()
    tokens = json.loads(path.read_text(encoding="utf-8"))["AccessToken"]
    assert sorted(e["realm"] for e in tokens.values()) == ["tenant-a", "tenant-b"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = SharedTokenCacheFile(path)
    assert len(json.loads(reloaded.cache.serialize())["AccessToken"]) == 2


def test_nothing_changed_writes_nothing_and_save_waits_for_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    now = [0.0]
    cache = SharedTokenCacheFile(path, interval=30.0, clock=lambda: now[0])
    cache.flush()
    assert not path.exists()
    _with_token(cache, "tenant-a")
    cache.save()
    assert not path.exists()  # not yet: a fleet signs in to many tenants in a row
    now[0] = 31.0
    cache.save()
    assert path.exists()
