"""`ExchangeOnlineProvider`: the engine's Provider over the Exchange Online Admin API.

Reads issue one Get- per type, concurrently; writes go through the client one at a time.
Replication lag: what recent runs created or removed (the write journal) is confirmed by Guid
when a list read disagrees, and this process's own writes are overlaid on its reads.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import requests

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import NotFound, Transient
from exoform.engine.exchange import is_guid
from exoform.engine.reporter import Reporter
from exoform.engine.provider import AccessFacts, TenantIdentity
from exoform.providers.exchange.auth import TokenSource, token_claims
from exoform.providers.exchange.client import AdminApiClient
from exoform.providers.exchange.dns import mx_hosts
from exoform.providers.exchange.settings import ExchangeSettings
from exoform.providers.exchange.journal import CREATED, REMOVED, REMOVING, Write, WriteJournal
from exoform.providers.exchange.recent_writes import RecentWrites

#: How long a read waits for Exchange to show an object a recent run created (by Guid).
CONFIRM_WAIT_SECONDS = 60.0

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
        *,
        journal: WriteJournal | None = None,
        confirm_wait: float = CONFIRM_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        owns_session: bool = True,
    ) -> None:
        self._client = client
        self._owns_session = owns_session  # a fleet's shared connection pool stays open
        self._journal = journal or WriteJournal(None)
        self._confirm_wait = confirm_wait
        self._sleep = sleep
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

    def access(self) -> AccessFacts:
        """What the access token grants (signing in if needed), for `exoform doctor`."""
        claims = token_claims(self._tokens.token())
        settings: ExchangeSettings = self._client.settings
        return AccessFacts(
            app_only=settings.auth.app_only,
            app_roles=tuple(str(r) for r in claims.get("roles") or ()),
            directory_roles=tuple(str(r) for r in claims.get("wids") or ()),
            scopes=tuple(str(claims.get("scp") or "").split()),
            consent_url=settings.consent_url)

    def mail_exchangers(self, domain: str) -> tuple[str, ...] | None:
        """MX hosts through the configured DNS-over-HTTPS resolver; None without one."""
        resolver = self._client.settings.dns_over_https
        return mx_hosts(self._session, resolver, domain) if resolver else None

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
            objects = self._confirmed(exchange_type, futures[exchange_type].result())
            results[exchange_type] = self._recent.overlay(exchange_type, objects)
            self._reporter.refresh_done(exchange_type, len(results[exchange_type]))
        return results

    def invoke(self, call: CmdletCall) -> list[dict[str, Any]]:
        """Run one cmdlet; a mutating call's effect is remembered for later reads."""
        removing = call.verb == "Remove" and is_guid(call.identity.lower())
        if removing:
            self._journal.record(call.noun, call.identity, "", REMOVING)
        output = self._run(call)
        if call.verb != "Get":
            self._recent.record(call, output)
            self._journal_write(call, output)
        return output

    def _journal_write(self, call: CmdletCall, output: list[dict[str, Any]]) -> None:
        if call.verb == "New" and output and output[0].get("Guid"):
            created = output[0]
            self._journal.record(call.noun, str(created["Guid"]), str(created.get("Name", "")), CREATED)
        elif call.verb == "Remove" and is_guid(call.identity.lower()):
            self._journal.record(call.noun, call.identity, "", REMOVED)

    def _confirmed(self, noun: str, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A list read squared with the journal: a recent creation it lacks is looked up by
        Guid (waiting, bounded, for replication), a recent removal it still shows is hidden."""
        listed = {str(o.get("Guid") or "").lower() for o in objects}
        out = list(objects)
        for write in self._journal.writes(noun):
            seen = write.guid.lower() in listed
            if write.op == REMOVED:
                out = [o for o in out if str(o.get("Guid") or "").lower() != write.guid.lower()]
            elif write.op == REMOVING or seen:
                self._journal.settled(write.guid)  # the list is trusted: nothing to confirm
            else:
                found = self._look_up(write)
                out += [found] if found is not None else []
        return out

    def _look_up(self, write: Write) -> dict[str, Any] | None:
        """The created object by its Guid, polling while Exchange still answers not found;
        None (with a warning) when it stays unseen: deleted since, most likely - planning goes
        on without it, and should Exchange still be replicating it, a New- for its name is
        refused (the name exists) and nothing is duplicated."""
        deadline, delay = time.monotonic() + self._confirm_wait, 0.25
        while True:
            try:
                found = self._run(CmdletCall.of(f"Get-{write.noun}", {"Identity": write.guid}))
                if found:
                    return found[0]
            except NotFound:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                self._journal.settled(write.guid)
                self._reporter.warning(
                    f"{write.noun} '{write.name}', which exoform created {self._journal.age(write):.0f} s "
                    "ago, is not in the tenant: planning as if it was deleted since. If Exchange Online "
                    "is still replicating it, applying finds its name taken and changes nothing; run "
                    "the plan again in a few minutes.")
                return None
            self._sleep(min(delay, left))
            delay = min(delay * 2, 5.0)

    def _run(self, call: CmdletCall) -> list[dict[str, Any]]:
        output = self._client.invoke(call)
        with self._lock:
            self.calls += 1
        return output

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

