"""`ExchangeOnlineProvider`: the engine's Provider over the Exchange Online Admin API.

Reads issue one Get- per type, concurrently; writes go through the client one at a time. Objects
this process created or removed are overlaid on reads to ride out replication lag.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import requests

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.reporter import Reporter
from exoform.engine.provider import TenantIdentity
from exoform.providers.exchange.auth import TokenSource, token_claims
from exoform.providers.exchange.client import AdminApiClient
from exoform.providers.exchange.recent_writes import RecentWrites

# Get- cmdlets that take -ResultSize (Get-HostedConnectionFilterPolicy does not).
RESULT_SIZE_GETS = frozenset({"Get-InboundConnector", "Get-OutboundConnector", "Get-TransportRule",
                              "Get-AcceptedDomain"})


def read_call(exchange_type: str) -> CmdletCall:
    """The one Get- call that reads every object of a type (never `Identity: null`)."""
    name = f"Get-{exchange_type}"
    params = {"ResultSize": "Unlimited"} if name in RESULT_SIZE_GETS else {}
    return CmdletCall.of(name, params)


class ExchangeOnlineProvider:
    """Provider for a real (or emulated) Exchange Online tenant."""

    name = "exchange_online"

    def __init__(
        self,
        client: AdminApiClient,
        tokens: TokenSource,
        session: requests.Session,
        reporter: Reporter | None = None,
    ) -> None:
        self._client = client
        self._reporter = reporter or Reporter()
        self._tokens = tokens
        self._session = session
        self._recent = RecentWrites()
        self._lock = threading.Lock()
        self.calls = 0  # cmdlets run (a paged or retried cmdlet counts once)

    @property
    def token_requests(self) -> int:
        """Token requests that reached the identity platform (0 with a warm cache)."""
        return self._tokens.token_requests

    @property
    def http_requests(self) -> int:
        return self._client.requests

    def identity(self) -> TenantIdentity:
        """The tenant GUID from the token's `tid` (the config may name the tenant by a domain)."""
        given = self._client.tenant
        tid = str(token_claims(self._tokens.token()).get("tid") or "")
        return TenantIdentity(self.name, tid.lower() or given, given)

    def read(self, exchange_types: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Every object of each type, one Get- per type, all in flight at once."""
        types = list(dict.fromkeys(exchange_types))
        if not types:
            return {}
        # Sign in before fanning out so the threads share one token request.
        self._tokens.token()
        for exchange_type in types:  # progress in a fixed order, not completion order
            self._reporter.refresh_started(exchange_type)
        with ThreadPoolExecutor(max_workers=len(types), thread_name_prefix="exo-read") as pool:
            futures = {t: pool.submit(self._run, read_call(t)) for t in types}
        results: dict[str, list[dict[str, Any]]] = {}
        for exchange_type in types:
            error = futures[exchange_type].exception()
            if error is not None:
                raise error
            objects = futures[exchange_type].result()
            results[exchange_type] = self._recent.overlay(exchange_type, objects)
            self._reporter.refresh_done(exchange_type, len(results[exchange_type]))
        return results

    def invoke(self, call: CmdletCall) -> list[dict[str, Any]]:
        """Run one cmdlet; a mutating call's effect is remembered for later reads."""
        output = self._run(call)
        if call.verb != "Get":
            self._recent.record(call, output)
        return output

    def _run(self, call: CmdletCall) -> list[dict[str, Any]]:
        output = self._client.invoke(call)
        with self._lock:
            self.calls += 1
        return output

    def close(self) -> None:
        self._session.close()

