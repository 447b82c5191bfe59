"""A comparable picture of the tenant (every connector and rule by name with its managed
attributes normalized, the rules' relative order, the allow list), used to verify that a
rollback left the tenant exactly as it was before the apply.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from exoform.engine.kinds import normalize, normalize_ip
from exoform.engine.model import Kind

_KINDS = (Kind.INBOUND_CONNECTOR, Kind.OUTBOUND_CONNECTOR, Kind.TRANSPORT_RULE)


def snapshot(read: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    picture: dict[str, Any] = {}
    for kind in _KINDS:
        objects = read.get(kind.exchange_type, ())
        picture[kind.exchange_type] = {
            str(o.get("Name", "")).casefold(): normalize(kind, o) for o in objects
        }
    rules = sorted(read.get("TransportRule", ()), key=lambda r: int(r.get("Priority") or 0))
    picture["rule_order"] = [str(r.get("Name", "")).casefold() for r in rules]
    policies = read.get("HostedConnectionFilterPolicy", ())
    picture["allow_list"] = sorted(
        {normalize_ip(e) for p in policies for e in _entries(p.get("IPAllowList"))}
    )
    return picture


def _entries(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def compare_snapshots(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Human lines for every difference (empty when the tenant is as it was)."""
    lines: list[str] = []
    for kind in _KINDS:
        old, new = before[kind.exchange_type], after[kind.exchange_type]
        for name in sorted(set(old) | set(new)):
            if name not in new:
                lines.append(f"{kind.exchange_type} '{name}' is missing (it existed before)")
            elif name not in old:
                lines.append(f"{kind.exchange_type} '{name}' is still there (it did not exist before)")
            elif old[name] != new[name]:
                keys = sorted(k for k in old[name] if old[name][k] != new[name].get(k))
                lines.append(f"{kind.exchange_type} '{name}' differs in {', '.join(keys)}")
    if before["rule_order"] != after["rule_order"] and not lines:
        lines.append("transport rules are in a different order than before")
    added = sorted(set(after["allow_list"]) - set(before["allow_list"]))
    removed = sorted(set(before["allow_list"]) - set(after["allow_list"]))
    if added:
        lines.append(f"allow list entries still present: {', '.join(added)}")
    if removed:
        lines.append(f"allow list entries missing: {', '.join(removed)}")
    return lines
