"""An in-memory interpreter of the Exchange Online cmdlets exoform uses, over a tenant document.

The sandbox provider and the HTTP emulator both run cmdlets through `TenantModel`, so both enforce
the server-side rules of DESIGN.md section 4 and answer with the same typed errors, each carrying
the Exchange exception type name a real tenant would put in `details[0].message`.
"""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.errors import (
    AlreadyExists,
    Issue,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    ProviderError,
    StillReferenced,
    ValidationFailed,
)
from exoform.engine.exchange import (
    DEFAULT_POLICY,
    EX_ALREADY_EXISTS,
    EX_COMMAND_NOT_FOUND,
    EX_DATA_VALIDATION,
    EX_NOT_FOUND,
    EX_PARAMETER_BINDING,
    EX_STILL_REFERENCED,
    EX_TOO_MANY_RULES,
    MAX_ALLOWLIST_ENTRIES,
    MAX_NAME_LENGTH,
    MAX_POLICY_DISPLAY_NAME,
    MAX_RULE_COMMENTS,
    MAX_TRANSPORT_RULES,
    READ_TYPES,
    RESERVED_HEADER_PREFIXES,
    SANDBOX_ORGANIZATION,
    reserved_header_prefix,
)
from exoform.engine.ipv4 import ALLOW_LIST_IPS, CONNECTOR_IPS, RULE_IPS, IpRule, entry_error


#: Which exoform error class each exception type above stands for.
EXCEPTION_TYPE_CLASSES: dict[str, type[ProviderError]] = {
    EX_NOT_FOUND: NotFound,
    EX_ALREADY_EXISTS: AlreadyExists,
    EX_STILL_REFERENCED: StillReferenced,
    EX_TOO_MANY_RULES: LimitExceeded,
    EX_DATA_VALIDATION: ValidationFailed,
    EX_PARAMETER_BINDING: ValidationFailed,
    EX_COMMAND_NOT_FOUND: PermissionDenied,
}

_STATUS: dict[type[ProviderError], int] = {NotFound: 404, PermissionDenied: 403}

# --------------------------------------------------------------------------------------------
# Parameter tables (Microsoft's cmdlet reference, parameters applicable to Exchange Online)
# --------------------------------------------------------------------------------------------

_INBOUND_COMMON = frozenset({
    "AssociatedAcceptedDomains", "CloudServicesMailEnabled", "Comment", "Confirm",
    "ConnectorSource", "ConnectorType", "EFSkipIPs", "EFSkipLastIP", "EFSkipMailGateway",
    "EFTestMode", "EFUsers", "Enabled", "RequireTls", "RestrictDomainsToCertificate",
    "RestrictDomainsToIPAddresses", "ScanAndDropRecipients", "SenderDomains", "SenderIPAddresses",
    "TlsSenderCertificateName", "TreatMessagesAsInternal", "TrustedOrganizations", "WhatIf",
})
_OUTBOUND_COMMON = frozenset({
    "AllAcceptedDomains", "CloudServicesMailEnabled", "Comment", "Confirm", "ConnectorSource",
    "ConnectorType", "Enabled", "IsTransportRuleScoped", "RecipientDomains",
    "RouteAllMessagesViaOnPremises", "SenderRewritingEnabled", "SmartHosts", "TestMode",
    "TlsDomain", "TlsSettings", "UseMXRecord", "WhatIf",
})

# Transport rule conditions; each has an ExceptIf twin (the exception).
_RULE_CONDITION_LISTS = (
    "AnyOfCcHeader", "AnyOfCcHeaderMemberOf", "AnyOfRecipientAddressContainsWords",
    "AnyOfRecipientAddressMatchesPatterns", "AnyOfToCcHeader", "AnyOfToCcHeaderMemberOf",
    "AnyOfToHeader", "AnyOfToHeaderMemberOf", "AttachmentContainsWords",
    "AttachmentExtensionMatchesWords", "AttachmentMatchesPatterns", "AttachmentNameMatchesPatterns",
    "AttachmentPropertyContainsWords", "BetweenMemberOf1", "BetweenMemberOf2",
    "ContentCharacterSetContainsWords", "From", "FromAddressContainsWords",
    "FromAddressMatchesPatterns", "FromMemberOf", "HeaderContainsWords", "HeaderMatchesPatterns",
    "ManagerAddresses", "MessageContainsDataClassifications", "RecipientADAttributeContainsWords",
    "RecipientADAttributeMatchesPatterns", "RecipientAddressContainsWords",
    "RecipientAddressMatchesPatterns", "RecipientDomainIs", "RecipientInSenderList",
    "SenderADAttributeContainsWords", "SenderADAttributeMatchesPatterns", "SenderDomainIs",
    "SenderInRecipientList", "SenderIpRanges", "SentTo", "SentToMemberOf", "SubjectContainsWords",
    "SubjectMatchesPatterns", "SubjectOrBodyContainsWords", "SubjectOrBodyMatchesPatterns",
)
_RULE_CONDITION_BOOLS = (
    "AttachmentHasExecutableContent", "AttachmentIsPasswordProtected", "AttachmentIsUnsupported",
    "AttachmentProcessingLimitExceeded", "HasNoClassification", "HasSenderOverride",
)
_RULE_CONDITION_SCALARS = (
    "ADComparisonAttribute", "ADComparisonOperator", "AttachmentSizeOver", "FromScope",
    "HasClassification", "HeaderContainsMessageHeader", "HeaderMatchesMessageHeader",
    "ManagerForEvaluatedUser", "MessageSizeOver", "MessageTypeMatches", "SCLOver",
    "SenderManagementRelationship", "SentToScope", "WithImportance",
)
_RULE_ACTION_LISTS = (
    "AddToRecipients", "BlindCopyTo", "CopyTo", "IncidentReportContent", "ModerateMessageByUser",
    "RedirectMessageTo",
)
_RULE_ACTION_BOOLS = (
    "ApplyOME", "DeleteMessage", "Disconnect", "ModerateMessageByManager", "Quarantine",
    "RemoveOME", "RemoveOMEv2", "RemoveRMSAttachmentEncryption", "RouteMessageOutboundRequireTls",
    "StopRuleProcessing",
)
_RULE_ACTION_SCALARS = (
    "AddManagerAsRecipientType", "ApplyClassification", "ApplyHtmlDisclaimerFallbackAction",
    "ApplyHtmlDisclaimerLocation", "ApplyHtmlDisclaimerText",
    "ApplyRightsProtectionCustomizationTemplate", "ApplyRightsProtectionTemplate",
    "GenerateIncidentReport", "GenerateNotification", "LogEventText", "NotifySender",
    "PrependSubject", "RejectMessageEnhancedStatusCode", "RejectMessageReasonText", "RemoveHeader",
    "RouteMessageOutboundConnector", "SetAuditSeverity", "SetHeaderName", "SetHeaderValue",
    "SetSCL", "SmtpRejectMessageRejectStatusCode", "SmtpRejectMessageRejectText",
)
_RULE_SETTINGS = (
    "ActivationDate", "Comments", "Confirm", "DlpPolicy", "ExpiryDate", "Mode", "Priority",
    "RecipientAddressType", "RuleErrorAction", "RuleSubType", "SenderAddressLocation", "WhatIf",
)


