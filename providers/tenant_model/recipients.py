"""The tenant's directory as transport rules and Get-Recipient see it: entries found by any of
their addresses or names (as Exchange resolves a RecipientIdParameter), Get-Recipient's shape
and the OPATH `-Filter` subset exoform sends, and Get-AcceptedDomain from `accepted_domains`.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from exoform.engine.errors import NotFound, ValidationFailed
from exoform.engine.exchange import EX_NOT_FOUND, EX_PARAMETER_BINDING
from exoform.providers.tenant_model.binding import Ctx
from exoform.providers.tenant_model.document import stable_guid

if TYPE_CHECKING:
    from exoform.providers.tenant_model.model import TenantModel

Entry = Mapping[str, Any]
_SMTP = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+\Z")
# RecipientTypeDetails -> RecipientType, for the types a sandbox file usually names.
_RECIPIENT_TYPES = {
    "UserMailbox": "UserMailbox", "SharedMailbox": "UserMailbox", "RoomMailbox": "UserMailbox",
    "EquipmentMailbox": "UserMailbox", "MailUser": "MailUser", "GuestMailUser": "MailUser",
    "MailContact": "MailContact", "GroupMailbox": "MailUniversalDistributionGroup",
}


def is_smtp_address(text: str) -> bool:
    return _SMTP.match(text) is not None


def is_group(entry: Entry) -> bool:
    """Distribution, mail-enabled security and Microsoft 365 groups (their type says Group)."""
    return "group" in str(entry.get("type", "")).lower()


def primary_address(entry: Entry) -> str:
    return str(entry["address"])


def _local(entry: Entry) -> str:
    return primary_address(entry).partition("@")[0]


def addresses(entry: Entry) -> list[str]:
    """The primary SMTP address first, then the proxy addresses."""
    proxies = [str(p) for p in entry.get("proxy_addresses") or ()]
    return [primary_address(entry)] + [p for p in proxies if p.lower() != primary_address(entry).lower()]


def names(entry: Entry) -> dict[str, str]:
    name = str(entry.get("name") or _local(entry))
    return {"Name": name, "Alias": str(entry.get("alias") or _local(entry)),
            "DisplayName": str(entry.get("display_name") or name)}


def find_recipient(entries: Iterable[Entry], identity: str) -> Entry | None:
    """The entry `identity` names: one of its SMTP addresses (with or without `smtp:`), its
    name, alias or display name, or its Guid; compared ignoring case, as Exchange does."""
    wanted = identity.strip().lower().removeprefix("smtp:")
    for entry in entries:
        keys = {a.lower() for a in addresses(entry)} | {v.lower() for v in names(entry).values()}
        keys.add(str(entry.get("guid") or _guid(entry)).lower())
        if wanted in keys:
            return entry
    return None


def _guid(entry: Entry) -> str:
    return stable_guid("Recipient", primary_address(entry))


def recipient_view(entry: Entry) -> dict[str, Any]:
    """What Get-Recipient shows of an entry (PascalCase, EmailAddresses with type prefixes)."""
    details = str(entry.get("type") or "UserMailbox")
    shown = names(entry)
    return {
        **shown, "Identity": shown["Name"], "Guid": str(entry.get("guid") or _guid(entry)),
        "PrimarySmtpAddress": primary_address(entry),
        "EmailAddresses": ["SMTP:" + addresses(entry)[0]] + ["smtp:" + a for a in addresses(entry)[1:]],
        "RecipientTypeDetails": details, "RecipientType": _RECIPIENT_TYPES.get(details, details),
    }


def get_recipients(model: TenantModel, ctx: Ctx) -> list[dict[str, Any]]:
    """Get-Recipient by Identity, by `-Filter`, or every entry."""
    entries: list[dict[str, Any]] = model.recipients
    identity = ctx.params.get("Identity")
    if identity is not None:
        found = find_recipient(entries, str(identity))
        if found is None:
            raise ctx.error(NotFound, f"The operation couldn't be performed because object"
                            f" '{identity}' couldn't be found on '{model.organization}'.", EX_NOT_FOUND)
        entries = [dict(found)]
    views = [recipient_view(e) for e in entries]
    text = ctx.params.get("Filter")
    if text:
        test = parse_filter(ctx, str(text))
        views = [v for v in views if test(v)]
    return views


# ---- the OPATH subset: (Property -eq 'value') joined by -or / -and, in parentheses ------------

_FILTERABLE = ("EmailAddresses", "PrimarySmtpAddress", "Name", "Alias", "DisplayName",
               "RecipientTypeDetails")
_TOKEN = re.compile(r"\s*(?:(\()|(\))|(-or|-and|-eq)\b|'((?:[^']|'')*)'|([A-Za-z]+))", re.IGNORECASE)


def parse_filter(ctx: Ctx, text: str) -> Any:
    """A predicate over Get-Recipient views for an OPATH filter of the form exoform sends."""
    tokens = _tokens(ctx, text)
    test, rest = _or(ctx, tokens)
    if rest:
        raise _bad_filter(ctx, text)
    return test


def _tokens(ctx: Ctx, text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _bad_filter(ctx, text)
        kinds = ("(", ")", "op", "value", "prop")
        kind = next(k for k, g in zip(kinds, match.groups()) if g is not None)
        value = match.group(kinds.index(kind) + 1)
        out.append((kind, value.replace("''", "'") if kind == "value" else value.lower() if kind == "op" else value))
        pos = match.end()
    return out


def _or(ctx: Ctx, tokens: Sequence[tuple[str, str]]) -> tuple[Any, Sequence[tuple[str, str]]]:
    left, rest = _term(ctx, tokens)
    while rest and rest[0] in (("op", "-or"), ("op", "-and")):
        op = rest[0][1]
        right, rest = _term(ctx, rest[1:])
        left = (lambda a, b: lambda v: a(v) or b(v))(left, right) if op == "-or" else \
            (lambda a, b: lambda v: a(v) and b(v))(left, right)
    return left, rest


def _term(ctx: Ctx, tokens: Sequence[tuple[str, str]]) -> tuple[Any, Sequence[tuple[str, str]]]:
    if tokens and tokens[0][0] == "(":
        inner, rest = _or(ctx, tokens[1:])
        if not rest or rest[0][0] != ")":
            raise _bad_filter(ctx, "unbalanced parentheses")
        return inner, rest[1:]
    if len(tokens) < 3 or tokens[0][0] != "prop" or tokens[1] != ("op", "-eq") or tokens[2][0] != "value":
        raise _bad_filter(ctx, " ".join(t[1] for t in tokens[:3]))
    prop = next((p for p in _FILTERABLE if p.lower() == tokens[0][1].lower()), None)
    if prop is None:
        raise _bad_filter(ctx, f"the property '{tokens[0][1]}' can't be used in this filter")
    wanted = tokens[2][1].lower()

    def test(view: Mapping[str, Any]) -> bool:
        value = view.get(prop)
        values = value if isinstance(value, list) else [value]
        if prop == "EmailAddresses":  # matches any address, the type prefix optional
            return any(str(v).lower() in (wanted, "smtp:" + wanted) for v in values)
        return any(str(v).lower() == wanted for v in values)

    return test, tokens[3:]


def _bad_filter(ctx: Ctx, detail: str) -> ValidationFailed:
    error = ctx.error(ValidationFailed, f"Cannot bind parameter 'Filter' to the target. Invalid"
                      f" filter syntax: {detail}.", EX_PARAMETER_BINDING)
    assert isinstance(error, ValidationFailed)
    return error


# ---- accepted domains ----------------------------------------------------------------------------


def accepted_domains(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Get-AcceptedDomain: the file's `accepted_domains` (names, or objects in Exchange's shape);
    a name is Authoritative; the organization's initial domain is always there, and so is the
    domain of every recipient's primary address (Exchange gives mailboxes and groups addresses
    in accepted domains only, so a file that lists such a recipient implies the domain)."""
    organization = str(document.get("organization") or "")
    listed = list(document.get("accepted_domains") or [])
    if not any(_domain_name(d).lower() == organization.lower() for d in listed):
        listed.insert(0, organization)
    for entry in document.get("recipients") or ():
        domain = primary_address(entry).rpartition("@")[2] if isinstance(entry, dict) and entry.get("address") else ""
        if domain and not any(_domain_name(d).lower() == domain.lower() for d in listed):
            listed.append(domain)
    objects = [d if isinstance(d, dict) else {"DomainName": d} for d in listed]
    has_default = any(o.get("Default") for o in objects)
    out = []
    for obj in objects:
        name = str(obj["DomainName"])
        initial = name.lower() == organization.lower()
        out.append({
            "Name": name, "Identity": name, "DomainName": name,
            "DomainType": obj.get("DomainType", "Authoritative"),
            "Default": bool(obj.get("Default", initial and not has_default)),
            "InitialDomain": bool(obj.get("InitialDomain", initial)),
            "Guid": stable_guid("AcceptedDomain", name),
        })
    return out


def _domain_name(item: Any) -> str:
    return str(item.get("DomainName", "")) if isinstance(item, dict) else str(item)
