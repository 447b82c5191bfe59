"""The model's vocabulary: message classes, verdicts, and the typed causes that say which
object is responsible when a class does not get its intended verdict. Codes only: the words
for them belong to the views.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class MessageClass(str, Enum):
    INBOUND = "inbound"  # external sender -> in-scope internal recipient
    OUTBOUND = "outbound"  # in-scope internal sender -> external recipient
    INTERNAL = "internal"  # internal -> internal
    INBOUND_OUT_OF_SCOPE = "inbound_out_of_scope"  # only when the scope is selected users
    OUTBOUND_OUT_OF_SCOPE = "outbound_out_of_scope"
    RECALL_REPORT = "recall_report"  # carries x-ms-exchange-recallreportgenerated: true
    NDR = "ndr"  # null sender, from the internet to an internal recipient


class Verdict(str, Enum):
    SCANNED = "scanned"  # passed through the gateway in-line, then delivered
    COPIED = "copied"  # delivered, and a copy reached the gateway
    BYPASSED = "bypassed"  # delivered without the gateway
    LOOP = "loop"
    REJECTED = "rejected"  # the service refused it (relay denied, restriction, 5.7.128)
    WITHHELD = "withheld"  # a rule deleted, rejected, quarantined, redirected or held it
    LOST = "lost"  # handed to a service that sends nothing back (the gateway in monitoring)


class ObjectKind(str, Enum):
    TRANSPORT_RULE = "transport_rule"
    INBOUND_CONNECTOR = "inbound_connector"
    OUTBOUND_CONNECTOR = "outbound_connector"
    GATEWAY = "gateway"
    INTEGRATION = "integration"  # exoform's install as a whole (e.g. a rule it lacks)
    HEADER = "header"


class CauseCode(str, Enum):
    # why a class the intent protects did not reach the gateway
    STOPS_PROCESSING = "stops_processing"  # an earlier rule stopped rule processing
    NO_RULE = "no_rule"  # exoform has no rule for the direction
    RULE_DISABLED = "rule_disabled"
    RULE_AUDIT = "rule_audit"  # Audit / AuditAndNotify: no action is taken
    RULE_NOT_ACTIVE = "rule_not_active"  # outside ActivationDate / ExpiryDate
    RULE_NOT_MATCHED = "rule_not_matched"  # its conditions do not match the class
    RULE_EXCEPTED = "rule_excepted"
    ROUTE_OVERRIDDEN = "route_overridden"  # another rule chose another connector
    ROUTE_TARGET_MISSING = "route_target_missing"
    ROUTE_TARGET_DISABLED = "route_target_disabled"
    ROUTE_TARGET_NOT_SCOPED = "route_target_not_scoped"
    CONNECTOR_NOT_GATEWAY = "connector_not_gateway"  # the connector sends elsewhere
    COPY_NOT_DELIVERED = "copy_not_delivered"  # the monitoring copy missed the gateway
    # why a class reached the gateway although it should not
    GATEWAY_UNINTENDED = "gateway_unintended"
    RECALL_ROUTED = "recall_routed"
    # loops
    MISSING_GATEWAY_EXCEPTION = "missing_gateway_exception"
    FOREIGN_ROUTES_GATEWAY_RETURN = "foreign_routes_gateway_return"
    CONNECTOR_TO_GATEWAY = "connector_to_gateway"
    FOREIGN_SELF_LOOP = "foreign_self_loop"
    ROUTING_CYCLE = "routing_cycle"
    HOP_LIMIT = "hop_limit"
    BRANCH_LIMIT = "branch_limit"  # too many possibilities: conservatively "may loop"
    # rejections
    RELAY_NOT_ONPREMISES = "relay_not_onpremises"
    RELAY_NO_CONNECTOR = "relay_no_connector"
    RELAY_NULL_SENDER = "relay_null_sender"
    RELAY_SENDER_DOMAIN = "relay_sender_domain"
    CONNECTOR_RESTRICTION = "connector_restriction"
    RULES_LOOP_LIMIT = "rules_loop_limit"  # 550 5.7.128
    # other outcomes
    LOST_AT_GATEWAY = "lost_at_gateway"
    WITHHELD_BY_RULE = "withheld_by_rule"
    PASSES_ANOTHER_PRODUCT = "passes_another_product"  # chain
    HEADER_LEAVES_ORGANISATION = "header_leaves_organisation"


@dataclass(frozen=True)
class Cause:
    code: CauseCode
    object: str = ""  # the Exchange name of the responsible object ("" if none applies)
    kind: ObjectKind = ObjectKind.INTEGRATION
    related: str = ""  # a second object involved (e.g. the connector a rule names)