def _with_exceptions(names: Iterable[str]) -> frozenset[str]:
    """Condition names plus their `ExceptIf` twins."""
    names = tuple(names)
    return frozenset(names) | frozenset("ExceptIf" + name for name in names)


_RULE_CONDITIONS = _with_exceptions(
    _RULE_CONDITION_LISTS + _RULE_CONDITION_BOOLS + _RULE_CONDITION_SCALARS
)
_RULE_COMMON = (
    _RULE_CONDITIONS
    | frozenset(_RULE_ACTION_LISTS + _RULE_ACTION_BOOLS + _RULE_ACTION_SCALARS + _RULE_SETTINGS)
)
_IDENTITY_ONLY = frozenset({"Identity", "Confirm", "WhatIf"})

#: For each cmdlet, exactly the parameter names Microsoft documents for Exchange Online
#: (on-premises-only ones such as DomainController and IncidentReportOriginalMail are left out).
ALLOWED_PARAMETERS: dict[str, frozenset[str]] = {
    "Get-InboundConnector": frozenset({"Identity", "ResultSize"}),
    "New-InboundConnector": _INBOUND_COMMON | {"Name", "ClientHostNames"},
    "Set-InboundConnector": _INBOUND_COMMON | {"Identity", "Name"},
    "Remove-InboundConnector": _IDENTITY_ONLY,
    "Get-OutboundConnector": frozenset(
        {"Identity", "IncludeTestModeConnectors", "IsTransportRuleScoped", "ResultSize"}
    ),
    "New-OutboundConnector": _OUTBOUND_COMMON
    | {"Name", "LinkForModifiedConnector", "MtaStsMode", "SmtpDaneMode"},
    "Set-OutboundConnector": _OUTBOUND_COMMON
    | {"Identity", "Name", "IsValidated", "LastValidationTimestamp", "ValidationRecipients"},
    "Remove-OutboundConnector": _IDENTITY_ONLY,
    "Get-TransportRule": frozenset(
        {"Identity", "State", "DlpPolicy", "ExcludeConditionActionDetails", "Filter", "ResultSize"}
    ),
    "New-TransportRule": _RULE_COMMON | {"Name", "Enabled", "UseLegacyRegex"},
    "Set-TransportRule": _RULE_COMMON | {"Identity", "Name"},
    "Remove-TransportRule": _IDENTITY_ONLY,
    "Enable-TransportRule": _IDENTITY_ONLY | {"Mode"},
    "Disable-TransportRule": _IDENTITY_ONLY,
    "Get-HostedConnectionFilterPolicy": frozenset({"Identity"}),
    "Set-HostedConnectionFilterPolicy": frozenset({
        "Identity", "AdminDisplayName", "ConfigurationXmlRaw", "Confirm", "EnableSafeList",
        "IPAllowList", "IPBlockList", "MakeDefault", "WhatIf",
    }),
}

_MANDATORY: dict[str, tuple[str, ...]] = {
    "New-InboundConnector": ("Name", "SenderDomains"),
    "New-OutboundConnector": ("Name",),
    "New-TransportRule": ("Name",),
}

_CANONICAL_CMDLETS = {name.lower(): name for name in ALLOWED_PARAMETERS}
_CANONICAL_PARAMS = {
    cmdlet: {param.lower(): param for param in params} for cmdlet, params in ALLOWED_PARAMETERS.items()
}

