"""Gateway profiles: the defaults of each gateway product exoform can wire in (names, smart host,
header, monitoring addresses), and the Exchange object names derived from the name prefix.
Every field may be overridden under `gateway` in a config.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Mapping


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
#: The `gateway` keys that override a profile field.
OVERRIDABLE = tuple(f.name for f in fields(GatewayProfile))

# The Exchange object names the blueprint derives from the prefix; Exchange caps names at 64.
NAME_SUFFIXES = (" - Inbound", " - Outbound", " - SPF", " - Inbound emails", " - Outbound emails")
# ... and, when the scope lists both people and groups, the groups' rules.
GROUPS_SUFFIXES = {"inbound": " - Inbound emails (groups)", "outbound": " - Outbound emails (groups)"}
