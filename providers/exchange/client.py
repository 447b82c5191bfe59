"""The Exchange Online Admin API client: one `requests.Session` per run, one InvokeCommand POST
per cmdlet (plus pages), bounded retries, a single token re-acquire after a 401, regional
redirects re-POSTed by hand with the token kept, and every failure raised as a typed error.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import ProviderError, ServerError, Transient
from exoform.engine.reporter import CallRecord, Reporter
from exoform.engine.exchange import is_guid
from exoform.providers.exchange.auth import TokenSource, token_claims
from exoform.providers.exchange.error_mapping import classify
from exoform.providers.exchange.settings import ExchangeSettings
from exoform.providers.faults import FaultSource, die
from exoform.providers.retry import Gate, RetryPolicy, call_with_retry

PAGE_SIZE = 1000
MAX_REDIRECTS = 3
_REDIRECTS = (301, 302, 303, 307, 308)
# The system mailbox the Exchange module anchors app-only sessions on.
_SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer reduced to what the client needs."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def request_body(call: CmdletCall) -> dict[str, Any]:
    """The InvokeCommand body; Remove-/Disable- always carry `Confirm: false`."""
    body = call.to_wire()
    if call.verb in ("Remove", "Disable"):
        body["CmdletInput"]["Parameters"]["Confirm"] = False
    return body


def strip_annotations(value: Any) -> Any:
    """Drop OData sidecar keys (any key containing `@`), at every depth."""
    if isinstance(value, dict):
        return {k: strip_annotations(v) for k, v in value.items() if "@" not in k}
    if isinstance(value, list):
        return [strip_annotations(v) for v in value]
    return value


def regional_url(location: str, current: str, same_cloud: Callable[[str], bool] | None = None) -> str:
    """Where a redirect points, with the module's :446 -> 443 rewrite; https only, and (given
    `same_cloud`) only to a host of the same cloud: the token must not leave it."""
    parts = urlsplit(urljoin(current, location))
    if parts.scheme != "https" or not parts.hostname:
        raise ServerError("the service redirected to a non-https address; the access token "
                          "was not sent there")
    if same_cloud is not None and not same_cloud(parts.hostname):
        raise ServerError(f"the service redirected to {parts.hostname}, which is not a host of "
                          "this cloud's Admin API; the access token was not sent there")
    netloc = parts.netloc
    if parts.port == 446:
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


class AdminApiClient:
    """Runs cmdlets through `POST {endpoint}/adminapi/beta/{tenant}/InvokeCommand`."""

    def __init__(
        self,
        settings: ExchangeSettings,
        session: requests.Session,
        tokens: TokenSource,
        reporter: Reporter,
        *,
        policy: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 300.0),
        sleep: Callable[[float], None] = time.sleep,
        faults: FaultSource | None = None,
        crash: Callable[[], None] = die,
        gate: Gate | None = None,
    ) -> None:
        self._settings = settings
        self._gate = gate  # a fleet's per-tenant limits (calls in flight, back-off)
        self._session = session
        self._tokens = tokens
        self._reporter = reporter
        self._policy = policy or RetryPolicy()
        self._timeout = timeout
        self._sleep = sleep
        self._faults = faults
        self._crash = crash
        self._base = settings.endpoint  # replaced by the regional host after a redirect
        self._connection_id = str(uuid.uuid4())
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}  # HTTP attempts per client-request-id, for the log
        self.requests = 0  # HTTP requests sent to the Admin API (pages, retries included)
        self.redirects = 0

    @property
    def settings(self) -> ExchangeSettings:
        return self._settings

    @property
    def tenant(self) -> str:
        """The tenant as the config names it (GUID or domain)."""
        return self._settings.tenant_id

    @property
    def invoke_url(self) -> str:
        return f"{self._base}/adminapi/beta/{self._settings.tenant_id}/InvokeCommand"

    def invoke(self, call: CmdletCall) -> list[dict[str, Any]]:
        """Run one cmdlet; every page of its output, or a typed error (never a partial list)."""
        body = json.dumps(request_body(call)).encode()
        request_id = str(uuid.uuid4())  # reused by the retries of this command
        objects: list[dict[str, Any]] = []
        crash = [False]
        url: str | None = None
        page = 1
        while True:
            document = self._page(call, url, body, request_id, page, len(objects), crash)
            objects.extend(_objects(document.get("value")))
            self._report_warnings(call, document)
            next_link = document.get("@odata.nextLink")
            if not next_link:
                break
            url = regional_url(str(next_link), self.invoke_url, self._settings.same_cloud)
            page += 1
        if crash[0]:
            # Injected `crash` fault: the call took effect; die at once, as if killed.
            self._crash()
        return objects

    def _page(self, call: CmdletCall, url: str | None, body: bytes, request_id: str,
              page: int, read: int, crash: list[bool]) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            # Each attempt is a call, as the emulator and the sandbox count them; only
            # `crash` acts here (the service side injects `error` and `throttle`).
            fault = self._faults.next(call.name) if self._faults and page == 1 else None
            document = self._send(call, url, body, request_id)
            crash[0] = crash[0] or fault == "crash"
            return document

        try:
            return call_with_retry(attempt, cmdlet=call.name, policy=self._policy,
                                   reporter=self._reporter, sleep=self._sleep, gate=self._gate)
        except ProviderError as error:
            if page == 1:
                raise
            raise type(error)(
                f"reading page {page} of the result failed after {read} objects, so nothing "
                f"was returned rather than a partial list ({error.detail})",
                cmdlet=error.cmdlet, identity=error.identity,
                exception_type=error.exception_type, status=error.status) from None

    def _send(self, call: CmdletCall, url: str | None, body: bytes,
              request_id: str) -> dict[str, Any]:
        """One attempt: POST (following redirects), re-acquiring the token once on a 401."""
        token = self._tokens.token()
        reply = self._post(call, url, body, token, request_id)
        if reply.status == 401:
            reply = self._post(call, url, body, self._tokens.refresh(token), request_id)
        if 200 <= reply.status < 300:
            return _document(reply, call)
        raise classify(reply.status, reply.body, reply.headers, cmdlet=call.name,
                       identity=call.identity)

    def _post(self, call: CmdletCall, url: str | None, body: bytes, token: str,
              request_id: str) -> Reply:
        target = url or self.invoke_url
        for _ in range(MAX_REDIRECTS + 1):
            reply = self._post_once(call, target, body, token, request_id)
            location = reply.headers.get("Location")
            if reply.status not in _REDIRECTS or not location:
                return reply
            # requests would drop Authorization and turn the POST into a GET: re-POST by hand.
            target = regional_url(location, target, self._settings.same_cloud)
            self._remember_host(target)
        raise ServerError("the service redirected too many times", cmdlet=call.name,
                          identity=call.identity)

    def _remember_host(self, url: str) -> None:
        parts = urlsplit(url)
        with self._lock:
            self._base = f"{parts.scheme}://{parts.netloc}"
            self.redirects += 1

    def _post_once(self, call: CmdletCall, url: str, body: bytes, token: str,
                   request_id: str) -> Reply:
        with self._lock:
            self.requests += 1
            attempt = self._attempts[request_id] = self._attempts.get(request_id, 0) + 1
        started = time.monotonic()
        try:
            response = self._session.post(
                url, data=body, headers=self._headers(call, token, request_id),
                timeout=self._timeout, allow_redirects=False, stream=True)
        except requests.RequestException as error:
            failure = _network_error(error, call, url, self._timeout[1])
            self._log(call, request_id, attempt, started, None, type(failure).__name__)
            raise failure from None
        with response:
            reply = Reply(response.status_code, response.headers, _read_body(response))
        self._log(call, request_id, attempt, started, reply.status, "")
        return reply

    def _log(self, call: CmdletCall, request_id: str, attempt: int, started: float,
             status: int | None, error: str) -> None:
        """Tell the reporter (the CLI's log) about one HTTP attempt; never the body or token."""
        self._reporter.tenant_call(CallRecord(
            "exchange_online", call.name, call.identity, (time.monotonic() - started) * 1000,
            attempt, status, request_id, error))

    def _headers(self, call: CmdletCall, token: str, request_id: str) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            # Plain bodies: the 403 NUL-byte body labelled gzip then cannot break decoding.
            "Accept-Encoding": "identity",
            "X-ResponseFormat": "json",
            "X-CmdletName": call.name,
            "client-request-id": request_id,
            "connection-id": self._connection_id,
            "Prefer": f"odata.maxpagesize={PAGE_SIZE}",
        }
        headers["X-AnchorMailbox"] = self._anchor(token)
        return headers

    def _anchor(self, token: str) -> str:
        """The tenant's system mailbox, for app-only and delegated sessions alike (every cmdlet
        exoform runs is organisation-wide; a guest or partner admin's own UPN may live in another
        tenant): by the tenant GUID from the token's `tid`, else the configured tenant (a GUID or
        the initial .onmicrosoft domain - the config accepts nothing else), never a vanity domain."""
        tid = str(token_claims(token).get("tid") or "")
        tenant = tid if is_guid(tid.lower()) else self._settings.tenant_id
        prefix = "APP" if is_guid(tenant.lower()) else "UPN"
        return f"{prefix}:{_SYSTEM_MAILBOX}@{tenant.lower()}"

    def _report_warnings(self, call: CmdletCall, document: Mapping[str, Any]) -> None:
        for warning in document.get("@adminapi.warnings") or []:
            self._reporter.warning(f"{call.name} {call.identity}: {warning}".replace("  ", " "))


