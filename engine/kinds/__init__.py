"""One handler per resource kind (connectors, transport rules, the allow list), registered by
kind: `handler(kind)` is the only way the engine reaches per-kind behaviour. The attribute
schemas of every kind, and the helpers to compare values, are re-exported here.
"""
from __future__ import annotations

from typing import Mapping

from exoform.engine.kinds.allowlist import AllowListHandler
from exoform.engine.kinds.base import KindHandler
from exoform.engine.kinds.connector import InboundConnectorHandler, OutboundConnectorHandler
from exoform.engine.kinds.schema import KindSpec, normalize_ip
from exoform.engine.kinds.transport_rule import TransportRuleHandler
from exoform.engine.model import Kind

HANDLERS: Mapping[Kind, KindHandler] = {
    h.kind: h for h in (InboundConnectorHandler(), OutboundConnectorHandler(),
                        TransportRuleHandler(), AllowListHandler())
}
KIND_SPECS: Mapping[Kind, KindSpec] = {kind: h.schema for kind, h in HANDLERS.items()}


def handler(kind: Kind) -> KindHandler:
    return HANDLERS[kind]


def spec(kind: Kind) -> KindSpec:
    return HANDLERS[kind].schema


def sensitive_attrs(kind: Kind) -> frozenset[str]:
    return HANDLERS[kind].schema.sensitive


def normalize(kind: Kind, attrs: Mapping[str, object]) -> dict[str, object]:
    """Every managed attribute of `kind` in comparable form (missing == default)."""
    return HANDLERS[kind].schema.normalize(attrs)


__all__ = ["HANDLERS", "KIND_SPECS", "KindHandler", "handler", "normalize", "normalize_ip",
           "sensitive_attrs", "spec"]
