"""The one narrow interface through which the engine reaches a tenant.

A provider reads every object of an Exchange type in one call and runs cmdlet calls; it raises
only `exoform.engine.errors.ProviderError` subclasses. The engine builds the calls itself
(`exoform.engine.cmdlets`), so every provider and the PowerShell script send the same thing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.exchange import READ_TYPES

__all__ = ["READ_TYPES", "AccessFacts", "MailExchangers", "Provider", "SignInFacts", "TenantIdentity"]


@dataclass(frozen=True)
class TenantIdentity:
    """Which tenant a provider reaches, as state and saved plans record it: the provider, the
    tenant's stable id (Exchange Online: the tenant GUID; the sandbox: the id its file keeps)
    and a name for people (the domain, the file)."""

    provider: str
    tenant_id: str
    name: str = ""

    def describe(self) -> str:
        return f"{self.provider} tenant {self.name or self.tenant_id} ({self.tenant_id})"


class Provider(Protocol):
    """What a tenant backend must offer the engine."""

    #: Short name shown to users ("sandbox", "exchange_online").
    name: str

    def read(self, exchange_types: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Every object of each type (`Get-<Type>` once per type, never per object).

        Objects are the Get- output with PascalCase keys; keys containing `@` are dropped.
        """
        ...

    def invoke(self, call: CmdletCall) -> list[dict[str, Any]]:
        """Run one cmdlet; returns its output objects (New-* returns the created object)."""
        ...

    def identity(self) -> TenantIdentity:
        """The tenant this provider reaches (may sign in to learn it)."""
        ...

    def close(self) -> None:
        """Release sessions and files; called once at the end of a command."""
        ...


# ---- optional capabilities, for `exoform doctor` (a provider may offer them or not) ----------


@runtime_checkable
class MailExchangers(Protocol):
    """A provider that can say where a domain's mail goes (its MX hosts)."""

    def mail_exchangers(self, domain: str) -> tuple[str, ...] | None:
        """The MX hosts of `domain` (empty: none), or None when no DNS source is configured;
        a failed lookup raises a ProviderError."""
        ...


@dataclass(frozen=True)
class AccessFacts:
    """What a sign-in says about the caller's rights (from the access token's claims)."""

    app_only: bool
    app_roles: tuple[str, ...]  # `roles`: Exchange.ManageAsApp for an app
    directory_roles: tuple[str, ...]  # `wids`: Entra role template ids
    scopes: tuple[str, ...]  # `scp`: delegated permissions
    consent_url: str  # where an administrator grants the app's permission


@runtime_checkable
class SignInFacts(Protocol):
    """A provider that signs in and can tell what its token grants."""

    def access(self) -> AccessFacts: ...
