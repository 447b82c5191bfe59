"""Config loading: read a JSON config, validate it against `schemas/config.schema.json`, run the
semantic checks a schema cannot express, and resolve it into an `IntegrationSpec`.

Every problem is reported at once as an `InputError` whose issues name the JSON path and the fix.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, cast
from urllib.parse import urlsplit


from exoform.engine.errors import InputError
from exoform.engine.exchange import (
    DEVICE_CODE_CLIENT_ID,
    MAX_ALLOWLIST_ENTRIES,
    MAX_HEADER_NAME_LENGTH,
    MAX_NAME_LENGTH,
    reserved_header_prefix,
)
from exoform.engine.ipv4 import (
    looks_like_ipv4,
    network_rejected_kind,
    normalize_ranges,
    parse_config_range,
)
from exoform.engine.jsonfile import json_path
from exoform.engine.jsonread import MIB, JsonFile, read_json_file
from exoform.engine.messages import JsonPath, PathPart, Problem, issues, preview
from exoform.engine.schema_messages import SchemaDocument, schema_copy, schema_problems
from exoform.engine.spec import (
    INBOUND,
    MONITORING,
    OUTBOUND,
    GatewaySpec,
    IntegrationSpec,
    ScopeSpec,
    TenantSpec,
)

__all__ = [
    "DEFAULT_PROFILE",
    "DEVICE_CODE_CLIENT_ID",
    "GatewayProfile",
    "MAX_NAME_LENGTH",
    "NAME_SUFFIXES",
    "PROFILES",
    "config_schema",
    "format_path",
    "load_config",
    "normalize_ranges",
    "parse_config",
]



@dataclass(frozen=True)
class GatewayProfile:
    """Defaults of one gateway product; every field may be overridden under `gateway`."""

    name_prefix: str
    smart_host: str
    header_name: str
    bcc_address: str
    monitoring_domain: str


# Another gateway product is one more row here plus its name in the schema's `profile` enum.
PROFILES: Mapping[str, GatewayProfile] = MappingProxyType({
    "opswat-mdces": GatewayProfile(
        name_prefix="OPSWAT MDCES",
        smart_host="ces.metadefender.opswat.com",
        header_name="X-MDCES-Data",
        bcc_address="bcc-email@metadefender.email",
        monitoring_domain="metadefender.email",
    ),
})
DEFAULT_PROFILE = "opswat-mdces"
OVERRIDABLE = tuple(f.name for f in fields(GatewayProfile))

# The Exchange object names the blueprint derives from the prefix; Exchange caps names at 64.
NAME_SUFFIXES = (" - Inbound", " - Outbound", " - SPF", " - Inbound emails", " - Outbound emails")

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

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Invisible formatting characters (BiDi overrides and isolates, zero-width characters, BOM):
# a name holding one displays differently from what it is (a "Trojan Source" spoof).
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_LOCAL_PART_FORBIDDEN = re.compile(r'[\s"(),:;<>@\[\\\]]')
_SECRETISH_KEY = re.compile(r"secret|password|passwd|token|key$", re.IGNORECASE)


# --- public API ------------------------------------------------------------------------------


def load_config(path: str | Path) -> IntegrationSpec:
    """Read, validate and resolve the config file at `path`; InputError lists every problem."""
    source = str(path)
    data = read_json_file(Path(path), CONFIG_FILE, source)
    return parse_config(data, source=source, base_dir=Path(path).parent)


def parse_config(data: object, *, source: str, base_dir: Path) -> IntegrationSpec:
    """Validate already-parsed JSON `data` and resolve it; relative paths join `base_dir`."""
    found = schema_problems(data, CONFIG_DOCUMENT)
    if found:
        raise InputError(source, issues(found, first_per_path=False))
    config = cast(dict[str, Any], data)  # the schema guarantees an object of the right shape
    found = list(_control_characters(config, ()))
    spec = _build_spec(config, base_dir, source, found)
    found.extend(_cross_checks(spec))
    if found:
        raise InputError(source, issues(found, first_per_path=True))
    return spec


def format_path(parts: Iterable[PathPart]) -> str:
    """`('gateway', 'ip_ranges', 1)` -> `gateway.ip_ranges[1]`; odd keys are quoted."""
    return json_path(parts)


CONFIG_DOCUMENT = SchemaDocument(
    SCHEMA_FILE, "the config", sensitive=lambda path: _is_sensitive(path),
    key_hint=lambda path, key: _unknown_key_hint(path, key),
)


def config_schema() -> dict[str, Any]:
    """A copy of the config JSON Schema (for documentation tools and tests)."""
    return schema_copy(SCHEMA_FILE)


def _unknown_key_hint(path: JsonPath, key: str) -> str:
    if path[:2] == ("tenant", "auth") and _SECRETISH_KEY.search(key):
        return ("never write a secret in the config: put it in an environment variable and name "
                "that variable in client_secret_env (or certificate_password_env)")
    if path[-1:] == ("scope",) and key in ("recipients", "groups"):
        return 'recipients and groups apply only with "users": "selected"'
    return ""


# --- building the spec (semantic checks) -----------------------------------------------------


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
        rules_enabled=rules.get("enabled", False),
        rules_enabled_explicit="enabled" in rules,
        rules_mode="Audit" if rules.get("mode", "enforce") == "audit" else "Enforce",
        placement=rules.get("placement", "top"),
        allowlist_connection_filter=allowlist.get("connection_filter", True),
        enhanced_filtering=allowlist.get("enhanced_filtering", False),
        source=source,
        digest=_digest(config),
    )


def _digest(config: object) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _control_characters(value: object, path: JsonPath) -> Iterator[Problem]:
    """Every string holding a control character; the value itself is never echoed."""
    if isinstance(value, str):
        match = _CONTROL.search(value)
        invisible = _INVISIBLE.search(value)
        if match:
            yield path, (f"contains a control character (U+{ord(match.group()):04X} at position "
                         f"{match.start()}); remove it: config values cannot hold line breaks, "
                         "tabs or other control characters")
        elif invisible:
            yield path, (f"contains an invisible formatting character (U+{ord(invisible.group()):04X} "
                         f"at position {invisible.start()}), which makes a value display differently "
                         "from what it is (right-to-left override, zero-width space); remove it")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _control_characters(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _control_characters(item, path + (index,))


def _tenant_spec(raw: Mapping[str, Any], integration: str, base_dir: Path,
                 found: list[Problem]) -> TenantSpec:
    if raw.get("provider", "sandbox") == "sandbox":
        given = raw.get("sandbox_file")
        # The default follows the state file's (state/<integration>.json, current folder).
        sandbox_file = _resolve(given, base_dir) if given else f"state/{integration}.tenant.json"
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
    for key in ("endpoint", "authority"):
        if key in raw:
            _check(found, ("tenant", key), raw[key], _https_url_problem)
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
        _check(found, ("gateway", name), value, _FIELD_CHECKS[name])
    tenant_info = raw["tenant_info"]
    _check(found, ("gateway", "tenant_info"), tenant_info, _tenant_info_problem)
    return GatewaySpec(
        profile=profile_name,
        ip_ranges=_ip_ranges(raw["ip_ranges"], found),
        tenant_info=tenant_info,
        **values,
    )


def _scope_spec(raw: Mapping[str, Any], found: list[Problem]) -> ScopeSpec:
    if raw["users"] == "all":
        return ScopeSpec()
    base: JsonPath = ("protection", "scope")
    recipients = raw.get("recipients", [])
    groups = raw.get("groups", [])
    for index, address in enumerate(recipients):
        _check(found, base + ("recipients", index), address, _address_problem)
    for index, group in enumerate(groups):
        check = _address_problem if "@" in group else _group_name_problem
        _check(found, base + ("groups", index), group, check)
    if not recipients and not groups:
        found.append((base, 'a "selected" scope needs at least one entry in recipients or '
                            "groups; add the users' SMTP addresses or group names, or use "
                            '{"users": "all"}'))
    return ScopeSpec("selected", _unique_casefold(recipients), _unique_casefold(groups))


def _unique_casefold(items: Sequence[str]) -> tuple[str, ...]:
    """First spelling wins: Exchange compares addresses and names case-insensitively."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if item.casefold() not in seen:
            seen.add(item.casefold())
            kept.append(item)
    return tuple(kept)


