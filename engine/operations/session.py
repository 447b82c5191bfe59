"""One integration on one tenant, as the CLI drives it: the validated config, its state store,
a reporter and the provider registry. Builds plan requests from the config's blueprint, reads
the tenant once per operation and hands out typed results; never prints.
"""
from __future__ import annotations

import dataclasses
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from exoform.engine.blueprint import blueprint
from exoform.engine.config import load_config
from exoform.engine.mailflow import Gateway, Intent
from exoform.engine.plan import Plan
from exoform.engine.planning import PlanRequest, make_plan
from exoform.engine.planning.mailsafety import MailContext
from exoform.engine.provider import READ_TYPES, Provider
from exoform.engine.read import TenantRead, read_tenant
from exoform.engine.reporter import Reporter
from exoform.engine.spec import IntegrationSpec, TenantSpec
from exoform.engine.state import State
from exoform.engine.statefile import StateStore, default_state_path

Prompt = Callable[[str], Any]


class Providers(Protocol):
    """What the session needs of the provider registry (`exoform.providers.registry`)."""

    def make_provider(self, tenant: TenantSpec, integration: str, reporter: Reporter, *,
                      token_cache: bool = True, prompt: Prompt | None = None) -> Provider: ...

    def tenant_label(self, tenant: TenantSpec, integration: str) -> str: ...


@dataclass(frozen=True)
class PlanOptions:
    """What a plan may do beyond the config: destroy, adopt unmarked objects, accept risks."""

    destroy: bool = False
    adopt: bool = False
    accepted_risks: tuple[str, ...] = ()

    @property
    def operation(self) -> str:
        return "destroy" if self.destroy else "apply"


def request_for(spec: IntegrationSpec, read: TenantRead, state: State, *, operation: str = "apply",
                tenant: str = "", adopt: bool = False, accepted_risks: tuple[str, ...] = ()) -> PlanRequest:
    """The plan request for `spec` (a destroy plan wants nothing)."""
    return PlanRequest(
        integration=spec.integration,
        desired=blueprint(spec, read.primary_address) if operation == "apply" else (),
        described=blueprint(spec),
        read=read, state=state, operation=operation,
        placement_top=spec.placement == "top",
        keep_admin_enabled_rules=not spec.rules_enabled_explicit,
        config_digest=spec.digest, provider=spec.tenant.provider, tenant=tenant,
        adopt=adopt, accepted_risks=accepted_risks, config_risks=spec.accept_risks,
        mail=mail_context(spec, operation),
    )


def mail_context(spec: IntegrationSpec, operation: str = "apply") -> MailContext:
    """The gateway the config names and what it protects (a destroy protects nothing)."""
    intent = Intent.from_spec(spec) if operation == "apply" else Intent.nothing(spec.integration)
    return MailContext(Gateway.from_spec(spec), intent)


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def state_path(spec: IntegrationSpec, given: str | None) -> Path:
    return Path(given) if given else default_state_path(spec.integration)


class Session:
    """Operations on one integration: see `engine/operations/__init__.py` for the API."""

    def __init__(self, spec: IntegrationSpec, store: StateStore, reporter: Reporter,
                 providers: Providers, *, token_cache: bool = True, prompt: Prompt | None = None) -> None:
        self.spec = spec
        self.store = store
        self.reporter = reporter
        self.providers = providers
        self.token_cache = token_cache
        self.prompt = prompt

    @classmethod
    def open(cls, config: str | Path, reporter: Reporter, providers: Providers, *,
             state: str | None = None, token_cache: bool = True,
             prompt: Prompt | None = None) -> "Session":
        spec = load_config(config)
        return cls(spec, StateStore(state_path(spec, state)), reporter, providers,
                   token_cache=token_cache, prompt=prompt)

    @property
    def tenant(self) -> str:
        """The tenant label a saved plan records (a plan is refused on another tenant)."""
        return self.providers.tenant_label(self.spec.tenant, self.spec.integration)

    @contextmanager
    def connected(self) -> Iterator[Provider]:
        with ExitStack() as stack:
            provider = self.providers.make_provider(
                self.spec.tenant, self.spec.integration, self.reporter,
                token_cache=self.token_cache, prompt=self.prompt)
            stack.callback(provider.close)
            yield provider

    def read(self, provider: Provider) -> TenantRead:
        """The tenant, with the recipients and groups the config names looked up once."""
        self.reporter.activity(f"Reading the tenant ({', '.join(READ_TYPES)})")
        try:
            return read_tenant(provider, self.spec.scope.identities)
        finally:
            self.reporter.activity(None)

    def load_state(self) -> State:
        return self.store.load(self.spec.integration)

    def make_plan(self, read: TenantRead, state: State, options: PlanOptions) -> Plan:
        plan = make_plan(request_for(
            self.spec, read, state, operation=options.operation, tenant=self.tenant,
            adopt=options.adopt, accepted_risks=options.accepted_risks))
        # The planner is pure (no clock): the time a plan was made is stamped here.
        return dataclasses.replace(plan, created=utc_now())

    def plan(self, options: PlanOptions) -> Plan:
        """The plan against the tenant as it is now (no lock: planning writes nothing)."""
        with self.connected() as provider:
            state = self.load_state()
            return self.make_plan(self.read(provider), state, options)
