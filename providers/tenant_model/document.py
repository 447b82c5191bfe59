"""The tenant document: the default Get- shape of each object type, the empty tenant a missing
file stands for, normalisation (every key present, rules in priority order), the canonical file
text, checks a schema cannot express, and small helpers over its object lists.
"""
from __future__ import annotations

import copy
import json
import uuid
from typing import Any, Callable, Mapping, Sequence

from exoform.engine.cmdlet_reference import (
    RULE_BOOL_PROPERTIES, RULE_LIST_PROPERTIES, RULE_SETTING_DEFAULTS, RULE_TEXT_PROPERTIES,
)
from exoform.engine.errors import Issue
from exoform.engine.exchange import DEFAULT_POLICY, OBJECT_TYPES, SANDBOX_ORGANIZATION

# Rule properties exoform reads; Get-TransportRule shows them as null when unset.
RULE_NULL_PROPERTIES = (
    "SentToScope", "FromScope", "SenderIpRanges", "ExceptIfSenderIpRanges", "RemoveHeader",
    "SetHeaderName", "SetHeaderValue", "RouteMessageOutboundConnector", "BlindCopyTo", "SentTo",
    "SentToMemberOf", "From", "FromMemberOf", "HeaderContainsMessageHeader", "HeaderContainsWords",
    "ExceptIfHeaderContainsMessageHeader", "ExceptIfHeaderContainsWords", "ExceptIfSentTo", "ExceptIfFrom",
)


def _inbound_defaults() -> dict[str, Any]:
    return {
        "AssociatedAcceptedDomains": [], "ClientHostNames": [], "CloudServicesMailEnabled": False,
        "Comment": None, "ConnectorSource": "Default", "ConnectorType": "Partner",
        "EFSkipIPs": [], "EFSkipLastIP": False, "EFSkipMailGateway": [], "EFTestMode": False,
        "EFUsers": [], "Enabled": True, "RequireTls": True, "RestrictDomainsToCertificate": False,
        "RestrictDomainsToIPAddresses": False, "ScanAndDropRecipients": [], "SenderDomains": [],
        "SenderIPAddresses": [], "TlsSenderCertificateName": None,
        "TreatMessagesAsInternal": False, "TrustedOrganizations": [],
    }


def _outbound_defaults() -> dict[str, Any]:
    return {
        "AllAcceptedDomains": False, "CloudServicesMailEnabled": False, "Comment": None,
        "ConnectorSource": "Default", "ConnectorType": "Partner", "Enabled": True,
        "IsTransportRuleScoped": False, "IsValidated": False, "LastValidationTimestamp": None,
        "RecipientDomains": [], "RouteAllMessagesViaOnPremises": False,
        "SenderRewritingEnabled": False, "SmartHosts": [], "TestMode": False, "TlsDomain": None,
        "TlsSettings": None, "UseMXRecord": True, "ValidationRecipients": [],
    }


def _rule_defaults() -> dict[str, Any]:
    defaults: dict[str, Any] = {name: None for name in RULE_NULL_PROPERTIES}
    defaults.update({
        "Comments": None, "Mode": "Enforce", "RuleErrorAction": "Ignore",
        "SenderAddressLocation": "Header", "State": "Enabled", "StopRuleProcessing": False,
    })
    return defaults


def _rule_shown() -> dict[str, Any]:
    """What Get-TransportRule shows of a rule: every condition, exception, action and setting
    (null, False or the setting's default when unset), so exoform sees an admin's additions."""
    shown: dict[str, Any] = {name: None for name in RULE_LIST_PROPERTIES | RULE_TEXT_PROPERTIES}
    shown.update({name: False for name in RULE_BOOL_PROPERTIES})
    shown.update(RULE_SETTING_DEFAULTS)
    shown.update(_rule_defaults())
    return shown


def _policy_defaults() -> dict[str, Any]:
    return {"AdminDisplayName": "", "EnableSafeList": False, "IPAllowList": [], "IPBlockList": []}


