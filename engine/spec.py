"""`IntegrationSpec`: a validated config, the only input of the blueprint.

Produced by `exoform.engine.config.load_config` after schema and semantic checks; all
profile defaults are resolved, IP ranges normalized (wider than /24 already split), paths
resolved. Frozen so a spec can be hashed into a plan's config digest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

INBOUND = "inbound"
OUTBOUND = "outbound"
INLINE = "inline"
MONITORING = "monitoring"


@dataclass(frozen=True)
class GatewaySpec:
    profile: str
    name_prefix: str
    smart_host: str
    header_name: str
    bcc_address: str
    monitoring_domain: str
    ip_ranges: tuple[str, ...]  # IPv4 single addresses or CIDR /24../32, sorted, deduplicated
    tenant_info: str = field(repr=False)  # sensitive: shown as (sensitive value) in plans
    # The ranges as the config lists them (not split: rule IP conditions take any CIDR),
    # sorted, deduplicated, ranges inside another left out. Empty: the same as ip_ranges.
    rule_ip_ranges: tuple[str, ...] = ()

    @property
    def rule_ranges(self) -> tuple[str, ...]:
        return self.rule_ip_ranges or self.ip_ranges


@dataclass(frozen=True)
class ScopeSpec:
    users: str = "all"  # "all" | "selected"
    recipients: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def identities(self) -> tuple[str, ...]:
        """Every recipient and group the rules name (looked up in the tenant at plan time)."""
        return self.recipients + self.groups if self.users == "selected" else ()


@dataclass(frozen=True)
class RuleExceptions:
    """Mail exoform's routing rules leave alone (the config's `rules.exceptions`)."""

    senders: tuple[str, ...] = ()  # ExceptIfFrom
    sender_domains: tuple[str, ...] = ()  # ExceptIfSenderDomainIs
    recipients: tuple[str, ...] = ()  # ExceptIfSentTo
    recipient_domains: tuple[str, ...] = ()  # ExceptIfRecipientDomainIs


@dataclass(frozen=True)
class TenantSpec:
    provider: str  # "sandbox" | "exchange_online"
    # Provider options as written in the config, with relative paths resolved against the
    # config file's directory (sandbox_file, certificate_path, ca_bundle). Never a secret value:
    # secrets are named by environment variable only.
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class BackendSpec:
    """Where the state lives: `local` (files; option `path`), `azurerm` or `postgres`, with the
    backend's options as written in the config (paths resolved; secrets named by variable)."""

    type: str = "local"
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class IntegrationSpec:
    integration: str
    tenant: TenantSpec
    gateway: GatewaySpec
    mode: str  # INLINE | MONITORING
    directions: tuple[str, ...]  # subset of (INBOUND, OUTBOUND), in that order
    scope: ScopeSpec
    rules_enabled: bool = False
    rules_enabled_explicit: bool = False  # the config said `rules.enabled` itself
    rules_mode: str = "Enforce"  # Exchange's Mode: Enforce | Audit
    placement: str = "top"  # "top" | "bottom"
    allowlist_connection_filter: bool = True
    enhanced_filtering: bool = False
    source: str = ""  # the config file path, for messages
    digest: str = ""  # sha256 of the canonical config JSON
    accept_risks: tuple[str, ...] = ()  # finding IDs the config acknowledges (`accept_risks`)
    exceptions: RuleExceptions = RuleExceptions()
    backend: BackendSpec = BackendSpec()
    encryption_key_env: str = ""  # the variable holding the state/plan key ("": no encryption)
    base_dir: str = "."  # the config file's folder: default state and sandbox files live there

    @property
    def inline(self) -> bool:
        return self.mode == INLINE
