"""Field checks of a config the schema cannot express: domain names, SMTP addresses, group
names, header names, the name prefix, URLs, the tenant information, and stray control or
invisible characters. Each check returns what is wrong and how to fix it, or None.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Callable, Iterator, Mapping
from urllib.parse import urlsplit

from exoform.engine.config.profiles import NAME_SUFFIXES
from exoform.engine.exchange import MAX_HEADER_NAME_LENGTH, MAX_NAME_LENGTH, reserved_header_prefix
from exoform.engine.ipv4 import looks_like_ipv4, network_rejected_kind
from exoform.engine.messages import JsonPath, Problem, preview

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Invisible formatting characters (BiDi overrides and isolates, zero-width characters, BOM):
# a name holding one displays differently from what it is (a "Trojan Source" spoof).
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_LOCAL_PART_FORBIDDEN = re.compile(r'[\s"(),:;<>@\[\\\]]')


def control_characters(value: object, path: JsonPath) -> Iterator[Problem]:
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
            yield from control_characters(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from control_characters(item, path + (index,))


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


def domain_problem(value: str) -> str | None:
    problem = _fqdn_problem(value)
    return f"{preview(value)} {problem}" if problem else None


def smart_host_problem(value: str) -> str | None:
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


def address_problem(value: str) -> str | None:
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


def group_name_problem(value: str) -> str | None:
    if value != value.strip():
        return f"{preview(value)} has leading or trailing spaces; remove them"
    if len(value) > 256:
        return f"is {len(value)} characters long; a group name has at most 256"
    return None


def header_problem(value: str) -> str | None:
    if len(value) > MAX_HEADER_NAME_LENGTH:
        return (f"is {len(value)} characters long; Exchange Online takes header names of at "
                f"most {MAX_HEADER_NAME_LENGTH} characters: shorten it")
    bad = next((ch for ch in value if not 33 <= ord(ch) <= 126 or ch == ":"), None)
    if bad is not None:
        return (f"contains {_char_name(bad)}; a header name is printable ASCII without spaces "
                "or ':', like X-MDCES-Data")
    prefix = reserved_header_prefix(value)
    if prefix:
        return (f"must not start with {prefix}: Exchange Online reserves that prefix and "
                "rejects the rule; choose another name, like X-MDCES-Data")
    return None


def name_prefix_problem(value: str, suffixes: tuple[str, ...] = NAME_SUFFIXES) -> str | None:
    if value != value.strip():
        return "has leading or trailing spaces; remove them"
    longest = max((value + suffix for suffix in suffixes), key=_utf16_length)
    excess = _utf16_length(longest) - MAX_NAME_LENGTH
    if excess > 0:
        return (f"is too long: the generated name {preview(longest, 90)} has "
                f"{_utf16_length(longest)} characters but Exchange allows {MAX_NAME_LENGTH}; "
                f"shorten name_prefix by {excess} characters")
    return None


def _utf16_length(text: str) -> int:
    """Exchange (.NET) counts UTF-16 code units, so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def tenant_info_problem(value: str) -> str | None:
    # Never echo the value: it is sensitive.
    if value != value.strip():
        return ("has leading or trailing whitespace; copy the value from the gateway's console "
                "again without it (the value is not shown because it is sensitive)")
    return None


def https_url_problem(value: str) -> str | None:
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


#: The check of each `gateway` field a profile provides (and a config may override).
GATEWAY_FIELD_CHECKS: Mapping[str, Callable[[str], str | None]] = {
    "name_prefix": name_prefix_problem,
    "smart_host": smart_host_problem,
    "header_name": header_problem,
    "bcc_address": address_problem,
    "monitoring_domain": domain_problem,
}


def _char_name(ch: str) -> str:
    if ch == " ":
        return "a space"
    return f"'{ch}' (U+{ord(ch):04X})" if ch.isprintable() else f"U+{ord(ch):04X}"
