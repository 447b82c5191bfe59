"""The fleet manifest: JSON Merge Patch of defaults, tenant block and overrides, placeholders,
values from the environment, every tenant's merged config validated by the config parser with
problems named by tenant and manifest path (a defaults problem once), waves in order, and shards
that partition the fleet."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exoform.engine.errors import InputError
from exoform.engine.fleet import Selection, Shard, load_manifest, select, tenant_state_path
from exoform.engine.fleet.merge import merge_patch, parse_json_path
from exoform.engine.messages import json_path

BASE: dict[str, Any] = {
    "tenant": {"provider": "sandbox", "sandbox_file": "t/{name}.json"},
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": {"env": "INFO"}},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
ENV = {"INFO": "the-info"}


def _write(tmp_path: Path, tenants: list[dict[str, Any]], **top: Any) -> Path:
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"fleet": "f1", "defaults": top.pop("defaults", BASE), "tenants": tenants, **top}),
                    encoding="utf-8")
    return path


def _problems(path: Path, environ: dict[str, str] = ENV) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_manifest(path, environ)
    return [str(issue) for issue in caught.value.issues]


def test_merge_patch_merges_objects_replaces_the_rest_and_null_removes() -> None:
    target = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert merge_patch(target, {"a": {"c": [3], "e": None, "b": None}, "f": {"g": 1}}) == {
        "a": {"c": [3]}, "d": 1, "f": {"g": 1}}
    assert target == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # not changed in place


@given(st.lists(st.one_of(st.sampled_from(["gateway", "ip_ranges", "odd key", "$x", "a-b"]),
                          st.integers(0, 99)), max_size=5))
def test_json_paths_parse_back(parts: list[Any]) -> None:
    assert parse_json_path(json_path(parts)) == tuple(parts)


def test_tenants_merge_defaults_with_placeholders_and_env(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        {"name": "contoso", "wave": "canary"},
        {"name": "fabrikam", "overrides": {"gateway": {"smart_host": "eu.gw.example", "tenant_info": {"env": "FAB"}},
                                           "protection": {"scope": {"users": "selected", "recipients": ["a@f.example"]}}}},
    ], waves=["canary"])
    manifest = load_manifest(path, {**ENV, "FAB": "fab-info"})
    contoso, fabrikam = manifest.members
    assert (contoso.wave, fabrikam.wave, manifest.waves) == ("canary", "default", ("canary", "default"))
    assert contoso.spec.integration == fabrikam.spec.integration == "f1"
    assert contoso.spec.tenant.options["sandbox_file"] == str(tmp_path / "t" / "contoso.json")
    assert (contoso.spec.gateway.tenant_info, fabrikam.spec.gateway.tenant_info) == ("the-info", "fab-info")
    assert fabrikam.spec.gateway.smart_host == "eu.gw.example"
    assert fabrikam.spec.scope.recipients == ("a@f.example",) and fabrikam.spec.mode == "inline"
    assert contoso.spec.digest != fabrikam.spec.digest
    assert tenant_state_path(manifest, contoso) == tmp_path / ".exoform" / "fleet" / "f1" / "contoso.state.json"


def test_problems_name_the_tenant_and_the_manifest_path(tmp_path: Path) -> None:
    defaults = {**BASE, "gateway": {**BASE["gateway"], "header_name": "bad header"}}
    path = _write(tmp_path, [
        {"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"},
        {"name": "contoso",
         "overrides": {"gateway": {"tenant_info": {"env": "MISSING"}, "ip_ranges": ["10.0.0.0/33"]}}},
    ], defaults=defaults)
    found = _problems(path)
    assert any(p.startswith("defaults.gateway.header_name:") and p.endswith("and 2 more)") for p in found)
    assert sum(p.startswith("defaults.gateway.header_name") for p in found) == 1  # once for all
    assert any(p.startswith("tenants[4] (contoso).overrides.gateway.tenant_info: the environment variable "
                            "MISSING is not set") for p in found)
    assert any(p.startswith("tenants[4] (contoso).overrides.gateway.ip_ranges[0]:") for p in found)
    found = _problems(_write(tmp_path, [{"name": "x", "tenant": {"sandbox_file": 7}}]))
    assert any(p.startswith("tenants[0] (x).tenant.sandbox_file:") for p in found)


def test_manifest_level_problems(tmp_path: Path) -> None:
    found = _problems(_write(tmp_path, [{"name": "a"}, {"name": "A"}, {"name": "b", "overrides": {"gatway": {}}}],
                             defaults={**BASE, "backnd": {}}))
    assert any(p.startswith("defaults.backnd: is not a block of an exoform config") for p in found)
    assert any(p.startswith("tenants[2].overrides.gatway:") for p in found)
    assert any(p.startswith("tenants[1].name: 'A' is also the name of tenants[0]") for p in found)
    found = _problems(_write(tmp_path, [{"name": "a", "tenant": {"sandbox_file": "same.json"}},
                                        {"name": "b", "tenant": {"sandbox_file": "same.json"}}]))
    assert found == ["tenants[1] (b).tenant: reaches the same tenant as tenants[0] (a); each tenant appears once in a fleet"]
    found = _problems(_write(tmp_path, [{"name": "a"}],
                             defaults={**BASE, "tenant": {"provider": "sandbox"}}))
    assert found == ['defaults.tenant.sandbox_file: a sandbox tenant of a fleet needs a file of its own: set it, '
                     'e.g. "tenants/{name}.tenant.json" in defaults.tenant (for tenants[0] (a))']


def test_sensitive_values_are_never_echoed(tmp_path: Path) -> None:
    defaults = {**BASE, "gateway": {**BASE["gateway"], "tenant_info": ["very-secret-list"]}}
    text = "\n".join(_problems(_write(tmp_path, [{"name": "a"}], defaults=defaults)))
    assert "very-secret-list" not in text
    defaults = {**BASE, "gateway": {**BASE["gateway"], "tenant_info": "x" * 5000}}
    text = "\n".join(_problems(_write(tmp_path, [{"name": "a"}], defaults=defaults)))
    assert "xxxxxxxxxx" not in text and "tenant_info" in text


def test_selection_orders_by_wave_then_manifest(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"name": "b1", "wave": "broad"}, {"name": "c1", "wave": "canary"},
                             {"name": "b2", "wave": "broad"}, {"name": "c2", "wave": "canary"}],
                  waves=["canary", "broad"])
    manifest = load_manifest(path, ENV)
    assert [m.name for m in select(manifest, Selection())] == ["c1", "c2", "b1", "b2"]
    assert [m.name for m in select(manifest, Selection(waves=("BROAD",), tenants=("b2", "c1")))] == ["b2"]


@given(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True), unique=True, max_size=40),
       st.integers(1, 7))
def test_shards_partition_the_fleet(names: list[str], count: int) -> None:
    owners = [[k for k in range(1, count + 1) if Shard(k, count).holds(n)] for n in names]
    assert all(len(o) == 1 for o in owners)
    assert Shard.parse(f" {count}/{count} ") == Shard(count, count)


def test_local_state_files_are_one_per_tenant(tmp_path: Path) -> None:
    shared = {**BASE, "backend": {"type": "local", "path": "states/all.json"}}
    found = _problems(_write(tmp_path, [{"name": "a"}, {"name": "b"}], defaults=shared))
    assert len(found) == 1 and found[0].startswith("tenants[1] (b).backend.path: keeps its state in ")
    assert '"path": "states/{name}.json"' in found[0]
    own = {**BASE, "backend": {"type": "local", "path": "states/{name}.json"}}
    manifest = load_manifest(_write(tmp_path, [{"name": "a"}, {"name": "b"}], defaults=own), ENV)
    assert [tenant_state_path(manifest, m) for m in manifest.members] == [
        tmp_path / "states" / "a.json", tmp_path / "states" / "b.json"]
