"""The ownership marker exoform writes into `Comment` (connectors) / `Comments` (rules).

It names the integration, so that after a crash between an API call and the state write the
next plan can adopt the object instead of failing with "already exists" or duplicating it.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from exoform.engine.model import Kind

_MARKER = re.compile(r"\[exoform:([a-z0-9][a-z0-9-]*)\]")


def marker(integration: str) -> str:
    """The comment text exoform writes on every object it creates."""
    return (
        f"[exoform:{integration}] Managed by exoform; edits here are reverted by the next "
        "exoform apply."
    )


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
