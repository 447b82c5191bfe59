"""The ownership marker exoform writes into `Comment` (connectors) / `Comments` (rules).

It names the integration, so that after a crash between an API call and the state write the
next plan can adopt the object instead of failing with "already exists" or duplicating it, and
the name exoform gave the object, so that a copy (which keeps the comment under a new name) is
told apart from exoform's own object. On the inbound connector it also lists the allow-list
entries the integration added: the tenant itself then says which entries are exoform's.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from exoform.engine.model import Kind

_MARKER = re.compile(r"\[exoform:([a-z0-9][a-z0-9-]*)\]")
_MADE_AS = re.compile(r"Managed by exoform as '(.+?)'; edits here")


_ENTRIES = re.compile(r"Allow-list entries exoform added: ([0-9a-fA-F.:/\-, ]+)\.")
# Exchange's comment fields are short; entries that do not fit are still owned through the
# state, only not listed in the tenant.
MAX_LISTED = 700


def marker(integration: str, name: str, entries: tuple[str, ...] = ()) -> str:
    """The comment text exoform writes on every object it creates, `name` being the object's."""
    text = (f"[exoform:{integration}] Managed by exoform as '{name}'; edits here are reverted by "
            "the next exoform apply.")
    listed: list[str] = []
    for entry in entries:
        if len(", ".join([*listed, entry])) > MAX_LISTED:
            break
        listed.append(entry)
    if listed:
        text += f" Allow-list entries exoform added: {', '.join(listed)}."
    return text


def listed_entries(kind: Kind, obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The allow-list entries an object's marker says its integration added."""
    field = comment_field(kind)
    match = _ENTRIES.search(str(obj.get(field) or "")) if field else None
    return tuple(e.strip() for e in match.group(1).split(",") if e.strip()) if match else ()


# Where each kind keeps the marker (kinds without one, the allow list, are never marked).
COMMENT_FIELDS = {
    Kind.INBOUND_CONNECTOR: "Comment",
    Kind.OUTBOUND_CONNECTOR: "Comment",
    Kind.TRANSPORT_RULE: "Comments",
}


def comment_field(kind: Kind) -> str | None:
    return COMMENT_FIELDS.get(kind)


def owner(kind: Kind, obj: Mapping[str, Any]) -> str | None:
    """The integration named by the object's marker, or None for an unmarked object."""
    field = comment_field(kind)
    text = obj.get(field) if field else None
    match = _MARKER.search(str(text)) if text else None
    return match.group(1) if match else None


def made_as(kind: Kind, obj: Mapping[str, Any]) -> str | None:
    """The name the marker says exoform gave the object (None: no marker, or one written by
    an exoform that did not name the object)."""
    field = comment_field(kind)
    match = _MADE_AS.search(str(obj.get(field) or "")) if field else None
    return match.group(1) if match else None


def own(kind: Kind, obj: Mapping[str, Any], integration: str) -> bool:
    """Whether the object is the one exoform made for `integration`: marked as its, under the
    name it still has. A copy of it, or an object renamed since, carries the marker too."""
    made = made_as(kind, obj)
    return (owner(kind, obj) == integration and made is not None
            and made.casefold() == str(obj.get("Name") or "").casefold())
