"""Which parameters each cmdlet takes (Microsoft's cmdlet reference, the parameters that apply
to Exchange Online) and of what kind each one is: switch, boolean, list, integer, enumeration,
or text; the rule conditions that name recipients, the parameters that go in pairs, and what a
rule or connector can carry that changes routing or trust (what exoform owns on its objects).
"""
from __future__ import annotations

from typing import Iterable

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
    "Get-AcceptedDomain": frozenset({"Identity", "ResultSize"}),
    "Get-Recipient": frozenset({
        "Identity", "Anr", "Filter", "RecipientType", "RecipientTypeDetails", "ResultSize",
    }),
    "Set-HostedConnectionFilterPolicy": frozenset({
        "Identity", "AdminDisplayName", "ConfigurationXmlRaw", "Confirm", "EnableSafeList",
        "IPAllowList", "IPBlockList", "MakeDefault", "WhatIf",
    }),
}

MANDATORY: dict[str, tuple[str, ...]] = {
    "New-InboundConnector": ("Name", "SenderDomains"),
    "New-OutboundConnector": ("Name",),
    "New-TransportRule": ("Name",),
}

CANONICAL_CMDLETS = {name.lower(): name for name in ALLOWED_PARAMETERS}
CANONICAL_PARAMS = {
    cmdlet: {param.lower(): param for param in params} for cmdlet, params in ALLOWED_PARAMETERS.items()
}

# ---- parameter kinds: how a value is checked and stored ------------------------------------

SWITCHES = frozenset({"Confirm", "WhatIf", "MakeDefault"})
BOOLS = SWITCHES | frozenset({
    "CloudServicesMailEnabled", "EFSkipLastIP", "EFTestMode", "Enabled", "RequireTls",
    "RestrictDomainsToCertificate", "RestrictDomainsToIPAddresses", "TreatMessagesAsInternal",
    "AllAcceptedDomains", "IsTransportRuleScoped", "RouteAllMessagesViaOnPremises",
    "SenderRewritingEnabled", "TestMode", "UseMXRecord", "IsValidated",
    "IncludeTestModeConnectors", "EnableSafeList", "UseLegacyRegex",
    "ExcludeConditionActionDetails",
}) | _with_exceptions(_RULE_CONDITION_BOOLS) | frozenset(_RULE_ACTION_BOOLS)
LISTS = frozenset({
    "SenderDomains", "SenderIPAddresses", "AssociatedAcceptedDomains", "ClientHostNames",
    "EFSkipIPs", "EFSkipMailGateway", "EFUsers", "ScanAndDropRecipients", "TrustedOrganizations",
    "RecipientDomains", "SmartHosts", "ValidationRecipients", "IPAllowList", "IPBlockList",
}) | _with_exceptions(_RULE_CONDITION_LISTS) | frozenset(_RULE_ACTION_LISTS)
INTS = frozenset({"Priority"})
# Multi-valued IP properties: Exchange's IPRange compares entries by their first and last address.
IP_LISTS = frozenset({"SenderIPAddresses", "EFSkipIPs", "IPAllowList", "IPBlockList"}) \
    | _with_exceptions(("SenderIpRanges",))
_SCOPES = ("InOrganization", "NotInOrganization")
ENUMS: dict[str, tuple[str, ...]] = {
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
NOT_NULLABLE = BOOLS | INTS | frozenset({
    "Name", "Identity", "ConnectorType", "ConnectorSource", "MtaStsMode", "SmtpDaneMode", "Mode",
    "RuleErrorAction", "SenderAddressLocation", "State",
})
# Parameters that steer the cmdlet and are not stored as properties of the object.
NOT_STORED = frozenset({"Identity", "Confirm", "WhatIf", "MakeDefault", "Priority"})

# Recipient-valued rule conditions that must resolve in the tenant's directory: value is
# whether the recipient must be a group.
RECIPIENT_CONDITIONS = {
    "SentTo": False, "From": False, "ExceptIfSentTo": False, "ExceptIfFrom": False,
    "SentToMemberOf": True, "FromMemberOf": True,
    "ExceptIfSentToMemberOf": True, "ExceptIfFromMemberOf": True,
}
# Header conditions/actions that only make sense as a pair.
RULE_PAIRS = (
    ("SetHeaderName", "SetHeaderValue"),
    ("HeaderContainsMessageHeader", "HeaderContainsWords"),
    ("ExceptIfHeaderContainsMessageHeader", "ExceptIfHeaderContainsWords"),
    ("HeaderMatchesMessageHeader", "HeaderMatchesPatterns"),
    ("ExceptIfHeaderMatchesMessageHeader", "ExceptIfHeaderMatchesPatterns"),
)
# Types whose unset multi-valued properties read back as [] (rules show null instead).
EMPTY_LIST_TYPES = frozenset({"InboundConnector", "OutboundConnector", "HostedConnectionFilterPolicy"})

# ---- what a transport rule and a connector can carry, for ownership ------------------------

#: Every condition, exception and action of a transport rule, with its kind, plus the settings
#: that change when or how a rule applies (ActivationDate, ExpiryDate, RuleErrorAction,
#: SenderAddressLocation). Everything here that exoform does not set is cleared on its rules.
RULE_LIST_PROPERTIES = _with_exceptions(_RULE_CONDITION_LISTS) | frozenset(_RULE_ACTION_LISTS)
RULE_BOOL_PROPERTIES = _with_exceptions(_RULE_CONDITION_BOOLS) | frozenset(_RULE_ACTION_BOOLS)
RULE_TEXT_PROPERTIES = _with_exceptions(_RULE_CONDITION_SCALARS) | frozenset(_RULE_ACTION_SCALARS) | frozenset({
    "ActivationDate", "ExpiryDate", "RuleErrorAction", "SenderAddressLocation",
})
#: Settings Exchange reports with a value when never set (clearing writes this value back).
RULE_SETTING_DEFAULTS = {"RuleErrorAction": "Ignore", "SenderAddressLocation": "Header"}
#: Connector settings that change routing or trust (Set- takes them; ClientHostNames only New-).
INBOUND_TRUST_BOOLS = ("CloudServicesMailEnabled", "EFSkipLastIP", "EFTestMode", "TreatMessagesAsInternal")
INBOUND_TRUST_LISTS = ("AssociatedAcceptedDomains", "EFSkipMailGateway", "EFUsers", "ScanAndDropRecipients",
                       "TrustedOrganizations")
INBOUND_TRUST_TEXTS = ("TlsSenderCertificateName",)
OUTBOUND_ROUTING_BOOLS = ("AllAcceptedDomains", "CloudServicesMailEnabled", "RouteAllMessagesViaOnPremises",
                          "SenderRewritingEnabled", "TestMode")
OUTBOUND_ROUTING_TEXTS = ("TlsDomain",)