# --------------------------------------------------------------------------------------------
# Parameter kinds: how a value is checked and stored
# --------------------------------------------------------------------------------------------

_SWITCHES = frozenset({"Confirm", "WhatIf", "MakeDefault"})
_BOOLS = _SWITCHES | frozenset({
    "CloudServicesMailEnabled", "EFSkipLastIP", "EFTestMode", "Enabled", "RequireTls",
    "RestrictDomainsToCertificate", "RestrictDomainsToIPAddresses", "TreatMessagesAsInternal",
    "AllAcceptedDomains", "IsTransportRuleScoped", "RouteAllMessagesViaOnPremises",
    "SenderRewritingEnabled", "TestMode", "UseMXRecord", "IsValidated",
    "IncludeTestModeConnectors", "EnableSafeList", "UseLegacyRegex",
    "ExcludeConditionActionDetails",
}) | _with_exceptions(_RULE_CONDITION_BOOLS) | frozenset(_RULE_ACTION_BOOLS)
_LISTS = frozenset({
    "SenderDomains", "SenderIPAddresses", "AssociatedAcceptedDomains", "ClientHostNames",
    "EFSkipIPs", "EFSkipMailGateway", "EFUsers", "ScanAndDropRecipients", "TrustedOrganizations",
    "RecipientDomains", "SmartHosts", "ValidationRecipients", "IPAllowList", "IPBlockList",
}) | _with_exceptions(_RULE_CONDITION_LISTS) | frozenset(_RULE_ACTION_LISTS)
_INTS = frozenset({"Priority"})
_SCOPES = ("InOrganization", "NotInOrganization")
_ENUMS: dict[str, tuple[str, ...]] = {
    "ConnectorType": ("Partner", "OnPremises"),
    "ConnectorSource": ("Default", "HybridWizard", "Migrated", "AdminUI"),
    "TlsSettings": ("EncryptionOnly", "CertificateValidation", "DomainValidation"),
    "MtaStsMode": ("Opportunistic", "None"),
    "SmtpDaneMode": ("Opportunistic", "Mandatory"),
    "Mode": ("Audit", "AuditAndNotify", "Enforce"),
    "RuleErrorAction": ("Ignore", "Defer"),
    "SenderAddressLocation": ("Header", "Envelope", "HeaderOrEnvelope"),
    "State": ("Enabled", "Disabled"),
    "SentToScope": _SCOPES,
    "FromScope": _SCOPES,
    "ExceptIfSentToScope": _SCOPES,
    "ExceptIfFromScope": _SCOPES,
}
# Values that cannot be cleared with $null (PowerShell cannot bind null to them).
_NOT_NULLABLE = _BOOLS | _INTS | frozenset({
    "Name", "Identity", "ConnectorType", "ConnectorSource", "MtaStsMode", "SmtpDaneMode", "Mode",
    "RuleErrorAction", "SenderAddressLocation", "State",
})
# Parameters that steer the cmdlet and are not stored as properties of the object.
_NOT_STORED = frozenset({"Identity", "Confirm", "WhatIf", "MakeDefault", "Priority"})

# Recipient-valued rule conditions that must resolve in the tenant's directory: value is
# whether the recipient must be a group.
_RECIPIENT_CONDITIONS = {
    "SentTo": False, "From": False, "ExceptIfSentTo": False, "ExceptIfFrom": False,
    "SentToMemberOf": True, "FromMemberOf": True,
    "ExceptIfSentToMemberOf": True, "ExceptIfFromMemberOf": True,
}
# Header conditions/actions that only make sense as a pair.
_RULE_PAIRS = (
    ("SetHeaderName", "SetHeaderValue"),
    ("HeaderContainsMessageHeader", "HeaderContainsWords"),
    ("ExceptIfHeaderContainsMessageHeader", "ExceptIfHeaderContainsWords"),
    ("HeaderMatchesMessageHeader", "HeaderMatchesPatterns"),
    ("ExceptIfHeaderMatchesMessageHeader", "ExceptIfHeaderMatchesPatterns"),
)

# --------------------------------------------------------------------------------------------
# Default shapes of Get- output
# --------------------------------------------------------------------------------------------

