"""Transport rule conditions (and their ExceptIf twins) as three-valued predicates over a
message and its entry: NO, YES or MAYBE. Only the conditions listed in `CONDITION_KEYS` are
modelled; any other condition makes the rule "may match" (see `rules.py`).
"""
from __future__ import annotations

import re
from typing import Callable, Mapping, Sequence

from exoform.engine.mailflow.assumptions import Assumption
from exoform.engine.mailflow.directory import Directory
from exoform.engine.mailflow.ipranges import IpRanges, parse_ranges
from exoform.engine.mailflow.message import Entry, Message, Party
from exoform.engine.mailflow.readers import Obj, folded, folded_texts, texts

NO, YES, MAYBE = 0, 1, 2


class Env:
    """What one rule evaluation reads: the message with its current headers, its entry, the
    headers changed earlier in this pass, and the directory."""

    __slots__ = ("message", "entry", "headers", "changed", "directory")

    def __init__(self, message: Message, entry: Entry, changed: frozenset[str], directory: Directory) -> None:
        self.message = message
        self.entry = entry
        self.headers = dict(message.headers)
        self.changed = changed
        self.directory = directory


class Condition:
    """Base: `test` answers NO/YES/MAYBE; `assumption` names why a MAYBE is a MAYBE."""

    reads: frozenset[str] = frozenset()

    def test(self, env: Env) -> int:
        raise NotImplementedError

    def assumption(self, env: Env) -> Assumption | None:
        return None


FROM_IN, FROM_OUT, TO_IN, TO_OUT = 1, 2, 4, 8


def scope_facts(message: Message, entry: Entry) -> int:
    """Which of FromScope/SentToScope In/NotInOrganization hold (as `UserScope.test` decides)."""
    sender, recipient = message.sender, message.recipient
    facts = FROM_IN if sender.internal and entry.authenticated else 0
    facts |= 0 if sender.internal else FROM_OUT
    return facts | (TO_IN if recipient.internal else TO_OUT)


def _party(env: Env, sender: bool) -> Party:
    return env.message.sender if sender else env.message.recipient


class UserScope(Condition):
    """FromScope / SentToScope. InOrganization needs an internal party and, for the sender, an
    authenticated connection; NotInOrganization is an address outside the organisation."""

    def __init__(self, sender: bool, inside: bool) -> None:
        self.sender, self.inside = sender, inside
        self.bit = (FROM_IN if inside else FROM_OUT) if sender else (TO_IN if inside else TO_OUT)

    def test(self, env: Env) -> int:
        party = _party(env, self.sender)
        if self.inside:
            return YES if party.internal and (env.entry.authenticated or not self.sender) else NO
        return NO if party.internal else YES


class PartyIs(Condition):
    """From / SentTo: the party's address is listed (SentTo can't take groups, and a user is
    never a group's address, so a listed group simply never matches)."""

    def __init__(self, sender: bool, values: Sequence[str]) -> None:
        self.sender = sender
        self.addresses = frozenset(v for v in values if "@" in v)
        self.unresolved = any("@" not in v for v in values)  # a display name or alias

    def test(self, env: Env) -> int:
        if _party(env, self.sender).address in self.addresses:
            return YES
        return MAYBE if self.unresolved else NO


class MemberOf(Condition):
    """FromMemberOf / SentToMemberOf. A group the directory does not know does nothing
    (deleted after the rule was made); unknown membership may match."""

    def __init__(self, sender: bool, groups: Sequence[str]) -> None:
        self.sender, self.groups = sender, tuple(groups)

    def test(self, env: Env) -> int:
        party = _party(env, self.sender)
        live = [g for g in self.groups if not env.directory.known or g in env.directory.groups]
        if any(g in party.groups for g in live):
            return YES
        if party.membership_known or all(g in party.not_groups for g in live):
            return NO
        return MAYBE

    def assumption(self, env: Env) -> Assumption | None:
        return Assumption.MEMBERSHIP_UNKNOWN


