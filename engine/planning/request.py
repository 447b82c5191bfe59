"""What a plan is made from: the desired resources (built by the caller from the config's
blueprint; empty for a destroy plan), the tenant as read, the state, and the options that
change what a plan may do. Planning never reads a file or the clock.
"""
from __future__ import annotations

from dataclasses import dataclass

from exoform.engine.model import Resource
from exoform.engine.planning.mailsafety import MailContext
from exoform.engine.read import TenantRead
from exoform.engine.state import State


@dataclass(frozen=True)
class PlanRequest:
    integration: str
    desired: tuple[Resource, ...]  # empty for a destroy plan
    read: TenantRead
    state: State
    operation: str = "apply"
    placement_top: bool = True
    keep_admin_enabled_rules: bool = True
    config_digest: str = ""
    provider: str = ""
    tenant: str = ""
    adopt: bool = False  # take over unmarked objects that hold our names (import, --adopt)
    accepted_risks: tuple[str, ...] = ()  # finding IDs acknowledged with --accept-risk
    config_risks: tuple[str, ...] = ()  # ... and in the config's `accept_risks`
    # What the config describes, also in a destroy plan (e.g. which ranges are the gateway's).
    described: tuple[Resource, ...] = ()
    mail: MailContext | None = None  # the mail-flow model checks every state (None: it does not)

    @property
    def destroying(self) -> bool:
        return self.operation == "destroy"