def _check(found: list[Problem], path: JsonPath, value: str,
           problem_of: Callable[[str], str | None]) -> None:
    problem = problem_of(value)
    if problem:
        found.append((path, problem))


def _cross_checks(spec: IntegrationSpec) -> Iterator[Problem]:
    gateway = spec.gateway
    if spec.allowlist_connection_filter and len(gateway.ip_ranges) > MAX_ALLOWLIST_ENTRIES:
        yield ("gateway", "ip_ranges"), (
            f"gives {len(gateway.ip_ranges)} entries after splitting into /24s, but the connection "
            f"filter's IP Allow list holds at most {MAX_ALLOWLIST_ENTRIES}; list narrower ranges "
            'or set "allowlist": {"connection_filter": false}')
    if spec.mode == MONITORING and _address_problem(gateway.bcc_address) is None:
        bcc_domain = gateway.bcc_address.rpartition("@")[2]
        if bcc_domain.lower() != gateway.monitoring_domain.lower():
            # The monitoring-mode outbound connector only carries mail for monitoring_domain, so
            # copies to any other domain would leave by MX, unencrypted and unrouted.
            yield ("gateway", "bcc_address"), (
                f"must be an address in the monitoring domain {gateway.monitoring_domain}: the "
                "outbound connector carries only mail for that domain; change bcc_address or set "
                f"monitoring_domain to {bcc_domain}")


# --- IPv4 ranges -----------------------------------------------------------------------------


def _ip_ranges(raw: Sequence[str], found: list[Problem]) -> tuple[str, ...]:
    networks: list[ipaddress.IPv4Network] = []
    for index, text in enumerate(raw):
        parsed = parse_config_range(text)
        if isinstance(parsed, str):
            found.append((("gateway", "ip_ranges", index), parsed))
        else:
            networks.append(parsed)
    return normalize_ranges(networks)


# --- field checks: each returns what is wrong and how to fix it, or None ---------------------