class DomainIs(Condition):
    """SenderDomainIs / RecipientDomainIs: the domain or a subdomain of it."""

    def __init__(self, sender: bool, domains: Sequence[str]) -> None:
        self.sender, self.domains = sender, tuple(domains)

    def test(self, env: Env) -> int:
        domain = _party(env, self.sender).domain
        return YES if any(domain == d or domain.endswith("." + d) for d in self.domains) else NO


class SenderIp(Condition):
    """SenderIpRanges: the last hop's address (B.2). An unknown address is never the gateway's."""

    def __init__(self, ranges: IpRanges, gateway: IpRanges) -> None:
        self.ranges = ranges
        self.gateway_only = ranges.within(gateway)

    def test(self, env: Env) -> int:
        ip = env.entry.arrival.ip
        if ip is None:
            return NO if self.gateway_only else MAYBE
        if self.ranges.contains(ip):
            return YES
        return MAYBE if self.ranges.unreadable else NO

    def assumption(self, env: Env) -> Assumption | None:
        return Assumption.UNKNOWN_SENDING_ADDRESS if env.entry.arrival.ip is None else None


class HeaderTest(Condition):
    """HeaderContainsWords (whole words, case-insensitive, `*` literal) or HeaderMatchesPatterns
    on one header. A header changed earlier in this pass may or may not be seen."""

    def __init__(self, header: str, pattern: re.Pattern[str] | None) -> None:
        self.header, self.pattern = header, pattern
        self.reads = frozenset({header})

    def test(self, env: Env) -> int:
        if self.header in env.changed or self.pattern is None:
            return MAYBE
        value = env.headers.get(self.header)
        if value is None:
            return NO
        return YES if self.pattern.search(value) else NO

    def assumption(self, env: Env) -> Assumption | None:
        return Assumption.IN_PASS_HEADER_CHANGES_MAY_BE_SEEN if self.header in env.changed else None


class Unmodelled(Condition):
    def __init__(self, key: str) -> None:
        self.key = key

    def test(self, env: Env) -> int:
        return MAYBE


def words_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def patterns_pattern(patterns: Sequence[str]) -> re.Pattern[str] | None:
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None
    except re.error:
        return None  # a .NET pattern Python cannot read: the test "may match"


Builder = Callable[[Obj, str, IpRanges], Condition]


def _header(words_key: str, reader: Callable[[Sequence[str]], re.Pattern[str] | None]) -> Builder:
    def build(obj: Obj, key: str, gateway: IpRanges) -> Condition:
        prefix = "ExceptIf" if key.startswith("ExceptIf") else ""
        values = texts(obj, prefix + words_key)
        return HeaderTest(folded(obj, key), reader(values))
    return build


CONDITION_KEYS: Mapping[str, Builder] = {
    "FromScope": lambda o, k, g: UserScope(True, folded(o, k) == "inorganization"),
    "SentToScope": lambda o, k, g: UserScope(False, folded(o, k) == "inorganization"),
    "From": lambda o, k, g: PartyIs(True, folded_texts(o, k)),
    "SentTo": lambda o, k, g: PartyIs(False, folded_texts(o, k)),
    "FromMemberOf": lambda o, k, g: MemberOf(True, folded_texts(o, k)),
    "SentToMemberOf": lambda o, k, g: MemberOf(False, folded_texts(o, k)),
    "SenderDomainIs": lambda o, k, g: DomainIs(True, folded_texts(o, k)),
    "RecipientDomainIs": lambda o, k, g: DomainIs(False, folded_texts(o, k)),
    "SenderIpRanges": lambda o, k, g: SenderIp(parse_ranges(texts(o, k)), g),
    "HeaderContainsMessageHeader": _header("HeaderContainsWords", words_pattern),
    "HeaderMatchesMessageHeader": _header("HeaderMatchesPatterns", patterns_pattern),
}
# Read together with the header name above, never on their own.
PAIRED_KEYS = frozenset({"HeaderContainsWords", "HeaderMatchesPatterns"})
# Envelope recipient conditions (assumption ENVELOPE_PER_RECIPIENT).
RECIPIENT_KEYS = frozenset({"SentToScope", "SentTo", "SentToMemberOf", "RecipientDomainIs"})
