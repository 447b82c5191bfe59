"""What a fleet run needs of the providers, per tenant: the single-tenant `Providers` a Session
uses, plus that tenant's call counts and where its administrator grants consent. The CLI passes
an implementation (`exoform.providers.fleet`); the engine never names a concrete provider.
"""
from __future__ import annotations

from typing import Protocol

from exoform.engine.fleet.report import Traffic
from exoform.engine.operations.session import Providers
from exoform.engine.spec import TenantSpec


class TenantLink(Providers, Protocol):
    """One tenant's providers, sharing the fleet's connections, tokens and limits."""

    def traffic(self) -> Traffic:
        """Calls made so far, 429/503 answers and back-off."""
        ...

    def consent_url(self) -> str:
        """The admin-consent URL of the fleet's app in this tenant ("" when none applies)."""
        ...


class FleetLinks(Protocol):
    def tenant(self, name: str, tenant: TenantSpec) -> TenantLink: ...

    def close(self) -> None:
        """The run is over: save the shared token cache, close connections."""
        ...
