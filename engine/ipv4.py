"""IPv4 notation as Exchange Online takes it: the networks it rejects, the config's ranges
(checked, split into /24s, sorted), tenant entries of every form (single address, CIDR, a-b
range) as integer bounds, their canonical form, overlap and cover tests, and which forms each
IP-valued property accepts. Pure; the one parser of this notation in exoform.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable

from exoform.engine.exchange import MAX_IP_RANGE_ADDRESSES
from exoform.engine.messages import preview, truncate

#: An entry's first and last address, as integers.
Bounds = tuple[int, int]

# Exchange rejects IPv4 ranges in these blocks. They are listed explicitly instead of using
# `ipaddress`'s is_private/is_reserved because Python counts the TEST-NET documentation blocks
# (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) as private, and examples must use those.
REJECTED_NETWORKS: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), kind) for net, kind in (
        ("0.0.0.0/8", "in 0.0.0.0/8 ('this network', unspecified)"),
        ("10.0.0.0/8", "private (RFC 1918, 10.0.0.0/8)"),
        ("100.64.0.0/10", "carrier-grade NAT space (RFC 6598, 100.64.0.0/10)"),
        ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
        ("169.254.0.0/16", "link-local (169.254.0.0/16)"),
        ("172.16.0.0/12", "private (RFC 1918, 172.16.0.0/12)"),
        ("192.168.0.0/16", "private (RFC 1918, 192.168.0.0/16)"),
        ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4, including the broadcast address)"),
    )
)

_IPV4_TEXT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3})(?:/(\d{1,2}))?\Z")


# --- the rejected blocks ----------------------------------------------------------------------


def rejected_kind(first: int, last: int) -> str | None:
    """What kind of rejected block the addresses `first`..`last` touch, or None if none."""
    for block, kind in REJECTED_NETWORKS:
        if first <= int(block.broadcast_address) and last >= int(block.network_address):
            return kind
    return None


def network_rejected_kind(network: ipaddress.IPv4Network) -> str | None:
    return rejected_kind(int(network.network_address), int(network.broadcast_address))


# --- the config's ranges ----------------------------------------------------------------------


def looks_like_ipv4(text: str) -> bool:
    """Dotted-quad digits with an optional /prefix (the octets may still be out of range)."""
    return _IPV4_TEXT.match(text) is not None


def is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Network(text, strict=False)
    except ValueError:
        return False
    return True


def parse_config_range(text: str) -> ipaddress.IPv4Network | str:
    """The network a config lists, or what is wrong with `text` and how to fix it."""
    shown = preview(text)
    if ":" in text and is_ipv6(text):
        return (f"{shown} is IPv6; Exchange Online connectors and the connection filter take "
                "IPv4 only: list the gateway's IPv4 ranges")
    if not looks_like_ipv4(text):
        return (f"{shown} is not an IPv4 address or CIDR range; write one like 203.0.113.10 or "
                "203.0.113.0/24")
    try:
        network = ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        if "host bits set" not in str(exc):
            return f"{shown} is not a valid IPv4 address or range ({truncate(str(exc), 80)})"
        loose = ipaddress.IPv4Network(text, strict=False)
        return (f"{shown} has host bits set; write the network address {loose} "
                f"(or the single address {text.partition('/')[0]})")
    if network.prefixlen < 16:
        return (f"{shown} is wider than /16; Exchange takes /24../32 ranges and exoform splits at "
                "most a /16 (into 256 /24s): list the narrower ranges the gateway really uses")
    kind = network_rejected_kind(network)
    if kind:
        return (f"{shown} is {kind}; Exchange Online rejects it: list the gateway's public "
                "IPv4 ranges")
    return network


def normalize_ranges(networks: Iterable[ipaddress.IPv4Network], *,
                     split: bool = True) -> tuple[str, ...]:
    """Split wider-than-/24 ranges into /24s (connectors and the allow list take /24../32; rule
    conditions take any CIDR, so `split=False` for them), sort numerically, drop duplicates and
    ranges a listed range covers, and write /32 as the bare address."""
    pieces: set[ipaddress.IPv4Network] = set()
    for network in networks:
        wide = split and network.prefixlen < 24
        pieces.update(network.subnets(new_prefix=24) if wide else (network,))
    kept: list[ipaddress.IPv4Network] = []
    # CIDR blocks nest or are disjoint; sorted by (start, width) a covering block comes first,
    # and comparing with the last kept block suffices.
    for network in sorted(pieces, key=lambda n: (int(n.network_address), n.prefixlen)):
        if not (kept and network.subnet_of(kept[-1])):
            kept.append(network)
    return tuple(str(n.network_address) if n.prefixlen == 32 else str(n) for n in kept)


# --- entries of a tenant's IP-valued properties -----------------------------------------------


@dataclass(frozen=True)
class IpRule:
    """What one kind of IP-valued property accepts."""

    min_prefix: int
    allow_range: bool
    max_range: int | None
    public_only: bool

    def describe(self) -> str:
        forms = f"a single IPv4 address or a CIDR range /{self.min_prefix} through /32"
        if self.allow_range:
            limit = f" of at most {self.max_range} addresses" if self.max_range else ""
            forms += f", or a range a.b.c.d-a.b.c.e{limit}"
        return forms


#: Any form at all (reading what a tenant holds).
ANY_FORM = IpRule(min_prefix=0, allow_range=True, max_range=None, public_only=False)
#: An inbound connector's SenderIPAddresses.
CONNECTOR_IPS = IpRule(min_prefix=24, allow_range=False, max_range=None, public_only=True)
#: The connection filter's IPAllowList and IPBlockList.
ALLOW_LIST_IPS = IpRule(
    min_prefix=24, allow_range=True, max_range=MAX_IP_RANGE_ADDRESSES, public_only=True
)
#: A transport rule's SenderIpRanges and ExceptIfSenderIpRanges.
RULE_IPS = IpRule(min_prefix=1, allow_range=True, max_range=None, public_only=False)
#: What exoform itself adds to the IP Allow list: addresses and CIDR /24../32.
ALLOWLIST_ADDITIONS = IpRule(min_prefix=24, allow_range=False, max_range=None, public_only=False)


def bounds(text: str, rule: IpRule = ANY_FORM) -> Bounds:
    """First and last address of an entry in a form `rule` accepts; ValueError says why not."""
    text = text.strip()
    if ":" in text:
        raise ValueError("IPv6 addresses aren't supported")
    if "-" in text:
        return _range_bounds(text, rule)
    if "/" in text:
        address, _, prefix = text.partition("/")
        if not (prefix.isascii() and prefix.isdigit()) or not rule.min_prefix <= int(prefix) <= 32:
            raise ValueError(f"the subnet mask must be /{rule.min_prefix} through /32")
        network = ipaddress.IPv4Network((_address(address), int(prefix)), strict=False)
        return int(network.network_address), int(network.broadcast_address)
    single = _address(text)
    return single, single


def _range_bounds(text: str, rule: IpRule) -> Bounds:
    if not rule.allow_range:
        raise ValueError("address ranges aren't supported here")
    start_text, _, end_text = text.partition("-")
    start, end = _address(start_text.strip()), _address(end_text.strip())
    if end < start:
        raise ValueError("the range ends before it starts")
    if rule.max_range is not None and end - start + 1 > rule.max_range:
        raise ValueError(f"a range may hold at most {rule.max_range} addresses")
    return start, end


def _address(text: str) -> int:
    try:
        return int(ipaddress.IPv4Address(text))
    except ipaddress.AddressValueError:
        raise ValueError("not an IPv4 address") from None


def entry_error(text: str, rule: IpRule) -> str | None:
    """Why `text` is not acceptable under `rule` (Exchange's wording), or None when it is."""
    try:
        first, last = bounds(text, rule)
    except ValueError as error:
        return f"'{text}' isn't valid: {error}. Use {rule.describe()}."
    if rule.public_only and rejected_kind(first, last):
        return (
            f"'{text}' is a private, loopback, link-local, multicast or reserved address; "
            "only public IPv4 addresses can be used."
        )
    return None


def allowlist_entry_ok(entry: str) -> bool:
    """`entry` is a form exoform may add to the IP Allow list (an address or CIDR /24../32)."""
    return entry_error(entry, ALLOWLIST_ADDITIONS) is None


def span(text: str) -> Bounds | None:
    """Bounds of an entry in any form, or None when it is not IPv4 notation."""
    try:
        return bounds(text)
    except ValueError:
        return None


def overlaps(a: str, b: str) -> bool:
    """The two entries share at least one address."""
    first, second = span(a), span(b)
    return bool(first and second and first[0] <= second[1] and second[0] <= first[1])


def covers(entries: Iterable[str], ranges: Iterable[str]) -> bool:
    """Every one of `ranges` lies inside one of `entries` (CIDR, single address or a-b range)."""
    spans = [s for s in (span(e) for e in entries) if s]
    wanted = [span(r) for r in ranges]
    return all(w and any(s[0] <= w[0] and w[1] <= s[1] for s in spans) for w in wanted)


def canonical(text: str) -> str:
    """The comparable form of an entry, by its address bounds as Exchange compares IP ranges:
    `1.2.3.4/32` and `1.2.3.4-1.2.3.4` are `1.2.3.4`, `1.2.3.9/24` and `1.2.3.0-1.2.3.255` are
    `1.2.3.0/24`, any other range is `lo-hi`; anything that is not IPv4 notation is kept as
    written, casefolded."""
    text = str(text).strip()
    found = span(text)
    if found is None:
        return text.casefold()
    return bounds_text(found)


def bounds_text(found: Bounds) -> str:
    """The shortest form of an address range: a bare address, a CIDR block, or `lo-hi`."""
    first, last = found
    if first == last:
        return str(ipaddress.IPv4Address(first))
    size = last - first + 1
    if size & (size - 1) == 0 and first % size == 0:
        return f"{ipaddress.IPv4Address(first)}/{32 - size.bit_length() + 1}"
    return f"{ipaddress.IPv4Address(first)}-{ipaddress.IPv4Address(last)}"
