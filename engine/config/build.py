"""Building the `IntegrationSpec` from a config: read the file strictly, validate it against
`schemas/config.schema.json`, run the field checks and the cross-checks a schema cannot express,
resolve defaults and relative paths. Every problem is reported at once, by JSON path.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, cast

from exoform.engine.config.fields import (
    GATEWAY_FIELD_CHECKS,
    address_problem,
    control_characters,
    domain_problem,
    group_name_problem,
    https_url_problem,
    name_prefix_problem,
    tenant_info_problem,
)
from exoform.engine.config.profiles import DEFAULT_PROFILE, GROUPS_SUFFIXES, OVERRIDABLE, PROFILES
from exoform.engine.errors import InputError, Issue
from exoform.engine.exchange import DEVICE_CODE_CLIENT_ID, MAX_ALLOWLIST_ENTRIES
from exoform.engine.ipv4 import normalize_ranges, parse_config_range
from exoform.engine.jsonread import MIB, JsonFile, read_json_file
from exoform.engine.messages import JsonPath, PathPart, Problem, issues, json_path, preview
from exoform.engine.schema_messages import SchemaDocument, schema_copy, schema_problems
from exoform.engine.spec import (
    INBOUND,
    MONITORING,
    OUTBOUND,
    BackendSpec,
    GatewaySpec,
    IntegrationSpec,
    RuleExceptions,
    ScopeSpec,
    TenantSpec,
)

# Clouds the schema names so that validate can say why they are refused.
UNSUPPORTED_CLOUDS = {
    name: ("Microsoft 365 operated by 21Vianet (outlook.office365.cn, login.chinacloudapi.cn) is not "
           "supported: exoform has not been checked against its Admin API. Use global, gcc, gcc-high "
           "or dod (GCC tenants use global's hosts: write global or gcc)")
    for name in ("china", "21vianet")
}

CONFIG_FILE = JsonFile(
    noun="config file", max_bytes=MIB,
    missing="check the path given with -c/--config (examples/ holds sample configs)",
    content="an exoform config is a small JSON object (see examples/inline.json)",
    fix="fix the syntax there (a trailing comma or a missing quote is typical)",
)
SCHEMA_FILE = "config.schema.json"

# Paths whose values must never be echoed: the tenant information is a credential of sorts, and
# a user may paste a secret where an environment variable's name belongs.
SENSITIVE_PATHS: tuple[JsonPath, ...] = (("gateway", "tenant_info"), ("tenant", "auth"))
# tenant_info_env holds a variable's name, not the value: it may be shown.
_SECRETISH_KEY = re.compile(r"secret|password|passwd|token|key$", re.IGNORECASE)


def load_config(path: str | Path) -> IntegrationSpec:
    """Read, validate and resolve the config file at `path`; InputError lists every problem."""
    source = str(path)
    data = read_json_file(Path(path), CONFIG_FILE, source)
    return parse_config(data, source=source, base_dir=Path(path).parent)


def missing_files(spec: IntegrationSpec) -> list[Issue]:
    """The files a config names that are not there (certificate, CA bundle), for `validate`:
    planning finds them only when it signs in."""
    options = spec.tenant.options
    named = [(("tenant", "auth", "certificate_path"), (options.get("auth") or {}).get("certificate_path")),
             (("tenant", "ca_bundle"), options.get("ca_bundle"))]
    return [Issue(json_path(where), f"no file at {path} (a relative path is resolved against the config "
                                    "file's folder)")
            for where, path in named if path and not Path(path).is_file()]


def parse_config(data: object, *, source: str, base_dir: Path) -> IntegrationSpec:
    """Validate already-parsed JSON `data` and resolve it; relative paths join `base_dir`."""
    found = schema_problems(data, CONFIG_DOCUMENT)
    if found:
        raise InputError(source, issues(found, first_per_path=False))
    config = cast(dict[str, Any], data)  # the schema guarantees an object of the right shape
    found = list(control_characters(config, ()))
    spec = _build_spec(config, base_dir, source, found)
    found.extend(_cross_checks(spec))
    if found:
        raise InputError(source, issues(found, first_per_path=True))
    return spec


def format_path(parts: Iterable[PathPart]) -> str:
    """`('gateway', 'ip_ranges', 1)` -> `gateway.ip_ranges[1]`; odd keys are quoted."""
    return json_path(parts)


def config_schema() -> dict[str, Any]:
    """A copy of the config JSON Schema (for documentation tools and tests)."""
    return schema_copy(SCHEMA_FILE)


def _is_sensitive(path: JsonPath) -> bool:
    return any(path[:len(prefix)] == prefix for prefix in SENSITIVE_PATHS)


def _unknown_key_hint(path: JsonPath, key: str) -> str:
    if path[:2] == ("tenant", "auth") and _SECRETISH_KEY.search(key):
        return ("never write a secret in the config: put it in an environment variable and name "
                "that variable in client_secret_env (or certificate_password_env)")
    if path[-1:] == ("scope",) and key in ("recipients", "groups"):
        return 'recipients and groups apply only with "users": "selected"'
    return ""


CONFIG_DOCUMENT = SchemaDocument(SCHEMA_FILE, "the config", sensitive=_is_sensitive,
                                 key_hint=_unknown_key_hint)


def _build_spec(config: dict[str, Any], base_dir: Path, source: str,
                found: list[Problem]) -> IntegrationSpec:
    protection = config["protection"]
    rules = config.get("rules", {})
    allowlist = config.get("allowlist", {})
    return IntegrationSpec(
        integration=config["integration"],
        tenant=_tenant_spec(config.get("tenant", {}), config["integration"], base_dir, found),
        gateway=_gateway_spec(config["gateway"], found),
        mode=protection["mode"],
        directions=tuple(d for d in (INBOUND, OUTBOUND) if d in protection["directions"]),
        scope=_scope_spec(protection.get("scope", {"users": "all"}), found),
        accept_risks=tuple(config.get("accept_risks", ())),
        exceptions=_exceptions_spec(rules.get("exceptions", {}), found),
        rules_enabled=rules.get("enabled", False),
        rules_enabled_explicit="enabled" in rules,
        rules_mode="Audit" if rules.get("mode", "enforce") == "audit" else "Enforce",
        placement=rules.get("placement", "top"),
        allowlist_connection_filter=allowlist.get("connection_filter", True),
        enhanced_filtering=allowlist.get("enhanced_filtering", False),
        source=source,
        digest=_digest(config),
        backend=_backend_spec(config.get("backend", {"type": "local"}), base_dir, found),
        encryption_key_env=config.get("encryption", {}).get("key_env", ""),
        base_dir=str(base_dir),
    )


def _backend_spec(raw: Mapping[str, Any], base_dir: Path, found: list[Problem]) -> BackendSpec:
    """The state backend; a local path is relative to the config, a remote URL is checked."""
    options = {key: value for key, value in raw.items() if key != "type"}
    if "path" in options:
        options["path"] = _resolve(options["path"], base_dir)
    if raw["type"] == "azurerm":
        url = options.get("account_url")
        if url is None and options["auth"]["method"] != "connection_string":
            found.append((("backend", "account_url"), "is required with this auth method: give "
                          "https://ACCOUNT.blob.core.windows.net"))
        elif url is not None:
            _check(found, ("backend", "account_url"), url, _account_url_problem)
    return BackendSpec(raw["type"], MappingProxyType(options))


def _account_url_problem(url: str) -> str | None:
    """https, or http to a loopback emulator (Azurite) only."""
    host = re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)", url)
    return None if host else https_url_problem(url)


def _digest(config: object) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _tenant_spec(raw: Mapping[str, Any], integration: str, base_dir: Path,
                 found: list[Problem]) -> TenantSpec:
    if raw.get("provider", "sandbox") == "sandbox":
        given = raw.get("sandbox_file")
        # The default follows the state file's: state/<integration>.tenant.json next to the config.
        sandbox_file = _resolve(given or f"state/{integration}.tenant.json", base_dir)
        return TenantSpec("sandbox", MappingProxyType({"sandbox_file": sandbox_file}))
    return TenantSpec("exchange_online", _exchange_options(raw, base_dir, found))


def _exchange_options(raw: Mapping[str, Any], base_dir: Path,
                      found: list[Problem]) -> Mapping[str, Any]:
    auth = dict(raw["auth"])
    if "certificate_path" in auth:
        auth["certificate_path"] = _resolve(auth["certificate_path"], base_dir)
    default_client = DEVICE_CODE_CLIENT_ID if auth["method"] == "device_code" else ""
    options: dict[str, Any] = {
        "tenant_id": raw["tenant_id"],
        "client_id": raw.get("client_id", default_client),
        "cloud": raw.get("cloud", "global"),
        "auth": MappingProxyType(auth),
    }
    if options["cloud"] in UNSUPPORTED_CLOUDS:
        found.append((("tenant", "cloud"), UNSUPPORTED_CLOUDS[options["cloud"]]))
    for key in ("endpoint", "authority", "dns_over_https"):
        if key in raw:
            _check(found, ("tenant", key), raw[key], https_url_problem)
            options[key] = raw[key]
    if "ca_bundle" in raw:
        options["ca_bundle"] = _resolve(raw["ca_bundle"], base_dir)
    return MappingProxyType(options)


def _resolve(path_text: str, base_dir: Path) -> str:
    """A relative path in a config means relative to the config file, not to the shell."""
    path = Path(path_text)
    return str(path if path.is_absolute() else base_dir / path)


def _gateway_spec(raw: Mapping[str, Any], found: list[Problem]) -> GatewaySpec:
    profile_name = raw.get("profile", DEFAULT_PROFILE)
    profile = PROFILES[profile_name]
    values = {name: raw.get(name, getattr(profile, name)) for name in OVERRIDABLE}
    for name, value in values.items():
        _check(found, ("gateway", name), value, GATEWAY_FIELD_CHECKS[name])
    tenant_info = _tenant_info(raw, found)
    _check(found, ("gateway", "tenant_info"), tenant_info, tenant_info_problem)
    networks = _networks(raw["ip_ranges"], found)
    return GatewaySpec(
        profile=profile_name,
        ip_ranges=normalize_ranges(networks),
        tenant_info=tenant_info,
        rule_ip_ranges=normalize_ranges(networks, split=False),
        **values,
    )


def _tenant_info(raw: Mapping[str, Any], found: list[Problem]) -> str:
    """tenant_info, or the value of the environment variable tenant_info_env names; the value
    itself is never echoed."""
    if ("tenant_info" in raw) == ("tenant_info_env" in raw):
        found.append((("gateway",), "give the tenant information as tenant_info, or name the environment "
                                    "variable holding it in tenant_info_env (one of the two)"))
        return "-"
    if "tenant_info" in raw:
        return str(raw["tenant_info"])
    name = raw["tenant_info_env"]
    value = os.environ.get(name, "")
    if not value:
        found.append((("gateway", "tenant_info_env"), f"the environment variable {name} is not set (or empty); "
                                                      "set it to the tenant information from the gateway's console"))
        return "-"
    return value


def _scope_spec(raw: Mapping[str, Any], found: list[Problem]) -> ScopeSpec:
    if raw["users"] == "all":
        return ScopeSpec()
    base: JsonPath = ("protection", "scope")
    recipients = raw.get("recipients", [])
    groups = raw.get("groups", [])
    for index, address in enumerate(recipients):
        _check(found, base + ("recipients", index), address, address_problem)
    for index, group in enumerate(groups):
        check = address_problem if "@" in group else group_name_problem
        _check(found, base + ("groups", index), group, check)
    if not recipients and not groups:
        found.append((base, 'a "selected" scope needs at least one entry in recipients or '
                            "groups; add the users' SMTP addresses or group names, or use "
                            '{"users": "all"}'))
    found.extend(_duplicates(base + ("recipients",), recipients))
    found.extend(_duplicates(base + ("groups",), groups))
    return ScopeSpec("selected", tuple(recipients), tuple(groups))


def _exceptions_spec(raw: Mapping[str, Any], found: list[Problem]) -> RuleExceptions:
    base: JsonPath = ("rules", "exceptions")
    for key, check in (("senders", address_problem), ("recipients", address_problem),
                       ("sender_domains", domain_problem), ("recipient_domains", domain_problem)):
        for index, value in enumerate(raw.get(key, ())):
            _check(found, base + (key, index), value, check)
        found.extend(_duplicates(base + (key,), raw.get(key, ())))
    return RuleExceptions(**{key: tuple(raw.get(key, ())) for key in
                             ("senders", "sender_domains", "recipients", "recipient_domains")})


def _duplicates(path: JsonPath, items: Sequence[str]) -> Iterator[Problem]:
    """Exchange compares addresses and names case-insensitively: a second spelling of an entry
    is a duplicate, reported rather than dropped."""
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        earlier = first.setdefault(item.casefold(), index)
        if earlier != index:
            yield path + (index,), (f"{preview(item)} is listed twice (also {json_path(path + (earlier,))}; "
                                    "Exchange compares them case-insensitively); remove one")


def _check(found: list[Problem], path: JsonPath, value: str,
           problem_of: Callable[[str], str | None]) -> None:
    problem = problem_of(value)
    if problem:
        found.append((path, problem))


def _cross_checks(spec: IntegrationSpec) -> Iterator[Problem]:
    gateway = spec.gateway
    if spec.scope.recipients and spec.scope.groups and name_prefix_problem(gateway.name_prefix) is None:
        problem = name_prefix_problem(gateway.name_prefix, tuple(GROUPS_SUFFIXES[d] for d in spec.directions))
        if problem:  # the groups get rules of their own, with longer names
            yield ("gateway", "name_prefix"), problem + " (or list the groups' members as recipients)"
    if spec.allowlist_connection_filter and len(gateway.ip_ranges) > MAX_ALLOWLIST_ENTRIES:
        yield ("gateway", "ip_ranges"), (
            f"gives {len(gateway.ip_ranges)} entries after splitting into /24s, but the connection "
            f"filter's IP Allow list holds at most {MAX_ALLOWLIST_ENTRIES}; list narrower ranges "
            'or set "allowlist": {"connection_filter": false}')
    if spec.mode == MONITORING and address_problem(gateway.bcc_address) is None:
        bcc_domain = gateway.bcc_address.rpartition("@")[2]
        if bcc_domain.lower() != gateway.monitoring_domain.lower():
            # The monitoring-mode outbound connector only carries mail for monitoring_domain, so
            # copies to any other domain would leave by MX, unencrypted and unrouted.
            yield ("gateway", "bcc_address"), (
                f"must be an address in the monitoring domain {gateway.monitoring_domain}: the "
                "outbound connector carries only mail for that domain; change bcc_address or set "
                f"monitoring_domain to {bcc_domain}")


def _networks(raw: Sequence[str], found: list[Problem]) -> list[ipaddress.IPv4Network]:
    networks: list[tuple[int, ipaddress.IPv4Network]] = []
    for index, text in enumerate(raw):
        parsed = parse_config_range(text)
        if isinstance(parsed, str):
            found.append((("gateway", "ip_ranges", index), parsed))
        else:
            networks.append((index, parsed))
    found.extend(_overlaps(networks))
    return [network for _, network in networks]


def _overlaps(networks: Sequence[tuple[int, ipaddress.IPv4Network]]) -> Iterator[Problem]:
    """A range listed twice, or inside or overlapping another, is reported: merging it silently
    would hide a typo (a wrong prefix length). One sweep in address order (lists can be long)."""
    ordered = sorted(networks, key=lambda item: (int(item[1].network_address), item[1].prefixlen, item[0]))
    reach: tuple[int, ipaddress.IPv4Network] | None = None  # the range reaching furthest so far
    for item in ordered:
        if reach is not None and item[1].network_address <= reach[1].broadcast_address:
            yield _overlap(*sorted((item, reach)))
        if reach is None or item[1].broadcast_address > reach[1].broadcast_address:
            reach = item


def _overlap(first: tuple[int, ipaddress.IPv4Network], later: tuple[int, ipaddress.IPv4Network]) -> Problem:
    """Reported at the later entry, naming the earlier one."""
    (index, network), (other_index, other) = later, first
    where = f"gateway.ip_ranges[{other_index}] ({other})"
    if network == other:
        return ("gateway", "ip_ranges", index), f"{network} is listed twice (also {where}); remove one"
    relation = ("lies within" if network.subnet_of(other) else "contains" if other.subnet_of(network)
                else "overlaps")
    return ("gateway", "ip_ranges", index), (f"{network} {relation} {where}; list each address once "
                                             "(remove the narrower range, or fix the prefix length)")
