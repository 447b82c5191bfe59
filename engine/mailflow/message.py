"""A message as the model carries it between hops: who sends it to whom, its headers, and how
its current copy entered the tenant (the `Entry`). Frozen and hashable: a message and its entry
together are the routing state that loop detection compares.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from enum import Enum

RULES_LOOP_HEADER = "x-ms-exchange-transport-rules-loop"

Headers = tuple[tuple[str, str], ...]  # (casefolded name, value), sorted by name


@dataclass(frozen=True, slots=True)
class Party:
    address: str  # casefolded
    internal: bool  # a recipient of the organisation or in an Authoritative/InternalRelay domain
    groups: frozenset[str] = frozenset()  # groups it is known to be a member of
    not_groups: frozenset[str] = frozenset()  # groups it is known not to be a member of
    membership_known: bool = False  # `groups` is complete (external and synthetic parties)

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class Message:
    sender: Party  # the header From (rules read it by default: SenderAddressLocation Header)
    recipient: Party
    null_sender: bool = False  # P1 MAIL FROM <> (NDRs)
    headers: Headers = ()

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def with_headers(self, headers: Headers) -> "Message":
        return replace(self, headers=headers)


class Source(str, Enum):
    """Where the SMTP session (or submission) that brings a copy into the tenant comes from."""

    MAILBOX = "mailbox"  # submitted by an authenticated mailbox
    INTERNET = "internet"
    GATEWAY = "gateway"  # exoform's gateway sending mail back
    FOREIGN = "foreign"  # another product's service sending mail back


class ConnectorType(str, Enum):
    NONE = ""
    PARTNER = "partner"
    ONPREMISES = "onpremises"


@dataclass(frozen=True, slots=True)
class Arrival:
    source: Source
    ip: int | None  # the last hop's address; None: unknown (never one of the gateway's)
    cert: str = ""  # TLS certificate name the sender presents ("" unknown)
    service: str = ""  # FOREIGN: the outbound connector whose service sends it back


@dataclass(frozen=True, slots=True)
class Entry:
    arrival: Arrival
    connector: str = ""  # the inbound connector the message is attributed to
    connector_type: ConnectorType = ConnectorType.NONE
    authenticated: bool = False  # submitted, or attributed as internal (FromScope InOrganization)


def set_header(headers: Headers, name: str, value: str) -> Headers:
    # Headers stay sorted with unique names, so one bisection finds the place: a tenant with
    # hundreds of header-stamping rules would otherwise cost a scan per rule per message.
    at = bisect_left(headers, (name,))
    end = at + 1 if at < len(headers) and headers[at][0] == name else at
    return headers[:at] + ((name, value),) + headers[end:]


def remove_header(headers: Headers, name: str) -> Headers:
    at = bisect_left(headers, (name,))
    if at < len(headers) and headers[at][0] == name:
        return headers[:at] + headers[at + 1:]
    return headers