# Rule properties exoform reads; Get-TransportRule shows them as null when unset.
RULE_NULL_PROPERTIES = (
    "SentToScope", "FromScope", "SenderIpRanges", "ExceptIfSenderIpRanges", "RemoveHeader",
    "SetHeaderName", "SetHeaderValue", "RouteMessageOutboundConnector", "BlindCopyTo", "SentTo",
    "SentToMemberOf", "From", "FromMemberOf", "HeaderContainsMessageHeader", "HeaderContainsWords",
    "ExceptIfHeaderContainsMessageHeader", "ExceptIfHeaderContainsWords",
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


def _policy_defaults() -> dict[str, Any]:
    return {"AdminDisplayName": "", "EnableSafeList": False, "IPAllowList": [], "IPBlockList": []}


_DEFAULTS: dict[str, Callable[[], dict[str, Any]]] = {
    "InboundConnector": _inbound_defaults,
    "OutboundConnector": _outbound_defaults,
    "TransportRule": _rule_defaults,
    "HostedConnectionFilterPolicy": _policy_defaults,
}
# Types whose unset multi-valued properties read back as [] (rules show null instead).
_EMPTY_LIST_TYPES = frozenset({"InboundConnector", "OutboundConnector", "HostedConnectionFilterPolicy"})


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
    for exchange_type in READ_TYPES:
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


def _normalize_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy with every top-level key present and rules in priority order, 0..N-1."""
    doc = copy.deepcopy(dict(document))
    organization = doc.setdefault("organization", SANDBOX_ORGANIZATION)
    doc.setdefault("accepted_domains", [organization])
    doc.setdefault("recipients", [])
    for exchange_type in READ_TYPES:
        if exchange_type not in doc:
            # A file that never mentions policies still has the Default one, like every tenant.
            fallback = empty_tenant()[exchange_type]
            doc[exchange_type] = fallback
    rules = doc["TransportRule"]
    order = sorted(range(len(rules)), key=lambda i: (_priority_key(rules[i]), i))
    doc["TransportRule"] = [rules[i] for i in order]
    _renumber(doc["TransportRule"])
    return doc


def _priority_key(rule: Mapping[str, Any]) -> float:
    priority = rule.get("Priority")
    return float(priority) if isinstance(priority, int) else float("inf")


def _renumber(rules: list[dict[str, Any]]) -> None:
    for index, rule in enumerate(rules):
        rule["Priority"] = index


# --------------------------------------------------------------------------------------------
# One call in progress
# --------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    """The cmdlet being run, its bound parameters, and how to word an error about it."""

    cmdlet: str
    identity: str
    params: dict[str, Any]

    @property
    def noun(self) -> str:
        return self.cmdlet.split("-", 1)[1]

    def error(self, cls: type[ProviderError], message: str, exception_type: str) -> ProviderError:
        return cls(
            message,
            cmdlet=self.cmdlet,
            identity=self.identity,
            exception_type=exception_type,
            status=_STATUS.get(cls, 400),
        )

    def invalid(self, message: str) -> ProviderError:
        return self.error(ValidationFailed, message, EX_DATA_VALIDATION)

    def binding(self, message: str) -> ProviderError:
        return self.error(ValidationFailed, message, EX_PARAMETER_BINDING)


Handler = Callable[["TenantModel", _Ctx], "list[dict[str, Any]]"]


class TenantModel:
    """Runs Exchange cmdlets against a tenant document held in memory.

    A failed call changes nothing: mutating handlers run on the live document, but `invoke`
    restores a snapshot on any error, so partial work can never leak into the tenant.
    """

    def __init__(
        self, document: Mapping[str, Any], new_guid: Callable[[], str] | None = None
    ) -> None:
        self._doc = _normalize_document(document)
        self._new_guid = new_guid or (lambda: str(uuid.uuid4()))

    def document(self) -> dict[str, Any]:
        """A deep, JSON-serialisable copy of the tenant with sorted keys."""
        result: dict[str, Any] = json.loads(dump_tenant(self._doc))
        return result

    def invoke(self, call: CmdletCall) -> list[dict[str, Any]]:
        """Run one cmdlet; returns its output objects (New-* returns the created object)."""
        cmdlet = _CANONICAL_CMDLETS.get(call.name.lower())
        if cmdlet is None:
            raise PermissionDenied(
                f"The term '{call.name}' is not recognized as the name of a cmdlet this account"
                " can run.",
                cmdlet=call.name, identity=call.identity,
                exception_type=EX_COMMAND_NOT_FOUND, status=403,
            )
        ctx = _Ctx(cmdlet, call.identity, {})
        ctx.params = _bind(ctx, call)
        handler = _HANDLERS[cmdlet]
        if cmdlet.startswith("Get-"):
            return handler(self, ctx)
        snapshot = copy.deepcopy(self._doc)
        try:
            result = handler(self, ctx)
        except BaseException:
            self._doc = snapshot
            raise
        if ctx.params.get("WhatIf"):
            # -WhatIf validates everything and then keeps nothing, as Exchange does.
            self._doc = snapshot
            return []
        return result

    # ---- lookups -------------------------------------------------------------------------

    def _objects(self, exchange_type: str) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = self._doc[exchange_type]
        return objects

    def _find(self, exchange_type: str, identity: str) -> dict[str, Any] | None:
        wanted = str(identity).lower()
        for obj in self._objects(exchange_type):
            name = str(obj.get("Name", "")).lower()
            guid = str(obj.get("Guid") or stable_guid(exchange_type, name)).lower()
            if wanted in (name, guid):
                return obj
        return None

    def _resolve(self, ctx: _Ctx, exchange_type: str) -> dict[str, Any]:
        identity = ctx.params["Identity"]
        obj = self._find(exchange_type, identity)
        if obj is None:
            raise ctx.error(
                NotFound,
                f"The operation couldn't be performed because object '{identity}' couldn't be"
                f" found on '{self._doc['organization']}'.",
                EX_NOT_FOUND,
            )
        return obj

    def _view(self, exchange_type: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        """The Get- output of a stored object: defaults, then what is stored, then identity."""
        name = str(stored["Name"])
        view = {**_DEFAULTS[exchange_type](), **copy.deepcopy(dict(stored))}
        view["Identity"] = name
        view["Guid"] = stored.get("Guid") or stable_guid(exchange_type, name)
        if exchange_type == "HostedConnectionFilterPolicy":
            view.setdefault("IsDefault", name.lower() == DEFAULT_POLICY.lower())
        return view

    def _check_unique(self, ctx: _Ctx, exchange_type: str, name: str, current: Any = None) -> None:
        other = self._find(exchange_type, name)
        if other is not None and other is not current:
            raise ctx.error(
                AlreadyExists,
                f"An object named '{name}' already exists ({exchange_type}). Names must be"
                " unique.",
                EX_ALREADY_EXISTS,
            )

    # ---- Get ------------------------------------------------------------------------------

    def _get(self, ctx: _Ctx) -> list[dict[str, Any]]:
        noun = ctx.noun
        filters = {
            name: _coerce(ctx, name, value, None)
            for name, value in ctx.params.items()
            if name != "Identity" and value is not None
        }
        if ctx.params.get("Identity") is not None:
            selected = [self._resolve(ctx, noun)]
        else:
            # Like Exchange, a missing (or null) Identity returns every object.
            selected = list(self._objects(noun))
        views = [self._view(noun, obj) for obj in selected]
        return [view for view in views if _passes_filters(filters, view)]

    # ---- connectors -------------------------------------------------------------------------

    def _new_connector(self, ctx: _Ctx) -> list[dict[str, Any]]:
        noun = ctx.noun
        name = ctx.params["Name"]
        self._check_unique(ctx, noun, name)
        obj = {**_DEFAULTS[noun](), "Name": name, "Identity": name, "Guid": self._new_guid()}
        obj.update(_coerce_all(ctx, obj))
        _CONNECTOR_CHECKS[noun](self, ctx, obj)
        self._objects(noun).append(obj)
        return [self._view(noun, obj)]

    def _set_connector(self, ctx: _Ctx) -> list[dict[str, Any]]:
        noun = ctx.noun
        stored = self._resolve(ctx, noun)
        obj = self._view(noun, stored)
        obj.update(_coerce_all(ctx, obj))
        if obj["Name"] != stored["Name"]:
            self._check_unique(ctx, noun, obj["Name"], current=stored)
        if noun == "OutboundConnector":
            self._check_references_kept(ctx, stored, obj)
        _CONNECTOR_CHECKS[noun](self, ctx, obj)
        obj["Identity"] = obj["Name"]
        _replace(self._objects(noun), stored, obj)
        return []

    def _remove(self, ctx: _Ctx) -> list[dict[str, Any]]:
        noun = ctx.noun
        stored = self._resolve(ctx, noun)
        if noun == "OutboundConnector":
            self._refuse_if_referenced(ctx, stored, "removed")
        objects = self._objects(noun)
        del objects[_index_of(objects, stored)]
        if noun == "TransportRule":
            _renumber(objects)
        return []

    def _check_inbound(self, ctx: _Ctx, obj: dict[str, Any]) -> None:
        _check_ip_list(ctx, obj, "SenderIPAddresses", CONNECTOR_IPS)
        if not obj["SenderDomains"]:
            raise ctx.invalid("SenderDomains can't be empty: specify at least one sender domain.")
        has_ips, has_cert = bool(obj["SenderIPAddresses"]), bool(obj["TlsSenderCertificateName"])
        if obj["ConnectorType"] == "OnPremises" and not (has_ips or has_cert):
            raise ctx.invalid(
                "An OnPremises connector must specify SenderIPAddresses or"
                " TlsSenderCertificateName to identify the sending server."
            )
        if obj["RestrictDomainsToIPAddresses"] and obj["RestrictDomainsToCertificate"]:
            raise ctx.invalid(
                "RestrictDomainsToIPAddresses and RestrictDomainsToCertificate can't both be $true."
            )
        if obj["RestrictDomainsToIPAddresses"] and not has_ips:
            raise ctx.invalid("RestrictDomainsToIPAddresses $true requires SenderIPAddresses.")
        if obj["RestrictDomainsToCertificate"] and not has_cert:
            raise ctx.invalid("RestrictDomainsToCertificate $true requires TlsSenderCertificateName.")

    def _check_outbound(self, ctx: _Ctx, obj: dict[str, Any]) -> None:
        _check_name_length(ctx, obj["Name"], "connector")
        scoped = bool(obj["IsTransportRuleScoped"])
        has_domains = bool(obj["RecipientDomains"]) or bool(obj["AllAcceptedDomains"])
        if scoped and has_domains:
            raise ctx.invalid(
                "A connector scoped to transport rules (IsTransportRuleScoped $true) can't also"
                " have RecipientDomains or AllAcceptedDomains."
            )
        if not scoped and not has_domains:
            raise ctx.invalid(
                "Specify RecipientDomains (or AllAcceptedDomains), or set IsTransportRuleScoped"
                " to $true so that transport rules can route to the connector."
            )
        if not obj["UseMXRecord"] and not obj["SmartHosts"]:
            raise ctx.invalid("SmartHosts is required when UseMXRecord is $false.")
        if obj["UseMXRecord"] and obj["SmartHosts"]:
            raise ctx.invalid("SmartHosts can't be set when UseMXRecord is $true.")
        if obj["TlsSettings"] == "DomainValidation" and not obj["TlsDomain"]:
            raise ctx.invalid("TlsDomain is required when TlsSettings is DomainValidation.")

    def _referencing_rules(self, connector_name: str) -> list[str]:
        key = connector_name.lower()
        return [
            str(rule["Name"])
            for rule in self._objects("TransportRule")
            if str(rule.get("RouteMessageOutboundConnector") or "").lower() == key
        ]

    def _refuse_if_referenced(self, ctx: _Ctx, connector: Mapping[str, Any], change: str) -> None:
        rules = self._referencing_rules(str(connector["Name"]))
        if rules:
            listed = ", ".join(f"'{name}'" for name in rules)
            raise ctx.error(
                StillReferenced,
                f"Outbound connector '{connector['Name']}' can't be {change} because transport"
                f" rule(s) {listed} route messages through it (RouteMessageOutboundConnector)."
                " Change or remove those rules first.",
                EX_STILL_REFERENCED,
            )

    def _check_references_kept(
        self, ctx: _Ctx, stored: Mapping[str, Any], obj: Mapping[str, Any]
    ) -> None:
        if str(obj["Name"]).lower() != str(stored["Name"]).lower():
            self._refuse_if_referenced(ctx, stored, "renamed")
        if not obj["Enabled"]:
            self._refuse_if_referenced(ctx, stored, "disabled")
        if not obj["IsTransportRuleScoped"]:
            self._refuse_if_referenced(ctx, stored, "unscoped from transport rules")

    # ---- transport rules ----------------------------------------------------------------------

    def _new_rule(self, ctx: _Ctx) -> list[dict[str, Any]]:
        rules = self._objects("TransportRule")
        if len(rules) >= MAX_TRANSPORT_RULES:
            raise ctx.error(
                LimitExceeded,
                f"The organization already has the maximum of {MAX_TRANSPORT_RULES} transport"
                " rules. Remove a rule before creating another.",
                EX_TOO_MANY_RULES,
            )
        name = ctx.params["Name"]
        self._check_unique(ctx, "TransportRule", name)
        position = _priority_param(ctx, default=len(rules), highest=len(rules))
        rule = {**_rule_defaults(), "Name": name, "Identity": name, "Guid": self._new_guid()}
        rule.update(_coerce_all(ctx, rule))
        if rule.pop("Enabled", True) is False:
            rule["State"] = "Disabled"
        self._check_rule(ctx, rule)
        rules.insert(position, rule)
        _renumber(rules)
        return [self._view("TransportRule", rule)]

    def _set_rule(self, ctx: _Ctx) -> list[dict[str, Any]]:
        rules = self._objects("TransportRule")
        stored = self._resolve(ctx, "TransportRule")
        position = _priority_param(ctx, default=_index_of(rules, stored), highest=len(rules) - 1)
        rule = self._view("TransportRule", stored)
        rule.update(_coerce_all(ctx, rule))
        if rule["Name"] != stored["Name"]:
            self._check_unique(ctx, "TransportRule", rule["Name"], current=stored)
        self._check_rule(ctx, rule)
        rule["Identity"] = rule["Name"]
        del rules[_index_of(rules, stored)]
        rules.insert(position, rule)
        _renumber(rules)
        return []

    def _enable_rule(self, ctx: _Ctx) -> list[dict[str, Any]]:
        return self._set_state(ctx, "Enabled")

    def _disable_rule(self, ctx: _Ctx) -> list[dict[str, Any]]:
        return self._set_state(ctx, "Disabled")

    def _set_state(self, ctx: _Ctx, state: str) -> list[dict[str, Any]]:
        stored = self._resolve(ctx, "TransportRule")
        rule = self._view("TransportRule", stored)
        rule["State"] = state
        if ctx.params.get("Mode") is not None:
            rule["Mode"] = _coerce(ctx, "Mode", ctx.params["Mode"], rule.get("Mode"))
        _replace(self._objects("TransportRule"), stored, rule)
        return []

    def _check_rule(self, ctx: _Ctx, rule: dict[str, Any]) -> None:
        _check_name_length(ctx, rule["Name"], "rule")
        if len(str(rule.get("Comments") or "")) > MAX_RULE_COMMENTS:
            raise ctx.invalid(f"Comments can't be longer than {MAX_RULE_COMMENTS} characters.")
        for first, second in _RULE_PAIRS:
            if (rule.get(first) in (None, "", [])) != (rule.get(second) in (None, "", [])):
                raise ctx.invalid(f"{first} and {second} must be used together.")
        for header_param in ("SetHeaderName", "RemoveHeader"):
            _check_header_name(ctx, header_param, rule.get(header_param))
        for ip_param in ("SenderIpRanges", "ExceptIfSenderIpRanges"):
            if ip_param in ctx.params:
                _check_ip_list(ctx, rule, ip_param, RULE_IPS)
        for param, want_group in _RECIPIENT_CONDITIONS.items():
            if ctx.params.get(param) is not None:
                rule[param] = self._resolve_recipients(ctx, rule[param] or [], want_group)
        if ctx.params.get("RouteMessageOutboundConnector") is not None:
            rule["RouteMessageOutboundConnector"] = self._route_target(
                ctx, str(ctx.params["RouteMessageOutboundConnector"])
            )

    def _route_target(self, ctx: _Ctx, identity: str) -> str:
        """The name of the connector a rule may route to; it must exist, be enabled and be scoped
        to transport rules."""
        connector = self._find("OutboundConnector", identity)
        if connector is None:
            raise ctx.invalid(
                f"RouteMessageOutboundConnector: the outbound connector '{identity}' doesn't exist."
            )
        view = self._view("OutboundConnector", connector)
        if not view["Enabled"] or not view["IsTransportRuleScoped"]:
            raise ctx.invalid(
                f"RouteMessageOutboundConnector: the outbound connector '{view['Name']}' must be"
                " enabled and have IsTransportRuleScoped set to $true."
            )
        return str(view["Name"])

    def _resolve_recipients(self, ctx: _Ctx, values: Sequence[str], want_group: bool) -> list[str]:
        by_address = {
            str(r.get("address", "")).lower(): r for r in self._doc.get("recipients") or []
        }
        resolved = []
        for value in values:
            recipient = by_address.get(str(value).lower())
            is_group = recipient is not None and "group" in str(recipient.get("type", "")).lower()
            if recipient is None or is_group != want_group:
                raise ctx.error(
                    NotFound,
                    f"Couldn't find {'group' if want_group else 'recipient'} object \"{value}\"."
                    " Please make sure that it was spelled correctly or specify a different"
                    " object.",
                    EX_NOT_FOUND,
                )
            resolved.append(str(recipient["address"]))
        return resolved

    # ---- connection filter policy -----------------------------------------------------------

    def _set_policy(self, ctx: _Ctx) -> list[dict[str, Any]]:
        stored = self._resolve(ctx, "HostedConnectionFilterPolicy")
        policy = self._view("HostedConnectionFilterPolicy", stored)
        policy.update(_coerce_all(ctx, policy))
        for list_param in ("IPAllowList", "IPBlockList"):
            if list_param not in ctx.params:
                continue
            _check_ip_list(ctx, policy, list_param, ALLOW_LIST_IPS)
            if len(policy[list_param]) > MAX_ALLOWLIST_ENTRIES:
                raise ctx.error(
                    LimitExceeded,
                    f"{list_param} can hold at most {MAX_ALLOWLIST_ENTRIES} entries; this change"
                    f" would make it {len(policy[list_param])}.",
                    EX_DATA_VALIDATION,
                )
        if len(str(policy.get("AdminDisplayName") or "")) > MAX_POLICY_DISPLAY_NAME:
            raise ctx.invalid(
                f"AdminDisplayName can't be longer than {MAX_POLICY_DISPLAY_NAME} characters."
            )
        _replace(self._objects("HostedConnectionFilterPolicy"), stored, policy)
        return []


_CONNECTOR_CHECKS: dict[str, Callable[[TenantModel, _Ctx, dict[str, Any]], None]] = {
    "InboundConnector": TenantModel._check_inbound,
    "OutboundConnector": TenantModel._check_outbound,
}

_HANDLERS: dict[str, Handler] = {
    "Get-InboundConnector": TenantModel._get,
    "New-InboundConnector": TenantModel._new_connector,
    "Set-InboundConnector": TenantModel._set_connector,
    "Remove-InboundConnector": TenantModel._remove,
    "Get-OutboundConnector": TenantModel._get,
    "New-OutboundConnector": TenantModel._new_connector,
    "Set-OutboundConnector": TenantModel._set_connector,
    "Remove-OutboundConnector": TenantModel._remove,
    "Get-TransportRule": TenantModel._get,
    "New-TransportRule": TenantModel._new_rule,
    "Set-TransportRule": TenantModel._set_rule,
    "Remove-TransportRule": TenantModel._remove,
    "Enable-TransportRule": TenantModel._enable_rule,
    "Disable-TransportRule": TenantModel._disable_rule,
    "Get-HostedConnectionFilterPolicy": TenantModel._get,
    "Set-HostedConnectionFilterPolicy": TenantModel._set_policy,
}

# --------------------------------------------------------------------------------------------
# Binding and coercion of parameters
# --------------------------------------------------------------------------------------------


def _bind(ctx: _Ctx, call: CmdletCall) -> dict[str, Any]:
    """Parameters under their documented names; unknown, repeated or missing ones are refused
    the way PowerShell refuses them (names match ignoring case)."""
    canonical = _CANONICAL_PARAMS[ctx.cmdlet]
    bound: dict[str, Any] = {}
    for key, value in call.params:
        name = canonical.get(str(key).lower())
        if name is None:
            raise ctx.binding(f"A parameter cannot be found that matches parameter name '{key}'.")
        if name in bound:
            raise ctx.binding(
                f"Cannot bind parameter because parameter '{name}' is specified more than once."
            )
        bound[name] = value
    required = _MANDATORY.get(ctx.cmdlet, ("Identity",) if not ctx.cmdlet.startswith("Get-") else ())
    missing = [name for name in required if bound.get(name) in (None, "", (), [])]
    if missing:
        raise ctx.binding(
            "Cannot process command because of one or more missing mandatory parameters: "
            + " ".join(missing) + "."
        )
    for name, value in bound.items():
        # Type errors are binding errors: PowerShell raises them before any object is looked up.
        if name in ("Name", "Identity"):
            if value is not None and not isinstance(value, str):
                raise ctx.binding(f"Cannot bind parameter '{name}': expected a string.")
        elif name in _SWITCHES:
            bound[name] = _coerce(ctx, name, value, None)
        else:
            _coerce(ctx, name, value, None)
    return bound


def _coerce_all(ctx: _Ctx, current: Mapping[str, Any]) -> dict[str, Any]:
    """Every stored property the call sets, checked and normalised."""
    return {
        name: _coerce(ctx, name, value, current.get(name))
        for name, value in ctx.params.items()
        if name not in _NOT_STORED
    }


def _coerce(ctx: _Ctx, name: str, value: Any, current: Any) -> Any:
    """One parameter value as Exchange would store it, or a binding error."""
    if value is None:
        if name in _NOT_NULLABLE:
            raise ctx.binding(f"Cannot bind argument to parameter '{name}' because it is null.")
        return [] if name in _LISTS and ctx.noun in _EMPTY_LIST_TYPES else None
    if name in _LISTS:
        return _coerce_list(ctx, name, value, current)
    if isinstance(value, ListEdit):
        raise ctx.binding(f"Parameter '{name}' is not multi-valued; it takes no Add/Remove edit.")
    if name in _BOOLS:
        if not isinstance(value, bool):
            raise ctx.binding(f"Cannot convert value '{value}' of parameter '{name}' to Boolean.")
        return value
    if name in _INTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.binding(f"Cannot convert value '{value}' of parameter '{name}' to Int32.")
        return value
    if name in _ENUMS:
        return _coerce_enum(ctx, name, value)
    if isinstance(value, (list, tuple, dict)):
        raise ctx.binding(f"Parameter '{name}' takes a single value, not a list.")
    return _scalar(ctx, name, value)


def _coerce_list(ctx: _Ctx, name: str, value: Any, current: Any) -> Any:
    if isinstance(value, ListEdit):
        result = _apply_edit(list(current or []), value)
    elif isinstance(value, (list, tuple)):
        result = [_scalar(ctx, name, item) for item in value]
    else:
        # A single value given to a multi-valued parameter is a one-element list.
        result = [_scalar(ctx, name, value)]
    if not result and ctx.noun not in _EMPTY_LIST_TYPES:
        return None
    return result


def _apply_edit(values: list[Any], edit: ListEdit) -> list[Any]:
    """Add/Remove a multi-valued property: removing an absent entry or adding a present one
    changes nothing (entries compare ignoring case)."""
    removed = {str(item).lower() for item in edit.remove}
    kept = [item for item in values if str(item).lower() not in removed]
    present = {str(item).lower() for item in kept}
    for item in edit.add:
        if str(item).lower() not in present:
            kept.append(item)
            present.add(str(item).lower())
    return kept


def _coerce_enum(ctx: _Ctx, name: str, value: Any) -> str:
    allowed = _ENUMS[name]
    for option in allowed:
        if isinstance(value, str) and value.lower() == option.lower():
            return option
    raise ctx.binding(
        f"Cannot process argument transformation on parameter '{name}'. Unable to match the"
        f" identifier name {value} to a valid enumerator name. Specify one of the following"
        f" enumerator names and try again: {', '.join(allowed)}"
    )


def _scalar(ctx: _Ctx, name: str, value: Any) -> Any:
    # Dicts are hashtables (MessageContainsDataClassifications); everything else is text-like.
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return copy.deepcopy(value)
    raise ctx.binding(f"Cannot convert the value of parameter '{name}': expected a plain value.")


def _priority_param(ctx: _Ctx, *, default: int, highest: int) -> int:
    if "Priority" not in ctx.params:
        return default
    priority = _coerce(ctx, "Priority", ctx.params["Priority"], None)
    if not 0 <= priority <= highest:
        raise ctx.invalid(
            f"The value of Priority must be between 0 and {highest}: priority 0 is the highest"
            " and rules can't share a priority."
        )
    return int(priority)


# --------------------------------------------------------------------------------------------
# Checks shared by several cmdlets
# --------------------------------------------------------------------------------------------


def _passes_filters(params: Mapping[str, Any], view: Mapping[str, Any]) -> bool:
    """Get- filters apply only when passed (State, IsTransportRuleScoped, test-mode)."""
    state = params.get("State")
    if isinstance(state, str) and view.get("State", "").lower() != state.lower():
        return False
    scoped = params.get("IsTransportRuleScoped")
    if isinstance(scoped, bool) and bool(view.get("IsTransportRuleScoped")) != scoped:
        return False
    test_mode = params.get("IncludeTestModeConnectors")
    if isinstance(test_mode, bool) and bool(view.get("TestMode")) != test_mode:
        return False
    return True


def _check_name_length(ctx: _Ctx, name: str, what: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise ctx.invalid(
            f"The {what} name '{name}' is {len(name)} characters long; the maximum is"
            f" {MAX_NAME_LENGTH}."
        )


def _check_header_name(ctx: _Ctx, param: str, header: Any) -> None:
    if isinstance(header, str) and reserved_header_prefix(header):
        raise ctx.invalid(
            f"{param}: the header '{header}' is reserved; headers starting with"
            f" {' or '.join(RESERVED_HEADER_PREFIXES)} can't be set or removed."
        )


def _check_ip_list(ctx: _Ctx, obj: Mapping[str, Any], param: str, rule: IpRule) -> None:
    for entry in obj.get(param) or []:
        problem = entry_error(str(entry), rule)
        if problem:
            raise ctx.invalid(f"{param}: {problem}")


def _index_of(objects: Sequence[Mapping[str, Any]], obj: Mapping[str, Any]) -> int:
    """Position of this very object (not an equal one) in its list."""
    return next(i for i, candidate in enumerate(objects) if candidate is obj)


def _replace(objects: list[dict[str, Any]], old: Mapping[str, Any], new: dict[str, Any]) -> None:
    objects[_index_of(objects, old)] = new
