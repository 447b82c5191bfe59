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

from exoform.backends.codec import Codec
from exoform.engine.blueprint import blueprint
from exoform.engine.config import load_config
from exoform.engine.mailflow import Gateway, Intent
from exoform.engine.operations.stores import codec_of, local_state_path, open_store
from exoform.engine.plan import Plan
from exoform.engine.planning import PlanRequest, make_plan
from exoform.engine.planning.mailsafety import MailContext
from exoform.engine.provider import READ_TYPES, Provider, TenantIdentity
from exoform.engine.read import TenantRead, read_tenant
from exoform.engine.reporter import Reporter
from exoform.engine.spec import IntegrationSpec, TenantSpec
from exoform.engine.state import State
from exoform.engine.statefile import StateStore

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
        mail=mail_context(spec, read, operation),
    )


def mail_context(spec: IntegrationSpec, read: TenantRead, operation: str = "apply") -> MailContext:
    """The gateway the config names and what it protects (a destroy protects nothing), its
    scope's people and groups by the primary addresses the rules will name (as the blueprint)."""
    if operation != "apply":
        return MailContext(Gateway.from_spec(spec), Intent.nothing(spec.integration))
    intent = Intent.from_spec(spec)
    scope = dataclasses.replace(
        intent.scope, recipients=tuple(read.primary_address(r) for r in intent.scope.recipients),
        groups=tuple(read.primary_address(g) for g in intent.scope.groups))
    return MailContext(Gateway.from_spec(spec), dataclasses.replace(intent, scope=scope))


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def state_path(spec: IntegrationSpec, given: str | None) -> Path:
    """The local state file of `spec` (next to the config unless given)."""
    return local_state_path(spec, given)


def tenant_label(identity: TenantIdentity) -> str:
    """What a saved plan records as its tenant (compared on apply and import)."""
    return f"{identity.provider}:{identity.tenant_id}"


class Session:
    """Operations on one integration: see `engine/operations/__init__.py` for the API."""

    def __init__(self, spec: IntegrationSpec, store: StateStore, reporter: Reporter,
                 providers: Providers, *, token_cache: bool = True, prompt: Prompt | None = None,
                 lock_timeout: float = 0.0) -> None:
        self.spec = spec
        self.store = store
        self.reporter = reporter
        self.providers = providers
        self.token_cache = token_cache
        self.prompt = prompt
        self.lock_timeout = lock_timeout
        self.identity: TenantIdentity | None = None

    @classmethod
    def open(cls, config: str | Path, reporter: Reporter, providers: Providers, *,
             state: str | None = None, token_cache: bool = True, prompt: Prompt | None = None,
             lock_timeout: float = 0.0, allow_unsafe_folder: bool = False) -> "Session":
        spec = load_config(config)
        store = open_store(spec, state, reporter.warning, allow_unsafe=allow_unsafe_folder)
        return cls(spec, store, reporter, providers, token_cache=token_cache, prompt=prompt,
                   lock_timeout=lock_timeout)

    @property
    def codec(self) -> Codec:
        """How saved plans of this config are written and read (encrypted or not)."""
        return codec_of(self.spec)

    @property
    def tenant(self) -> str:
        """The tenant label a saved plan records (a plan is refused on another tenant)."""
        if self.identity is not None:
            return tenant_label(self.identity)
        return self.providers.tenant_label(self.spec.tenant, self.spec.integration)

    @contextmanager
    def reached(self) -> Iterator[Provider]:
        """The provider for the config's tenant, not yet signed in (checks that read no state,
        such as doctor, report a failed sign-in themselves)."""
        with ExitStack() as stack:
            provider = self.providers.make_provider(
                self.spec.tenant, self.spec.integration, self.reporter,
                token_cache=self.token_cache, prompt=self.prompt)
            stack.callback(provider.close)
            yield provider

    @contextmanager
    def connected(self) -> Iterator[Provider]:
        """The provider for the config's tenant; its identity binds the state store."""
        with self.reached() as provider:
            self.identity = provider.identity()
            self.store.bind(self.identity)
            yield provider

    def locate(self) -> StateStore:
        """The store with its key known: a per-tenant backend asks the provider who the tenant is."""
        if self.identity is None and self.store.backend.per_tenant:
            with self.connected():
                pass
        return self.store

    @contextmanager
    def locked(self, command: str) -> Iterator[StateStore]:
        """The store under the lock for `command` (waiting up to --lock-timeout)."""
        store = self.locate()
        with store.locked(command, self.lock_timeout):
            yield store

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
