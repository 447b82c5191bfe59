"""The emulator's `POST /adminapi/beta/{tenant}/InvokeCommand`: bearer checks, the cmdlet and
parameter checks of the real service, injected faults and conditions, then `TenantModel` through
the tenant store, with paging, replication lag and OData sidecar keys on the way out.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from exoform.engine.cmdlets import CmdletCall, from_wire
from exoform.engine.errors import ProviderError
from exoform.engine.exchange import EX_PARAMETER_BINDING
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.emulator.exchange_errors import (
    error_reply,
    forbidden_reply,
    model_error_reply,
    unauthorized_reply,
)
from exoform.providers.emulator.messages import Reply, Request, json_reply
from exoform.providers.emulator.paging import Cursors, page_size, skiptoken
from exoform.providers.emulator.replication import ReplicationLag
from exoform.providers.emulator.store import TenantStore
from exoform.providers.emulator.tokens import TokenIssuer, TokenRejected
from exoform.providers.faults import FaultSource
from exoform.providers.tenant_model import ALLOWED_PARAMETERS

_PATH = re.compile(r"^/adminapi/beta/(?P<tenant>[^/]+)/InvokeCommand$", re.I)
_CMDLETS = {name.lower(): name for name in ALLOWED_PARAMETERS}


@dataclass(frozen=True)
class InvokeRecord:
    """One InvokeCommand request as the emulator saw it (for tests and benchmarks)."""

    cmdlet: str
    parameters: tuple[str, ...]
    base_url: str
    started: float
    finished: float
    status: int
    client_request_id: str
    authorization: bool
    headers: tuple[tuple[str, str], ...]


class AdminApi:
    def __init__(self, store: TenantStore, issuer: TokenIssuer, tenant_aliases: set[str],
                 conditions: Conditions, faults: FaultSource | None,
                 redirect_base: Callable[[], str | None]) -> None:
        self._store = store
        self._issuer = issuer
        self._aliases = tenant_aliases
        self._conditions = conditions
        self.faults = faults  # swappable: a long-lived emulator serves test after test
        self._redirect_base = redirect_base
        self._lag = ReplicationLag(conditions.replication_lag)
        self._cursors = Cursors()
        self._lock = threading.Lock()
        self._unavailable_left = conditions.unavailable_burst
        self.calls: Counter[str] = Counter()  # InvokeCommand requests per cmdlet
        self.records: list[InvokeRecord] = []

    def handles(self, path: str) -> bool:
        return bool(_PATH.match(path))

    def handle(self, request: Request) -> Reply:
        started = time.monotonic()
        if self._conditions.latency_ms:
            time.sleep(self._conditions.latency_ms / 1000)
        cmdlet, parameters = _cmdlet_input(request.body)
        reply = self._answer(request, cmdlet, parameters)
        self._record(request, cmdlet, parameters, started, reply.status)
        return reply

    def _answer(self, request: Request, cmdlet: str, parameters: dict[str, Any]) -> Reply:
        redirect = self._redirect(request)
        if redirect is not None:
            return redirect
        match = _PATH.match(request.path)
        assert match is not None
        try:
            principal = self._issuer.validate(request.header("Authorization"), match.group("tenant"),
                                              self._aliases)
        except TokenRejected as rejected:
            return unauthorized_reply(rejected.code, rejected.reason)
        if not cmdlet:
            return error_reply(400, "System.ArgumentException",
                               "The request body has no CmdletInput.CmdletName.")
        canonical = _CMDLETS.get(cmdlet.lower())
        if canonical is None or self._denied(canonical) or not principal.may_run(canonical):
            return forbidden_reply()
        unknown = _unknown_parameters(canonical, parameters)
        if unknown:
            return error_reply(400, EX_PARAMETER_BINDING, f"A parameter cannot be found that matches "
                                              f"parameter name '{unknown[0]}'.")
        token = skiptoken(request.query)
        if token is not None:
            return self._next_page(request, token)
        return self._injected(canonical) or self._run(request, from_wire(canonical, parameters))

    def _denied(self, cmdlet: str) -> bool:
        """Outside the caller's role: the real service answers as for an unknown cmdlet."""
        return cmdlet.lower() in {name.lower() for name in self._conditions.denied_cmdlets}

    def _redirect(self, request: Request) -> Reply | None:
        target = self._redirect_base()
        if target is None or request.base_url == target:
            return None
        query = "&".join(f"{k}={v}" for k, v in request.query.items())
        location = f"{target}{request.path}" + (f"?{query}" if query else "")
        return Reply(302, b"", {"Location": location})

    def _injected(self, cmdlet: str) -> Reply | None:
        """A 503 of the burst, or the `error`/`throttle`/`unavailable` fault planned for this call."""
        with self._lock:
            if self._unavailable_left > 0:
                self._unavailable_left -= 1
                return Reply(503, b"Service Unavailable", {"Content-Type": "text/plain"})
        fault = self.faults.next(cmdlet) if self.faults else None
        if fault == "error":
            return error_reply(500, "Microsoft.Exchange.Management.Tasks.InjectedFaultException",
                               f"Injected fault: {cmdlet} failed and changed nothing.")
        if fault == "unavailable":
            return Reply(503, b"Service Unavailable", {"Content-Type": "text/plain"})
        if fault == "throttle":
            return error_reply(429, "Microsoft.Exchange.Throttling.MicroDelayThrottlingException",
                               "The request was throttled; retry after the given delay.",
                               headers={"Retry-After": f"{self._conditions.throttle_retry_after:g}"})
        return None

    def _run(self, request: Request, call: CmdletCall) -> Reply:
        removed = self._about_to_remove(call)
        try:
            output = self._store.run(call)
        except ProviderError as error:
            return model_error_reply(error)
        if call.verb == "New":
            self._lag.created(output)
        elif call.verb == "Remove":
            self._lag.removed(call.noun, removed)
        elif call.verb == "Get":
            by_identity = call.args.get("Identity") is not None
            visible = self._lag.visible(call.noun, output, whole_list=not by_identity)
            if by_identity and output and not visible:
                return error_reply(404, "Microsoft.Exchange.Configuration.Tasks."
                                   "ManagementObjectNotFoundException",
                                   f"The operation couldn't be performed because object "
                                   f"'{call.identity}' couldn't be found.")
            output = visible
        return self._page(request, output)

    def _about_to_remove(self, call: CmdletCall) -> dict[str, Any] | None:
        if call.verb != "Remove" or self._lag.lag <= 0:
            return None
        try:
            found = self._store.run(CmdletCall.of(f"Get-{call.noun}", {"Identity": call.identity}))
        except ProviderError:
            return None
        return found[0] if found else None

    def _next_page(self, request: Request, token: str) -> Reply:
        remainder = None if self._conditions.paging_error else self._cursors.take(token)
        if remainder is None:
            return error_reply(400, "Microsoft.Exchange.Admin.OData.Core.ODataPaginationException",
                               "Expired or Invalid pagination request. Default Expiry time is "
                               "00:30:00")
        return self._page(request, remainder)

    def _page(self, request: Request, objects: list[dict[str, Any]]) -> Reply:
        size = page_size(request.header("Prefer"), self._conditions.max_page_size)
        page, token = self._cursors.split(objects, size)
        match = _PATH.match(request.path)
        tenant = match.group("tenant") if match else ""
        document: dict[str, Any] = {
            "@odata.context": f"{request.base_url}/adminapi/beta/{tenant}/$metadata#Collection",
            "value": [_with_sidecars(obj) for obj in page],
            "@adminapi.warnings": [],
        }
        if token:
            document["@odata.nextLink"] = (f"{request.base_url}/adminapi/beta/{tenant}"
                                           f"/InvokeCommand?$skiptoken={token}")
        return json_reply(200, document)

    def _record(self, request: Request, cmdlet: str, parameters: dict[str, Any],
                started: float, status: int) -> None:
        record = InvokeRecord(
            cmdlet, tuple(parameters), request.base_url, started, time.monotonic(), status,
            request.header("client-request-id"), bool(request.header("Authorization")),
            tuple((k, v) for k, v in request.headers.items() if k.lower() != "authorization"))
        with self._lock:
            self.calls[cmdlet] += 1
            self.records.append(record)


def _cmdlet_input(body: bytes) -> tuple[str, dict[str, Any]]:
    try:
        document = json.loads(body.decode("utf-8") or "{}")
        cmdlet_input = document.get("CmdletInput") or {}
        return str(cmdlet_input.get("CmdletName") or ""), dict(cmdlet_input.get("Parameters") or {})
    except (UnicodeDecodeError, ValueError, AttributeError, TypeError):
        return "", {}


def _unknown_parameters(cmdlet: str, parameters: dict[str, Any]) -> list[str]:
    # PowerShell binds parameter names ignoring case, as the service does.
    allowed = {name.lower() for name in ALLOWED_PARAMETERS[cmdlet]}
    return [name for name in parameters if name.lower() not in allowed]


def _with_sidecars(obj: dict[str, Any]) -> dict[str, Any]:
    """Type annotations the real service puts beside properties; clients must drop them."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        out[key] = value
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            out[f"{key}@data.type"] = "System.Int32"
        elif isinstance(value, list):
            out[f"{key}@odata.type"] = "#Collection(String)"
        elif key == "Guid":
            out[f"{key}@data.type"] = "System.Guid"
    return out
