"""Config loading and validation: data-driven cases under tests/cases/config, file-level errors,
the schema itself, and hypothesis properties (valid configs load deterministically, junk only
ever raises InputError).

Case files: invalid/*.json hold {"config", "errors": [{"path", "contains"}], optional "absent"
(strings the message must not show), "count" (exact issue count), "max_message" (length cap)};
valid/*.json hold {"config", "expected"}, where "expected" is a subset of the resolved spec.
"""
from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exoform.engine.config import (
    PROFILES,
    config_schema,
    format_path,
    load_config,
    normalize_ranges,
    parse_config,
)
from exoform.engine.errors import InputError
from exoform.engine.spec import IntegrationSpec

CASES = Path(__file__).parent / "cases" / "config"
EXAMPLES = Path(__file__).parent.parent / "examples"
BASE_DIR = Path("/cfg")
MINIMAL: dict[str, Any] = {
    "integration": "contoso",
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t0ken-value"},
    "protection": {"mode": "inline", "directions": ["inbound"]},
}


def _case_files(kind: str) -> list[Path]:
    return sorted((CASES / kind).glob("*.json"))


def _plain(value: Any) -> Any:
    """A spec as plain JSON-like data (tuples -> lists, mapping proxies -> dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (dict, MappingProxyType)):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _assert_subset(expected: Any, actual: Any, where: str = "spec") -> None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} missing"
            _assert_subset(value, actual[key], f"{where}.{key}")
        if where.endswith(".options") or where.endswith(".auth"):
            assert set(actual) == set(expected), f"{where}: extra {set(actual) - set(expected)}"
        return
    assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"


def _raises(config: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_config(config, source="config.json", base_dir=BASE_DIR)
    return caught.value


# --- data-driven cases -----------------------------------------------------------------------


@pytest.mark.parametrize("case_file", _case_files("invalid"), ids=lambda p: p.stem)
def test_invalid_config(case_file: Path) -> None:
    case = json.loads(case_file.read_text(encoding="utf-8"))
    error = _raises(case["config"])
    shown = [f"{issue.path} => {issue.message}" for issue in error.issues]
    for wanted in case["errors"]:
        assert any(issue.path == wanted["path"] and wanted["contains"] in issue.message
                   for issue in error.issues), f"{wanted} not in:\n" + "\n".join(shown)
    for secret in case.get("absent", []):
        assert secret not in str(error)
    if "count" in case:
        assert len(error.issues) == case["count"], shown
    for issue in error.issues:
        assert len(issue.message) <= case.get("max_message", 600), issue.message
    assert error.source == "config.json"


@pytest.mark.parametrize("case_file", _case_files("valid"), ids=lambda p: p.stem)
def test_valid_config(case_file: Path) -> None:
    case = json.loads(case_file.read_text(encoding="utf-8"))
    spec = parse_config(case["config"], source="config.json", base_dir=BASE_DIR)
    _assert_subset(case["expected"], _plain(spec))


def test_case_directories_are_populated() -> None:
    assert len(_case_files("invalid")) >= 40
    assert len(_case_files("valid")) >= 10


# --- behaviour not expressible as a single case ----------------------------------------------


def test_issues_are_sorted_by_path() -> None:
    config = copy.deepcopy(MINIMAL)
    config["gateway"]["ip_ranges"] = [f"10.0.{i}.0/24" for i in range(12)]
    paths = [issue.path for issue in _raises(config).issues]
    assert paths == [f"gateway.ip_ranges[{i}]" for i in range(12)]  # numeric, not 0,1,10,11,2


def test_digest_and_source() -> None:
    spec = parse_config(MINIMAL, source="some/where.json", base_dir=BASE_DIR)
    reordered = json.loads(json.dumps(MINIMAL, sort_keys=True))
    other = parse_config(dict(reversed(list(reordered.items()))), source="x", base_dir=BASE_DIR)
    assert spec.source == "some/where.json"
    assert len(spec.digest) == 64 and spec.digest == other.digest
    changed = copy.deepcopy(MINIMAL)
    changed["gateway"]["tenant_info"] = "other"
    assert parse_config(changed, source="x", base_dir=BASE_DIR).digest != spec.digest


def test_slash_16_splits_into_256_slash_24s() -> None:
    config = copy.deepcopy(MINIMAL)
    config["gateway"]["ip_ranges"] = ["52.96.0.0/16"]
    ranges = parse_config(config, source="x", base_dir=BASE_DIR).gateway.ip_ranges
    assert len(ranges) == 256
    assert ranges[0] == "52.96.0.0/24" and ranges[-1] == "52.96.255.0/24"


def test_normalize_ranges_keeps_narrow_and_drops_covered() -> None:
    texts = ("8.8.8.5/32", "8.8.8.0/29", "8.8.4.0/23", "1.1.1.1/32", "8.8.9.0/24", "8.8.9.0/28",
             "8.8.9.200", "8.8.8.8")
    nets = [ipaddress.IPv4Network(n) for n in texts]
    assert normalize_ranges(nets) == (
        "1.1.1.1", "8.8.4.0/24", "8.8.5.0/24", "8.8.8.0/29", "8.8.8.8", "8.8.9.0/24")


def test_format_path_quotes_odd_keys() -> None:
    assert format_path(("gateway", "ip_ranges", 1)) == "gateway.ip_ranges[1]"
    assert format_path(("tenant", "my key")) == 'tenant["my key"]'
    assert format_path(()) == ""


@pytest.mark.parametrize("data", [
    {**MINIMAL, 1: "x"}, {**MINIMAL, "gateway": ("203.0.113.0/24",)}, {"integration", "x"},
    {**MINIMAL, "integration": 10 ** 5000}, b"{}",
], ids=["int-key", "tuple", "set", "huge-int", "bytes"])
def test_python_only_values_are_input_errors(data: Any) -> None:
    error = _raises(data)
    assert all(len(issue.message) < 400 for issue in error.issues)


def test_spec_is_frozen_and_options_read_only() -> None:
    spec = parse_config(MINIMAL, source="x", base_dir=BASE_DIR)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(spec, "integration", "other")
    options: Any = spec.tenant.options
    with pytest.raises(TypeError):
        options["sandbox_file"] = "x"


# --- the schema ------------------------------------------------------------------------------


def _object_schemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "properties" in node:
            yield node
        for value in node.values():
            yield from _object_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _object_schemas(value)


def test_every_object_schema_is_closed() -> None:
    """Closed objects, except `if` conditions, `else` hints and dispatchers whose branches close."""
    schema = config_schema()
    conditions = [branch["if"] for node in _object_schemas(schema)
                  for branch in [node, *node.get("allOf", [])] if "if" in branch]
    elses = [node["else"] for node in _object_schemas(schema) if "else" in node]
    for node in _object_schemas(schema):
        if any(node is c or node in _nested(c) for c in conditions) or node in elses:
            continue
        assert node.get("additionalProperties") is False or "allOf" in node, node


def _nested(node: Any) -> list[Any]:
    return list(_object_schemas(node))


def test_every_property_has_a_description() -> None:
    schema = config_schema()
    for name, definition in schema["$defs"].items():
        for key, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"$defs.{name}.properties.{key}"


def test_profile_enum_matches_profile_table() -> None:
    enum = config_schema()["$defs"]["gateway"]["properties"]["profile"]["enum"]
    assert sorted(enum) == sorted(PROFILES)


# --- files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["inline.json", "monitoring.json", "exchange-online.json"])
def test_examples_load(name: str) -> None:
    spec = load_config(EXAMPLES / name)
    assert isinstance(spec, IntegrationSpec)
    assert spec.source == str(EXAMPLES / name)


def test_example_shapes() -> None:
    inline = load_config(EXAMPLES / "inline.json")
    assert inline.integration == "contoso-inline" and inline.inline
    assert inline.gateway.ip_ranges == ("198.51.100.0/24", "203.0.113.0/24")
    monitoring = load_config(EXAMPLES / "monitoring.json")
    assert monitoring.mode == "monitoring" and monitoring.directions == ("inbound",)
    assert monitoring.scope.recipients and monitoring.scope.groups
    online = load_config(EXAMPLES / "exchange-online.json")
    assert online.tenant.provider == "exchange_online"
    certificate = online.tenant.options["auth"]["certificate_path"]
    assert certificate == str(EXAMPLES / "certs" / "exoform-app.pem")


def _file_issue(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.source == str(path)
    return str(caught.value.issues[0].message)


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in _file_issue(tmp_path / "nope.json")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    assert "is a folder" in _file_issue(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b'{"integration": "caf\xe9"}')
    assert "not UTF-8" in _file_issue(path)


@pytest.mark.parametrize("text, wanted", [
    ('{\n  "integration": "x",\n}', "at line 3, column 1"),
    ('{"integration": NaN}', "NaN is not a JSON value"),
    ("", "is empty"),
    ("  \n", "is empty"),
    ("[" * 100_000, "nests too deeply"),
], ids=["trailing-comma", "nan", "empty", "blank", "deep"])
def test_bad_json(tmp_path: Path, text: str, wanted: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    assert wanted in _file_issue(path)


def test_repeated_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"integration": "a", "gateway": {"tenant_info": "a", "tenant_info": "b"}}')
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.issues[0].path == "gateway.tenant_info"
    assert "more than once" in caught.value.issues[0].message


def test_too_large_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"pad": "x" * (1 << 20)}))
    assert "larger than 1 MiB" in _file_issue(path)


def test_byte_order_mark_and_relative_sandbox_file(tmp_path: Path) -> None:
    config = dict(MINIMAL, tenant={"sandbox_file": "tenant.json"})
    path = tmp_path / "sub" / "c.json"
    path.parent.mkdir()
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(config).encode())
    spec = load_config(path)
    assert spec.tenant.options["sandbox_file"] == str(tmp_path / "sub" / "tenant.json")
    assert spec == parse_config(config, source=str(path), base_dir=path.parent)


def test_file_digest_ignores_formatting(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(MINIMAL))
    second.write_text(json.dumps(MINIMAL, indent=4, sort_keys=True))
    assert load_config(first).digest == load_config(second).digest


# --- hypothesis ------------------------------------------------------------------------------

_PUBLIC_FIRST_OCTETS = (8, 13, 20, 40, 52, 104, 198, 203)


@st.composite
def _ranges(draw: st.DrawFn) -> str:
    octets = [draw(st.sampled_from(_PUBLIC_FIRST_OCTETS))] + draw(
        st.lists(st.integers(0, 255), min_size=3, max_size=3))
    prefix = draw(st.integers(20, 32))
    network = ipaddress.IPv4Network(f"{'.'.join(map(str, octets))}/{prefix}", strict=False)
    return str(network.network_address) if prefix == 32 and draw(st.booleans()) else str(network)


def _disjoint(ranges: list[str]) -> bool:
    """A config lists each address once (overlaps are reported, not merged)."""
    nets = [ipaddress.IPv4Network(r) for r in ranges]
    return not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


_names = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp")), min_size=1,
                 max_size=30).filter(lambda s: s == s.strip())
_emails = st.from_regex(r"[a-z][a-z0-9._+-]{0,10}[a-z0-9]@[a-z]{1,10}\.(com|org|email)",
                        fullmatch=True).filter(lambda s: ".." not in s and ".@" not in s)
# A group written with an "@" is checked as an address, so a plain group name has none.
_group_names = _names.filter(lambda s: "@" not in s)
_guid = st.uuids().map(str)
_auth = st.one_of(
    st.fixed_dictionaries({"method": st.just("certificate"), "certificate_path": st.just("a.pem")},
                          optional={"certificate_password_env": st.just("PFX_PASSWORD")}),
    st.fixed_dictionaries({"method": st.just("secret"), "client_secret_env": st.just("SECRET")}),
)
_tenant = st.one_of(
    st.fixed_dictionaries({}, optional={
        "provider": st.just("sandbox"),
        "sandbox_file": st.sampled_from(["t.json", "/abs/t.json"])}),
    st.fixed_dictionaries({"provider": st.just("exchange_online"), "tenant_id": _guid,
                           "client_id": _guid, "auth": _auth},
                          optional={"cloud": st.sampled_from(["global", "gcc-high", "dod"])}),
)
_scope = st.one_of(
    st.just({"users": "all"}),
    st.fixed_dictionaries({"users": st.just("selected"),
                           "recipients": st.lists(_emails, min_size=1, max_size=4, unique_by=str.casefold)},
                          optional={"groups": st.lists(st.one_of(_emails, _group_names), max_size=3,
                                                       unique_by=str.casefold)}),
)
_configs = st.fixed_dictionaries(
    {
        "integration": st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
        "gateway": st.fixed_dictionaries(
            {"ip_ranges": st.lists(_ranges(), min_size=1, max_size=6).filter(_disjoint), "tenant_info": _names},
            optional={"name_prefix": _names, "header_name": st.from_regex(
                r"X-[A-Za-z0-9-]{1,20}", fullmatch=True), "profile": st.just("opswat-mdces")}),
        "protection": st.fixed_dictionaries({
            "mode": st.sampled_from(["inline", "monitoring"]),
            "directions": st.lists(st.sampled_from(["inbound", "outbound"]), min_size=1,
                                   max_size=2, unique=True)},
            optional={"scope": _scope}),
    },
    optional={
        "tenant": _tenant,
        "rules": st.fixed_dictionaries({}, optional={
            "enabled": st.booleans(), "placement": st.sampled_from(["top", "bottom"]),
            "mode": st.sampled_from(["enforce", "audit"])}),
        "allowlist": st.fixed_dictionaries({}, optional={
            "connection_filter": st.booleans(), "enhanced_filtering": st.booleans()}),
    },
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=20,
)


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(item) for item in value]
    return value


@settings(max_examples=100, deadline=None)
@given(_configs)
def test_generated_valid_configs_load_deterministically(config: dict[str, Any]) -> None:
    spec = parse_config(config, source="c.json", base_dir=BASE_DIR)
    again = parse_config(_reversed_keys(json.loads(json.dumps(config))), source="c.json",
                         base_dir=BASE_DIR)
    assert spec == again and spec.digest == again.digest
    assert list(spec.gateway.ip_ranges) == sorted(
        spec.gateway.ip_ranges, key=lambda r: ipaddress.IPv4Network(r).network_address)
    assert all(ipaddress.IPv4Network(r).prefixlen >= 24 for r in spec.gateway.ip_ranges)


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _leaf_paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _leaf_paths(item, path + (index,))
    return paths


def _expect_input_error_or_spec(data: Any) -> None:
    try:
        result = parse_config(data, source="c.json", base_dir=BASE_DIR)
    except InputError as error:
        assert error.issues and all(len(i.message) < 1000 for i in error.issues)
    else:
        assert isinstance(result, IntegrationSpec)


@settings(max_examples=150, deadline=None)
@given(_json_values)
def test_random_junk_only_raises_input_error(junk: Any) -> None:
    _expect_input_error_or_spec(junk)


@settings(max_examples=120, deadline=None)
@given(_configs, st.data())
def test_mutated_configs_only_raise_input_error(config: dict[str, Any],
                                                data: st.DataObject) -> None:
    config = copy.deepcopy(config)  # st.just() hands out the same object every time
    path = data.draw(st.sampled_from(_leaf_paths(config)[1:]))
    replacement = data.draw(_json_values | st.text(max_size=40))
    target: Any = config
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = replacement
    _expect_input_error_or_spec(config)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200) | _json_values.map(lambda v: json.dumps(v).encode()))
def test_random_files_only_raise_input_error(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "junk.json"
    path.write_bytes(raw)
    try:
        load_config(path)
    except InputError as error:
        assert error.source == str(path) and error.issues
