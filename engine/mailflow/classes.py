"""One representative message per class, built from the tenant and the intent: who sends it
to whom, its headers, and how it first reaches the tenant. Internet mail comes from an address
no connector or rule names (or through the tenant's locked-down front service, if it has one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from exoform.engine.blueprint import RECALL_HEADER
from exoform.engine.mailflow.connectors import InboundConnector
from exoform.engine.mailflow.directory import Directory
from exoform.engine.mailflow.ipranges import IpRanges, parse_ranges
from exoform.engine.mailflow.message import Arrival, Message, Party, Source
from exoform.engine.mailflow.results import Start
from exoform.engine.mailflow.tenant import Direction, Intent
from exoform.engine.mailflow.verdicts import MessageClass

# Documentation and shared address space: addresses that are nobody's in particular.
_CANDIDATE_ADDRESSES = parse_ranges(
    ["192.0.2.1-192.0.2.254", "198.51.100.1-198.51.100.254", "203.0.113.1-203.0.113.254", "100.64.0.1-100.127.255.254"])
_EXTERNAL_DOMAINS = ("fabrikam.example", "external.example", "outside.example", "elsewhere.example")


@dataclass(frozen=True)
class Cast:
    """The parties the representatives are made of."""

    external_sender: Party
    external_recipient: Party
    postmaster: Party
    in_scope: Party
    out_of_scope: Party
    colleague: Party  # another internal user (internal mail's recipient)


def recall_direction(intent: Intent) -> Direction:
    """Recall reports are traced in the direction the intent protects (inbound if both)."""
    only_outbound = Direction.OUTBOUND in intent.directions and Direction.INBOUND not in intent.directions
    return Direction.OUTBOUND if only_outbound else Direction.INBOUND


def representatives(intent: Intent, directory: Directory, inbound: Sequence[InboundConnector],
                    named_ranges: IpRanges, named_domains: Iterable[str]) -> tuple[Start, ...]:
    cast = _cast(intent, directory, named_domains)
    client = _CANDIDATE_ADDRESSES.first_outside(named_ranges)
    internet = _internet_arrival(inbound, cast.external_sender.domain, client)
    mailbox = Arrival(Source.MAILBOX, client)
    recall = ((RECALL_HEADER, "true"),)
    starts = [
        Start(MessageClass.INBOUND, Message(cast.external_sender, cast.in_scope), internet),
        Start(MessageClass.OUTBOUND, Message(cast.in_scope, cast.external_recipient), mailbox),
        Start(MessageClass.INTERNAL, Message(cast.in_scope, cast.colleague), mailbox),
    ]
    if intent.scope.selected:
        starts.append(Start(MessageClass.INBOUND_OUT_OF_SCOPE, Message(cast.external_sender, cast.out_of_scope), internet))
        starts.append(Start(MessageClass.OUTBOUND_OUT_OF_SCOPE, Message(cast.out_of_scope, cast.external_recipient), mailbox))
    if recall_direction(intent) is Direction.INBOUND:
        starts.append(Start(MessageClass.RECALL_REPORT, Message(cast.external_sender, cast.in_scope, headers=recall), internet))
    else:
        starts.append(Start(MessageClass.RECALL_REPORT, Message(cast.in_scope, cast.external_recipient, headers=recall), mailbox))
    starts.append(Start(MessageClass.NDR, Message(cast.postmaster, cast.in_scope, null_sender=True), internet))
    return tuple(starts)


def _internet_arrival(inbound: Sequence[InboundConnector], domain: str, client: int | None) -> Arrival:
    """A tenant locked down to a front service (a Partner connector restricting every sender
    domain to its addresses or certificate) receives internet mail from that service."""
    for connector in sorted(inbound, key=lambda c: c.name.casefold()):
        if connector.enabled and connector.restricts and connector.domain_specificity(domain):
            ip = connector.sender_ips.spans[0][0] if connector.restrict_ips and connector.sender_ips.spans else None
            cert = connector.cert_name.replace("*.", "front.", 1) if connector.restrict_cert else ""
            return Arrival(Source.INTERNET, ip if ip is not None else client, cert)
    return Arrival(Source.INTERNET, client)


def _cast(intent: Intent, directory: Directory, named_domains: Iterable[str]) -> Cast:
    taken = {d for d, _ in directory.domains} | {d.casefold() for d in named_domains}
    external = next((d for d in _EXTERNAL_DOMAINS if d not in taken), "nowhere.invalid")

    def outsider(local: str) -> Party:
        return Party(f"{local}@{external}", False, membership_known=True)

    in_scope = _in_scope(intent, directory)
    out_of_scope = _out_of_scope(intent, directory, in_scope)
    others = [u for u in _users(directory) if u != in_scope.address]
    colleague = Party(others[0], True) if others else _synthetic(directory, "colleague")
    return Cast(outsider("sender"), outsider("recipient"), outsider("postmaster"), in_scope, out_of_scope, colleague)


def _users(directory: Directory) -> tuple[str, ...]:
    return directory.internal_users


def _synthetic(directory: Directory, local: str, groups: frozenset[str] = frozenset()) -> Party:
    # A made-up mailbox is taken to exist (so it is internal even with an empty directory).
    return Party(f"{local}@{directory.home_domain()}", True, groups=groups)


def _in_scope(intent: Intent, directory: Directory) -> Party:
    scope = intent.scope
    if scope.selected and scope.recipients:
        # Listed users' group memberships are not known: a rule that also names groups may
        # or may not match them (conditions are ANDed).
        address = sorted(r.casefold() for r in scope.recipients)[0]
        return Party(address, directory.internal(address) or not directory.known)
    if scope.selected and scope.groups:
        group = sorted(g.casefold() for g in scope.groups)[0]
        local = group.partition("@")[0]
        return _synthetic(directory, f"member.of.{local}", frozenset({group}))
    users = _users(directory)
    return Party(users[0], True) if users else _synthetic(directory, "user")


def _out_of_scope(intent: Intent, directory: Directory, in_scope: Party) -> Party:
    listed = {r.casefold() for r in intent.scope.recipients}
    groups = frozenset(g.casefold() for g in intent.scope.groups)
    for user in _users(directory):
        if user not in listed and user != in_scope.address:
            return Party(user, True, not_groups=groups)
    return Party(f"unlisted@{directory.home_domain()}", True, not_groups=groups)
