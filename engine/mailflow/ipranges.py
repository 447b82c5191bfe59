"""IPv4 address sets for the model: connector SenderIPAddresses, rules' SenderIpRanges and the
gateway's ranges, as merged integer intervals. Single addresses, `a-b` ranges and CIDR are read
with `ipaddress`; anything else is kept aside as unreadable (a test against it "may match").
"""
from __future__ import annotations

import bisect
import functools
import ipaddress
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class IpRanges:
    spans: tuple[tuple[int, int], ...] = ()  # sorted, merged, inclusive
    unreadable: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.spans or self.unreadable)

    def contains(self, ip: int) -> bool:
        at = bisect.bisect_right(self.spans, (ip, 1 << 33)) - 1
        return at >= 0 and self.spans[at][0] <= ip <= self.spans[at][1]

    def within(self, other: "IpRanges") -> bool:
        """Every address of this set lies in `other` (unreadable entries never do)."""
        if self.unreadable:
            return False
        return all(_span_within(span, other.spans) for span in self.spans)

    def first_outside(self, other: "IpRanges") -> int | None:
        """The lowest address of this set not in `other`."""
        for low, high in self.spans:
            ip = low
            while ip <= high:
                if not other.contains(ip):
                    return ip
                ip = _end_of_span_containing(other.spans, ip) + 1
        return None

    def union(self, other: "IpRanges") -> "IpRanges":
        return union_all((self, other))


EMPTY = IpRanges()


def union_all(sets: Iterable[IpRanges]) -> IpRanges:
    spans: list[tuple[int, int]] = []
    bad: set[str] = set()
    for one in sets:
        spans.extend(one.spans)
        bad.update(one.unreadable)
    return IpRanges(_merge(tuple(spans)), tuple(sorted(bad))) if spans or bad else EMPTY


def parse_ranges(values: Iterable[str]) -> IpRanges:
    if not values:
        return EMPTY
    spans: list[tuple[int, int]] = []
    bad: list[str] = []
    for value in values:
        span = _span(str(value))
        if span is None:
            bad.append(str(value))
        else:
            spans.append(span)
    return IpRanges(_merge(tuple(spans)), tuple(sorted(set(bad))))


def parse_address(text: str) -> int | None:
    try:
        return int(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        return None


def format_address(ip: int | None) -> str:
    return "" if ip is None else str(ipaddress.IPv4Address(ip))


@functools.lru_cache(maxsize=1 << 14)
def _span(text: str) -> tuple[int, int] | None:
    """Pure, so cached: every simulated state of every plan (and every tenant of a fleet)
    parses the same gateway ranges and allow-list entries again."""
    text = text.strip()
    try:
        if "-" in text:
            first, last = (int(ipaddress.IPv4Address(p.strip())) for p in text.split("-", 1))
            return (first, last) if first <= last else None
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        return None
    return int(net.network_address), int(net.broadcast_address)


def _merge(spans: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return tuple(merged)


def _span_within(span: tuple[int, int], spans: tuple[tuple[int, int], ...]) -> bool:
    at = bisect.bisect_right(spans, (span[0], 1 << 33)) - 1
    return at >= 0 and spans[at][0] <= span[0] and span[1] <= spans[at][1]


def _end_of_span_containing(spans: tuple[tuple[int, int], ...], ip: int) -> int:
    at = bisect.bisect_right(spans, (ip, 1 << 33)) - 1
    return spans[at][1]
