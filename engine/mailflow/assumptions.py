"""Every behaviour the model assumes because no source settles it: one enum member each, one
table with its source and the reading taken (the conservative one). Paths cite the members they
relied on, so a real-tenant test can find and flip them.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping


class Assumption(str, Enum):
    AUDIT_STOP_MAY_STOP = "audit_stop_may_stop"
    ONE_PASS_PER_ENTRY = "one_pass_per_entry"
    ADDED_RECIPIENTS_FOLLOW_RULE_ROUTE = "added_recipients_follow_rule_route"
    ENVELOPE_PER_RECIPIENT = "envelope_per_recipient"
    CONNECTOR_SPECIFICITY = "connector_specificity"
    PARTNER_IP_NOT_USED = "partner_ip_not_used"
    ONPREMISES_RETURN_IS_INTERNAL = "onpremises_return_is_internal"
    ONPREMISES_IP_ATTRIBUTION = "onpremises_ip_attribution"
    FOREIGN_SERVICE_RETURNS = "foreign_service_returns"
    ROUTE_CONFLICT_EITHER = "route_conflict_either"
    IN_PASS_HEADER_CHANGES_MAY_BE_SEEN = "in_pass_header_changes_may_be_seen"
    RULES_LOOP_ACROSS_REENTRY = "rules_loop_across_reentry"
    RECALL_HEADER_ON_REPORTS = "recall_header_on_reports"
    GATEWAY_ADDS_NO_HEADER = "gateway_adds_no_header"
    MEMBERSHIP_UNKNOWN = "membership_unknown"
    RULE_DATES_UNKNOWN = "rule_dates_unknown"
    UNKNOWN_SENDING_ADDRESS = "unknown_sending_address"


@dataclass(frozen=True)
class AssumptionInfo:
    source: str  # where the question is raised (mail-flow-semantics.md section, with its citation)
    reading: str  # the behaviour the model takes


_SEM = "shared/reference/mail-flow-semantics.md"

ASSUMPTIONS: Mapping[Assumption, AssumptionInfo] = {
    Assumption.AUDIT_STOP_MAY_STOP: AssumptionInfo(
        f"{_SEM} B.1 (UNCONFIRMED); [OD-PS] New-TransportRule.md -Mode",
        "an Audit/AuditAndNotify rule's StopRuleProcessing may or may not stop later rules: both followed"),
    Assumption.ONE_PASS_PER_ENTRY: AssumptionInfo(
        f"{_SEM} B.3 (UNCONFIRMED: do rules run again on the BCC copy)",
        "one rule pass per entry into the tenant; recipients a rule adds are not evaluated again"),
    Assumption.ADDED_RECIPIENTS_FOLLOW_RULE_ROUTE: AssumptionInfo(
        f"{_SEM} B.8 step 4",
        "a recipient a rule adds is routed like the message: a rule-chosen connector carries it too"),
    Assumption.ENVELOPE_PER_RECIPIENT: AssumptionInfo(
        f"{_SEM} B.2 'Which recipients an action reaches' (inferred, UNCONFIRMED)",
        "envelope recipient conditions are evaluated per recipient; each class has one recipient"),
    Assumption.CONNECTOR_SPECIFICITY: AssumptionInfo(
        f"{_SEM} B.4 point 3; [OD-EXO] set-up-connectors-to-route-mail.md (UNCONFIRMED ordering)",
        "exact recipient domain > wildcard (longest first) > all accepted domains"),
    Assumption.PARTNER_IP_NOT_USED: AssumptionInfo(
        f"{_SEM} B.4 (warning: worth confirming); [OD-PS] New-InboundConnector.md",
        "a Partner connector's SenderIPAddresses attribute mail only with RestrictDomainsToIPAddresses"),
    Assumption.ONPREMISES_RETURN_IS_INTERNAL: AssumptionInfo(
        f"{_SEM} B.3 (a), B.4 (OnPremises grants special rights), B.7",
        "mail attributed to an OnPremises connector from an accepted-domain sender is from inside the "
        "organisation again, so outbound rules match it (exposes a missing loop exception)"),
    Assumption.ONPREMISES_IP_ATTRIBUTION: AssumptionInfo(
        f"{_SEM} B.4 (MC1226222: IP-based OnPremises connectors with shared IPs may stop working)",
        "an IP-based OnPremises connector attributes the gateway's returning mail to this tenant"),
    Assumption.FOREIGN_SERVICE_RETURNS: AssumptionInfo(
        f"{_SEM} B.7 (vendor patterns), A.1 (3rd-party integration page NOT FOUND)",
        "a service behind a rule-scoped connector sends mail back when it is a known mail-security product "
        "or the routing rule guards against returning mail (a sender-IP or header exception): from the "
        "ranges the rule excepts (not the gateway's), else from an unknown address"),
    Assumption.ROUTE_CONFLICT_EITHER: AssumptionInfo(
        f"{_SEM} B.1 (all actions of a matching rule apply; conflicts between rules not documented)",
        "when two rules in one pass choose connectors, either may win: both followed"),
    Assumption.IN_PASS_HEADER_CHANGES_MAY_BE_SEEN: AssumptionInfo(
        f"{_SEM} B.1 / B.8 step 3 (not documented)",
        "a header a rule set or removed earlier in the same pass may or may not be seen by later rules"),
    Assumption.RULES_LOOP_ACROSS_REENTRY: AssumptionInfo(
        f"{_SEM} B.3 loop header; B.5 (loop headers kept across organisations)",
        "X-MS-Exchange-Transport-Rules-Loop survives a trip out and back; a second recipient-adding "
        "rule on such a message is rejected (550 5.7.128)"),
    Assumption.RECALL_HEADER_ON_REPORTS: AssumptionInfo(
        f"{_SEM} B.5 Recall (exact meaning UNCONFIRMED)",
        "recall reports carry x-ms-exchange-recallreportgenerated: true"),
    Assumption.GATEWAY_ADDS_NO_HEADER: AssumptionInfo(
        f"{_SEM} A.1 (whether MDCES v3 stamps a fixed processed header is UNCONFIRMED)",
        "the gateway sends mail back with the headers it received, adding none"),
    Assumption.MEMBERSHIP_UNKNOWN: AssumptionInfo(
        "model: the directory lists recipients, not group members",
        "a group-membership condition on a user whose membership is not known may match"),
    Assumption.RULE_DATES_UNKNOWN: AssumptionInfo(
        "model: no clock unless the caller passes one",
        "a rule with ActivationDate/ExpiryDate may or may not be in force"),
    Assumption.UNKNOWN_SENDING_ADDRESS: AssumptionInfo(
        f"{_SEM} B.2 SenderIpRanges (last hop)",
        "mail from an address the model does not know may match any sender IP range except the gateway's"),
}