def _read_body(response: requests.Response) -> bytes:
    """The body bytes; a 403 body is not read (NUL bytes labelled gzip), and an undecodable
    body counts as empty rather than crashing."""
    if response.status_code == 403:
        return b""
    try:
        return response.content
    except (requests.exceptions.ContentDecodingError, requests.exceptions.ChunkedEncodingError):
        return b""


def _document(reply: Reply, call: CmdletCall) -> dict[str, Any]:
    if not reply.body.strip():
        return {}  # 204 / empty body: Set-, Remove-, Enable-, Disable- often answer nothing
    try:
        document = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ServerError(f"the service answered HTTP {reply.status} with a body that is not "
                          "JSON", cmdlet=call.name, identity=call.identity) from None
    return document if isinstance(document, dict) else {"value": document}


def _objects(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [strip_annotations(item) for item in items if isinstance(item, dict)]


def _network_error(error: requests.RequestException, call: CmdletCall, url: str,
                   read_timeout: float) -> ProviderError:
    host = urlsplit(url).netloc
    kw: dict[str, Any] = {"cmdlet": call.name, "identity": call.identity}
    if isinstance(error, requests.exceptions.SSLError):
        return ServerError(f"the TLS certificate of {host} could not be verified "
                           "(check tenant.ca_bundle)", **kw)
    if isinstance(error, requests.exceptions.ReadTimeout) and call.verb != "Get":
        # The change may have been made: retrying blindly could make it twice.
        return ServerError(f"no answer from {host} within {read_timeout:g} s; the change may "
                           "or may not have been made", **kw)
    if isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return Transient(f"cannot reach {host} ({type(error).__name__})", **kw)
    return ServerError(f"the request to {host} failed ({type(error).__name__})", **kw)