def _fqdn_problem(name: str) -> str | None:
    if len(name) > 253:
        return f"is {len(name)} characters long; a domain name has at most 253"
    if name.endswith("."):
        return "ends with a dot; remove it (write the name without the root dot)"
    labels = name.split(".")
    if len(labels) < 2:
        return ("must be a fully qualified domain name with at least two labels, like "
                "mail.example.com")
    bad = next((label for label in labels if not _LABEL.match(label)), None)
    if bad is not None:
        return (f"has an invalid label {preview(bad)}: labels are 1-63 letters, digits and "
                "hyphens, not starting or ending with a hyphen (write an international domain "
                "in its xn-- form)")
    if labels[-1].isdigit():
        return "ends in a numeric label; write a domain name like mail.example.com"
    return None


def _domain_problem(value: str) -> str | None:
    problem = _fqdn_problem(value)
    return f"{preview(value)} {problem}" if problem else None


def _smart_host_problem(value: str) -> str | None:
    if looks_like_ipv4(value) and "/" not in value:
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError:
            return f"{preview(value)} is not a valid IPv4 address; write a host name or an address"
        kind = network_rejected_kind(network)
        if kind:
            return f"{value} is {kind}; the smart host must be the gateway's public address"
        return None
    problem = _fqdn_problem(value)
    if problem:
        return (f"{preview(value)} {problem}; the smart host is the gateway's host name "
                "(like ces.metadefender.opswat.com) or public IPv4 address")
    return None


def _address_problem(value: str) -> str | None:
    shown = preview(value)
    if len(value) > 320:
        return f"is {len(value)} characters long; an SMTP address has at most 320"
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return f"{shown} is not an SMTP address; write it like name@example.com"
    if (len(local) > 64 or _LOCAL_PART_FORBIDDEN.search(local) or local.startswith(".")
            or local.endswith(".") or ".." in local):
        return (f"{shown} has an invalid part before the @: at most 64 characters, no spaces, "
                'quotes, @, brackets or ",:;<>\\" and no leading, trailing or double dots')
    problem = _fqdn_problem(domain)
    return f"{shown} has an invalid domain after the @: it {problem}" if problem else None


def _group_name_problem(value: str) -> str | None:
    if value != value.strip():
        return f"{preview(value)} has leading or trailing spaces; remove them"
    if len(value) > 256:
        return f"is {len(value)} characters long; a group name has at most 256"
    return None


def _header_problem(value: str) -> str | None:
    if len(value) > MAX_HEADER_NAME_LENGTH:
        return (f"is {len(value)} characters long; shorten the header name to at most "
                f"{MAX_HEADER_NAME_LENGTH}")
    bad = next((ch for ch in value if not 33 <= ord(ch) <= 126 or ch == ":"), None)
    if bad is not None:
        return (f"contains {_char_name(bad)}; a header name is printable ASCII without spaces "
                "or ':', like X-MDCES-Data")
    prefix = reserved_header_prefix(value)
    if prefix:
        return (f"must not start with {prefix}: Exchange Online reserves that prefix and "
                "rejects the rule; choose another name, like X-MDCES-Data")
    return None


def _name_prefix_problem(value: str) -> str | None:
    if value != value.strip():
        return "has leading or trailing spaces; remove them"
    longest = max((value + suffix for suffix in NAME_SUFFIXES), key=_utf16_length)
    excess = _utf16_length(longest) - MAX_NAME_LENGTH
    if excess > 0:
        return (f"is too long: the generated name {preview(longest, 90)} has "
                f"{_utf16_length(longest)} characters but Exchange allows {MAX_NAME_LENGTH}; "
                f"shorten name_prefix by {excess} characters")
    return None


def _utf16_length(text: str) -> int:
    """Exchange (.NET) counts UTF-16 code units, so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def _tenant_info_problem(value: str) -> str | None:
    # Never echo the value: it is sensitive.
    if value != value.strip():
        return ("has leading or trailing whitespace; copy the value from the gateway's console "
                "again without it (the value is not shown because it is sensitive)")
    return None


def _https_url_problem(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname or " " in value:
        return (f"{preview(value)} is not an https:// URL; write one like "
                "https://outlook.office365.com")
    if parts.username or parts.password:
        return "must not contain a user name or password; remove the part before the @"
    if parts.query or parts.fragment:
        return f"{preview(value)} must not have a query or fragment; remove the part from ? or #"
    return None


_FIELD_CHECKS: Mapping[str, Callable[[str], str | None]] = {
    "name_prefix": _name_prefix_problem,
    "smart_host": _smart_host_problem,
    "header_name": _header_problem,
    "bcc_address": _address_problem,
    "monitoring_domain": _domain_problem,
}


# --- message helpers -------------------------------------------------------------------------


def _is_sensitive(path: JsonPath) -> bool:
    return any(path[:len(prefix)] == prefix for prefix in SENSITIVE_PATHS)


def _char_name(ch: str) -> str:
    if ch == " ":
        return "a space"
    return f"'{ch}' (U+{ord(ch):04X})" if ch.isprintable() else f"U+{ord(ch):04X}"
