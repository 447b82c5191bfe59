"""Facts about Exchange Online that several modules rely on: service limits, reserved header
prefixes, well-known names, the exception type names of its errors and the object types exoform
reads. One home, so the config, the planner and the simulated tenant cannot drift apart.
"""
from __future__ import annotations

import uuid
from typing import Any, Mapping

#: The object types exoform manages (the sandbox file holds one list per type).
OBJECT_TYPES = ("InboundConnector", "OutboundConnector", "TransportRule", "HostedConnectionFilterPolicy")
#: The Exchange types a plan reads, each with one Get- call: the managed ones and the accepted
#: domains (for the mail-flow model and `doctor`; the sandbox file keeps them in accepted_domains).
READ_TYPES = OBJECT_TYPES + ("AcceptedDomain",)

MAX_TRANSPORT_RULES = 300  # per organization
MAX_NAME_LENGTH = 64  # transport rules and outbound connectors (.NET counts UTF-16 code units)
MAX_RULE_COMMENTS = 1024  # a transport rule's Comments
MAX_ALLOWLIST_ENTRIES = 1273  # per connection filter IP list (IPAllowList, IPBlockList)
MAX_IP_RANGE_ADDRESSES = 256  # an a.b.c.d-a.b.c.e entry of a connection filter list
MAX_POLICY_DISPLAY_NAME = 255  # a connection filter policy's AdminDisplayName
# Exchange's HeaderName type (SetHeaderName, RemoveHeader, the header conditions): at most 64
# printable ASCII characters other than ':'; HeaderValue (SetHeaderValue): at most 128, one line.
MAX_HEADER_NAME_LENGTH = 64
MAX_HEADER_VALUE_LENGTH = 128
# A transport rule's serialised (XML) form may hold at most 8 KB ("Exchange Online limits").
MAX_RULE_SIZE = 8 * 1024
# SetHeaderName/RemoveHeader may not start with these (compared ignoring case).
RESERVED_HEADER_PREFIXES = ("X-MS-Exchange-Organization-", "X-MS-Exchange-Forest-")

#: The connection filter policy every tenant has, whose IP Allow list exoform edits.
DEFAULT_POLICY = "Default"
#: Microsoft's public client of the Exchange Online PowerShell module (device code sign-in).
DEVICE_CODE_CLIENT_ID = "fb78d390-0c51-40cd-8e17-fdbfab77341b"
#: The organization of a sandbox tenant file that names none.
SANDBOX_ORGANIZATION = "sandbox.onmicrosoft.com"

# Exception type names (the middle part of `ErrorId|ExceptionType|text` in an error's details).
# The HTTP provider classifies by these, so the sandbox and the emulator use exactly these.
EX_NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
EX_ALREADY_EXISTS = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAlreadyExistsException"
EX_STILL_REFERENCED = (
    "Microsoft.Exchange.Management.SystemConfigurationTasks."
    "ConnectorIncorrectUsageConnectorStillReferencedException"
)
# A duplicate rule name, the rule limits and a bad priority are these plain .NET types (their text
# says which); duplicate connectors have types of their own (subclasses of AlreadyExists).
EX_ARGUMENT = "System.ArgumentException"
EX_INVALID_OPERATION = "System.InvalidOperationException"
EX_INVALID_PRIORITY = "Microsoft.Exchange.MessagingPolicies.Rules.InvalidPriorityException"
EX_CONNECTOR_EXISTS = {
    "InboundConnector": "Microsoft.Exchange.Management.Tasks.ErrorInboundConnectorAlreadyExistsException",
    "OutboundConnector": "Microsoft.Exchange.Management.Tasks.ErrorOutboundConnectorAlreadyExistsException",
}
EX_DATA_VALIDATION = "Microsoft.Exchange.Data.DataValidationException"
EX_PARAMETER_BINDING = "System.Management.Automation.ParameterBindingException"
EX_COMMAND_NOT_FOUND = "System.Management.Automation.CommandNotFoundException"


def reserved_header_prefix(header: str) -> str | None:
    """The reserved prefix `header` starts with (ignoring case), or None."""
    folded = header.lower()
    return next((p for p in RESERVED_HEADER_PREFIXES if folded.startswith(p.lower())), None)


# Rule properties that are not part of the rule's XML (identity, order, on/off).
_NOT_IN_RULE_XML = frozenset({"Name", "Identity", "Guid", "Priority", "State", "Enabled"})


def rule_xml_size(properties: Mapping[str, Any]) -> int:
    """An estimate, in bytes, of a transport rule's serialised form, which Exchange caps at
    MAX_RULE_SIZE: each set condition, exception or action as an element holding one element per
    value, plus the rule's envelope. Exchange's exact measure is not published, so this errs
    high (tags counted in full, 256 bytes of envelope)."""
    size = 256
    for name, value in properties.items():
        if name in _NOT_IN_RULE_XML or value in (None, "", [], ()):
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        size += 2 * len(name) + 5 + sum(len(str(item).encode("utf-8")) + 17 for item in items)
    return size


def is_guid(text: str) -> bool:
    """`text` is a Guid as Exchange writes one (hyphenated, either case), not a name."""
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False
