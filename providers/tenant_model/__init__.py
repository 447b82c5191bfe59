"""An in-memory interpreter of the Exchange Online cmdlets exoform uses, over a tenant document.

The sandbox provider and the HTTP emulator both run cmdlets through `TenantModel`, so both enforce
the server-side rules of DESIGN.md section 4 and answer with the same typed errors, each carrying
the Exchange exception type name a real tenant would put in `details[0].message`.
"""
from __future__ import annotations

from exoform.engine.exchange import (
    EX_ALREADY_EXISTS,
    EX_COMMAND_NOT_FOUND,
    EX_DATA_VALIDATION,
    EX_NOT_FOUND,
    EX_PARAMETER_BINDING,
    EX_STILL_REFERENCED,
)
from exoform.providers.tenant_model.document import (
    RULE_NULL_PROPERTIES,
    document_issues,
    dump_tenant,
    empty_tenant,
    stable_guid,
)
from exoform.providers.tenant_model.model import TenantModel
from exoform.engine.cmdlet_reference import ALLOWED_PARAMETERS

__all__ = [
    "ALLOWED_PARAMETERS",
    "EX_ALREADY_EXISTS",
    "EX_COMMAND_NOT_FOUND",
    "EX_DATA_VALIDATION",
    "EX_NOT_FOUND",
    "EX_PARAMETER_BINDING",
    "EX_STILL_REFERENCED",
    "RULE_NULL_PROPERTIES",
    "TenantModel",
    "document_issues",
    "dump_tenant",
    "empty_tenant",
    "stable_guid",
]