DEFAULTS: dict[str, Callable[[], dict[str, Any]]] = {
    "InboundConnector": _inbound_defaults,
    "OutboundConnector": _outbound_defaults,
    "TransportRule": _rule_defaults,
    "HostedConnectionFilterPolicy": _policy_defaults,
}
# Get- shows more than a new object stores (the file keeps what was set, and the basics).
SHOWN: dict[str, Callable[[], dict[str, Any]]] = {**DEFAULTS, "TransportRule": _rule_shown}


def stable_guid(exchange_type: str, name: str) -> str:
    """A Guid derived from type and name, for objects written without one, so that reading an
    untouched file twice gives the same Guid."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:exoform-sandbox:{exchange_type}:{name.lower()}"))


def empty_tenant() -> dict[str, Any]:
    """The tenant a missing sandbox file stands for: no connectors or rules, a Default policy."""
    policy = {
        **_policy_defaults(),
        "Name": DEFAULT_POLICY,
        "Identity": DEFAULT_POLICY,
        "Guid": stable_guid("HostedConnectionFilterPolicy", DEFAULT_POLICY),
        "IsDefault": True,
    }
    return {
        "organization": SANDBOX_ORGANIZATION,
        "accepted_domains": [SANDBOX_ORGANIZATION],
        "recipients": [],
        "InboundConnector": [],
        "OutboundConnector": [],
        "TransportRule": [],
        "HostedConnectionFilterPolicy": [policy],
    }


def dump_tenant(document: Mapping[str, Any]) -> str:
    """The canonical file text of a tenant document: sorted keys, two-space indent, final newline.

    Writing the same document twice gives identical bytes, which the apply/destroy round-trip
    tests rely on.
    """
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def document_issues(document: Mapping[str, Any]) -> list[Issue]:
    """What a JSON Schema cannot say about a tenant document: names unique per type, ignoring case."""
    issues: list[Issue] = []
    for exchange_type in OBJECT_TYPES:
        seen: dict[str, int] = {}
        for index, obj in enumerate(document.get(exchange_type) or []):
            key = str(obj.get("Name", "")).lower()
            if key in seen:
                issues.append(Issue(
                    f"{exchange_type}[{index}].Name",
                    f"duplicate name '{obj.get('Name')}' (also {exchange_type}[{seen[key]}]);"
                    " Exchange names are unique ignoring case",
                ))
            seen.setdefault(key, index)
    return issues


def normalize_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy with every top-level key present and rules in priority order, 0..N-1."""
    doc = copy.deepcopy(dict(document))
    organization = doc.setdefault("organization", SANDBOX_ORGANIZATION)
    doc.setdefault("accepted_domains", [organization])
    doc.setdefault("recipients", [])
    for exchange_type in OBJECT_TYPES:
        if exchange_type not in doc:
            # A file that never mentions policies still has the Default one, like every tenant.
            fallback = empty_tenant()[exchange_type]
            doc[exchange_type] = fallback
    rules = doc["TransportRule"]
    order = sorted(range(len(rules)), key=lambda i: (_priority_key(rules[i]), i))
    doc["TransportRule"] = [rules[i] for i in order]
    renumber(doc["TransportRule"])
    return doc


def _priority_key(rule: Mapping[str, Any]) -> float:
    priority = rule.get("Priority")
    return float(priority) if isinstance(priority, int) else float("inf")


def renumber(rules: list[dict[str, Any]]) -> None:
    for index, rule in enumerate(rules):
        rule["Priority"] = index


def view(exchange_type: str, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The Get- output of a stored object: defaults, then what is stored, then identity."""
    name = str(stored["Name"])
    shown = {**SHOWN[exchange_type](), **copy.deepcopy(dict(stored))}
    shown["Identity"] = name
    shown["Guid"] = stored.get("Guid") or stable_guid(exchange_type, name)
    if exchange_type == "HostedConnectionFilterPolicy":
        shown.setdefault("IsDefault", name.lower() == DEFAULT_POLICY.lower())
    return shown


def index_of(objects: Sequence[Mapping[str, Any]], obj: Mapping[str, Any]) -> int:
    """Position of this very object (not an equal one) in its list."""
    return next(i for i, candidate in enumerate(objects) if candidate is obj)


def replace(objects: list[dict[str, Any]], old: Mapping[str, Any], new: dict[str, Any]) -> None:
    objects[index_of(objects, old)] = new
