"""engine/ipv4.py: config ranges, tenant entries of every form, the rejected networks (one table
for the config and the sandbox alike), canonical forms, overlap and cover tests."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exoform.engine import ipv4
from exoform.engine.ipv4 import ALLOW_LIST_IPS, ANY_FORM, CONNECTOR_IPS, RULE_IPS, IpRule

# ---- the config's ranges ---------------------------------------------------------------------


@pytest.mark.parametrize("text, network", [
    ("203.0.113.0/24", "203.0.113.0/24"),
    ("203.0.113.7", "203.0.113.7/32"),
    ("198.51.0.0/16", "198.51.0.0/16"),
    ("8.8.8.8/32", "8.8.8.8/32"),
])
def test_config_range_accepted(text: str, network: str) -> None:
    assert str(ipv4.parse_config_range(text)) == network


@pytest.mark.parametrize("text, fragment", [
    ("2001:db8::/64", "is IPv6"),
    ("203.0.113", "is not an IPv4 address or CIDR range"),
    ("203.0.113.0/33", "is not a valid IPv4 address or range"),
    ("203.0.113.256", "is not a valid IPv4 address or range"),
    ("203.0.113.9/24", "has host bits set; write the network address 203.0.113.0/24"),
    ("198.0.0.0/15", "is wider than /16"),
    ("10.1.0.0/16", "private (RFC 1918, 10.0.0.0/8)"),
    ("100.64.1.0/24", "carrier-grade NAT space"),
    ("127.0.0.1", "loopback"),
    ("169.254.10.0/24", "link-local"),
    ("224.0.0.1", "multicast"),
    ("255.255.255.255", "reserved (240.0.0.0/4"),
    ("0.1.2.3", "'this network'"),
])
def test_config_range_refused_with_the_fix(text: str, fragment: str) -> None:
    problem = ipv4.parse_config_range(text)
    assert isinstance(problem, str) and fragment in problem


def test_config_range_message_truncates_a_huge_value() -> None:
    problem = ipv4.parse_config_range("1" * 10_000)
    assert isinstance(problem, str) and len(problem) < 300


@pytest.mark.parametrize("given_ranges, expected", [
    (["203.0.113.0/24"], ("203.0.113.0/24",)),
    (["203.0.113.7/32", "203.0.113.7/32"], ("203.0.113.7",)),
    (["198.51.100.0/23"], ("198.51.100.0/24", "198.51.101.0/24")),
    (["203.0.113.0/24", "203.0.113.128/25", "203.0.113.5/32"], ("203.0.113.0/24",)),
    (["9.9.9.9/32", "8.8.8.0/24"], ("8.8.8.0/24", "9.9.9.9")),  # numeric order, not text
])
def test_normalize_ranges(given_ranges: list[str], expected: tuple[str, ...]) -> None:
    assert ipv4.normalize_ranges(ipaddress.IPv4Network(r) for r in given_ranges) == expected


# ---- tenant entries --------------------------------------------------------------------------

def _ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


A = _ip("203.0.113.0")


@pytest.mark.parametrize("text, rule, expected", [
    ("203.0.113.0/24", CONNECTOR_IPS, (A, A + 255)),
    (" 203.0.113.9/24 ", CONNECTOR_IPS, (A, A + 255)),  # host bits are ignored, as Exchange does
    ("203.0.113.7", CONNECTOR_IPS, (A + 7, A + 7)),
    ("203.0.113.0-203.0.113.255", ALLOW_LIST_IPS, (A, A + 255)),
    ("203.0.113.1 - 203.0.113.2", ALLOW_LIST_IPS, (A + 1, A + 2)),
    ("203.0.0.0/8", RULE_IPS, (_ip("203.0.0.0"), _ip("203.255.255.255"))),
    ("0.0.0.0/0", ANY_FORM, (0, 2**32 - 1)),
])
def test_bounds(text: str, rule: IpRule, expected: tuple[int, int]) -> None:
    assert ipv4.bounds(text, rule) == expected


@pytest.mark.parametrize("text, rule, reason", [
    ("2001:db8::1", ANY_FORM, "IPv6 addresses aren't supported"),
    ("203.0.112.0/23", CONNECTOR_IPS, "the subnet mask must be /24 through /32"),
    ("203.0.113.0/x", ANY_FORM, "the subnet mask must be /0 through /32"),
    ("203.0.113.0/0", RULE_IPS, "the subnet mask must be /1 through /32"),
    ("203.0.113.0-203.0.113.9", CONNECTOR_IPS, "address ranges aren't supported here"),
    ("203.0.113.9-203.0.113.1", ALLOW_LIST_IPS, "the range ends before it starts"),
    ("203.0.113.0-203.0.114.0", ALLOW_LIST_IPS, "a range may hold at most 256 addresses"),
    ("nonsense", ANY_FORM, "not an IPv4 address"),
    ("203.0.113.0/255.255.255.0", ANY_FORM, "the subnet mask must be"),
])
def test_bounds_refused(text: str, rule: IpRule, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        ipv4.bounds(text, rule)


@pytest.mark.parametrize("text, rule, fragment", [
    ("203.0.113.0/24", CONNECTOR_IPS, None),
    ("10.0.0.0/8", RULE_IPS, None),  # rule conditions may name private senders
    ("10.0.0.0/24", CONNECTOR_IPS, "only public IPv4 addresses"),
    ("100.64.0.0/24", CONNECTOR_IPS, "only public IPv4 addresses"),
    ("100.127.255.0-100.127.255.9", ALLOW_LIST_IPS, "only public IPv4 addresses"),
    ("192.168.0.1-192.168.0.9", ALLOW_LIST_IPS, "only public IPv4 addresses"),
    ("203.0.112.0/23", ALLOW_LIST_IPS, "isn't valid: the subnet mask must be /24 through /32. Use "
                                       "a single IPv4 address or a CIDR range /24 through /32, or a "
                                       "range a.b.c.d-a.b.c.e of at most 256 addresses."),
])
def test_entry_error(text: str, rule: IpRule, fragment: str | None) -> None:
    problem = ipv4.entry_error(text, rule)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


@pytest.mark.parametrize("entry, ok", [
    ("203.0.113.0/24", True), ("203.0.113.7", True), ("203.0.113.7/32", True),
    ("203.0.112.0/23", False), ("203.0.113.0-203.0.113.9", False), ("2001:db8::/64", False),
    ("junk", False),
])
def test_allowlist_entry_ok(entry: str, ok: bool) -> None:
    assert ipv4.allowlist_entry_ok(entry) is ok


@pytest.mark.parametrize("text, expected", [
    ("203.0.113.7/32", "203.0.113.7"),
    (" 203.0.113.7 ", "203.0.113.7"),
    ("203.0.113.9/24", "203.0.113.0/24"),
    ("203.0.113.1-203.0.113.9", "203.0.113.1-203.0.113.9"),
    ("Junk", "junk"),
])
def test_canonical(text: str, expected: str) -> None:
    assert ipv4.canonical(text) == expected


@pytest.mark.parametrize("a, b, expected", [
    ("203.0.113.0/24", "203.0.113.200", True),
    ("203.0.113.0/25", "203.0.113.128/25", False),
    ("203.0.113.0-203.0.113.10", "203.0.113.10/32", True),
    ("203.0.113.0/24", "junk", False),
])
def test_overlaps(a: str, b: str, expected: bool) -> None:
    assert ipv4.overlaps(a, b) is expected and ipv4.overlaps(b, a) is expected


@pytest.mark.parametrize("entries, ranges, expected", [
    (["203.0.113.0/24"], ["203.0.113.0/25", "203.0.113.7"], True),
    (["203.0.113.0-203.0.113.127", "203.0.113.128/25"], ["203.0.113.0/25", "203.0.113.200"], True),
    (["203.0.113.0/25"], ["203.0.113.0/24"], False),
    (["junk", "203.0.113.0/24"], ["203.0.113.1"], True),
    (["203.0.113.0/24"], ["junk"], False),
    ([], [], True),
])
def test_covers(entries: list[str], ranges: list[str], expected: bool) -> None:
    assert ipv4.covers(entries, ranges) is expected


# ---- properties ------------------------------------------------------------------------------

networks = st.builds(
    lambda address, prefix: ipaddress.IPv4Network((address, prefix), strict=False),
    st.integers(0, 2**32 - 1), st.integers(16, 32),
)


@given(networks)
def test_a_split_covers_exactly_the_original(network: ipaddress.IPv4Network) -> None:
    pieces = ipv4.normalize_ranges([network])
    spans = sorted(s for s in (ipv4.span(p) for p in pieces) if s)
    assert len(spans) == len(pieces)
    assert spans[0][0] == int(network.network_address)
    assert spans[-1][1] == int(network.broadcast_address)
    assert all(left[1] + 1 == right[0] for left, right in zip(spans, spans[1:]))  # no gap
    assert all(ipv4.allowlist_entry_ok(p) for p in pieces)


@given(networks)
def test_canonical_form_keeps_the_bounds(network: ipaddress.IPv4Network) -> None:
    text = f"{network.network_address + (network.num_addresses - 1) // 2}/{network.prefixlen}"
    assert ipv4.span(ipv4.canonical(text)) == ipv4.span(text) == (
        int(network.network_address), int(network.broadcast_address))


@given(st.builds(lambda address, prefix: ipaddress.IPv4Network((address, prefix), strict=False),
                 st.integers(0, 2**32 - 1), st.integers(24, 32)))
def test_config_and_sandbox_reject_the_same_networks(network: ipaddress.IPv4Network) -> None:
    text = str(network.network_address) if network.prefixlen == 32 else str(network)
    config_refuses = isinstance(ipv4.parse_config_range(text), str)
    sandbox_refuses = ipv4.entry_error(text, CONNECTOR_IPS) is not None
    assert config_refuses == sandbox_refuses


def test_carrier_grade_nat_is_refused_by_config_and_sandbox_alike() -> None:
    """The one deliberate change of the IPv4 merge: the sandbox used to accept 100.64.0.0/10."""
    for text in ("100.64.0.0/24", "100.127.255.255"):
        assert "carrier-grade NAT" in str(ipv4.parse_config_range(text))
        assert ipv4.entry_error(text, CONNECTOR_IPS) is not None
        assert ipv4.entry_error(text, ALLOW_LIST_IPS) is not None
    assert ipv4.entry_error("100.63.255.0/24", CONNECTOR_IPS) is None
    assert ipv4.entry_error("100.128.0.0/24", CONNECTOR_IPS) is None
