"""Facts about Exchange Online that several modules rely on: service limits, reserved header
prefixes, well-known names, the exception type names of its errors and the object types exoform
reads. One home, so the config, the planner and the simulated tenant cannot drift apart.
"""
from __future__ import annotations

import uuid

#: The Exchange types exoform reads, each with one Get- call (the sandbox file holds one list per type).
READ_TYPES = ("InboundConnector", "OutboundConnector", "TransportRule", "HostedConnectionFilterPolicy")

MAX_TRANSPORT_RULES = 300  # per organization
MAX_NAME_LENGTH = 64  # transport rules and outbound connectors (.NET counts UTF-16 code units)
MAX_RULE_COMMENTS = 1024  # a transport rule's Comments
MAX_ALLOWLIST_ENTRIES = 1273  # per connection filter IP list (IPAllowList, IPBlockList)
MAX_IP_RANGE_ADDRESSES = 256  # an a.b.c.d-a.b.c.e entry of a connection filter list
MAX_POLICY_DISPLAY_NAME = 255  # a connection filter policy's AdminDisplayName
# exoform's own bound for a header name (Exchange documents none; real headers are far shorter).
MAX_HEADER_NAME_LENGTH = 128
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
EX_TOO_MANY_RULES = "ErrorTooManyTransportRules"
EX_DATA_VALIDATION = "Microsoft.Exchange.Data.DataValidationException"
EX_PARAMETER_BINDING = "System.Management.Automation.ParameterBindingException"
EX_COMMAND_NOT_FOUND = "System.Management.Automation.CommandNotFoundException"


def reserved_header_prefix(header: str) -> str | None:
    """The reserved prefix `header` starts with (ignoring case), or None."""
    folded = header.lower()
    return next((p for p in RESERVED_HEADER_PREFIXES if folded.startswith(p.lower())), None)


def is_guid(text: str) -> bool:
    """`text` is a Guid as Exchange writes one (hyphenated, either case), not a name."""
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False
