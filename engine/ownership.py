"""The ownership marker exoform writes into `Comment` (connectors) / `Comments` (rules).

It names the integration, so that after a crash between an API call and the state write the
next plan can adopt the object instead of failing with "already exists" or duplicating it. On
the inbound connector it also lists the allow-list entries the integration added: the tenant
itself then says which entries are exoform's (a lost state, or another integration, reads it).
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from exoform.engine.model import Kind

_MARKER = re.compile(r"\[exoform:([a-z0-9][a-z0-9-]*)\]")


_ENTRIES = re.compile(r"Allow-list entries exoform added: ([0-9a-fA-F.:/\-, ]+)\.")
# Exchange's comment fields are short; entries that do not fit are still owned through the
# state, only not listed in the tenant.
MAX_LISTED = 700


def marker(integration: str, entries: tuple[str, ...] = ()) -> str:
    """The comment text exoform writes on every object it creates."""
    text = (f"[exoform:{integration}] Managed by exoform; edits here are reverted by the next "
            "exoform apply.")
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
