"""The emulator serving many tenants from one HTTPS listener, as Exchange Online and the identity
platform serve an MSP: one tenant file per tenant in a folder, each tenant its own token issuer,
authority (`{endpoint}/{tenant}`) and Admin API path, one multi-tenant app registration, and
per-tenant conditions, faults and consent (a `<name>.emulator.json` beside the tenant file).
"""
from __future__ import annotations

import json
import tempfile
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from exoform.engine.errors import InputError, Issue
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.emulator.dns import DNS_PATH
from exoform.providers.emulator.messages import Reply, Request, json_reply
from exoform.providers.emulator.server import (
    Listening,
    EmulatorStats,
    Site,
    _App,
    _TlsServer,
    run_until_stopped,
    start_listeners,
    tenant_app,
)
from exoform.providers.emulator.certs import ClientCertificate, TestCertificateAuthority, make_client_certificate
from exoform.providers.emulator.identity import RegisteredApp
from exoform.providers.emulator.store import TenantStore
from exoform.providers.faults import FaultPlan, FaultSource

TENANT_SUFFIX = ".tenant.json"
SETUP_SUFFIX = ".emulator.json"
STATS_PATH = "/_emulator/stats"  # counters per tenant, for benchmarks in another process
_SETUP_KEYS = {"consent", "faults", "latency_ms", "directory_roles", "denied_cmdlets",
               "throttle_retry_after", "unavailable_burst"}


@dataclass(frozen=True)
class TenantSetup:
    """How one tenant differs from the rest (None: as the emulator's conditions say)."""

    consent: bool = True
    faults: FaultSource | None = None
    conditions: Mapping[str, Any] = field(default_factory=dict)  # Conditions fields to override

    @classmethod
    def from_file(cls, path: Path) -> "TenantSetup":
        """`<name>.emulator.json`: {"consent": false, "faults": "New-TransportRule#1:error",
        "latency_ms": 500, "directory_roles": [], "denied_cmdlets": [...]}."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(str(path), [Issue("", f"cannot be read as JSON: {error}")]) from None
        unknown = sorted(set(data) - _SETUP_KEYS) if isinstance(data, dict) else ["(not an object)"]
        if unknown:
            raise InputError(str(path), [Issue(k, f"unknown key; known: {', '.join(sorted(_SETUP_KEYS))}")
                                         for k in unknown])
        conditions = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
                      if k not in ("consent", "faults")}
        faults = FaultPlan.parse(str(data["faults"])) if data.get("faults") else FaultPlan()
        return cls(bool(data.get("consent", True)), faults, conditions)


def tenant_id_of(name: str, document: Mapping[str, Any]) -> str:
    """The file's tenant_id, or one derived from the tenant's name (stable across runs)."""
    given = document.get("tenant_id")
    return str(given).lower() if given else str(uuid.uuid5(uuid.NAMESPACE_DNS, f"tenant.{name}"))


@dataclass
class _Tenant:
    name: str
    site: Site
    store: TenantStore
    app: _App | None = None


class _Router:
    """Hands a request to the tenant its path names (`/{tenant}/oauth2/...`,
    `/adminapi/beta/{tenant}/...`); DNS asks every tenant; stats are served for benchmarks."""

    def __init__(self, tenants: Mapping[str, _Tenant]) -> None:
        self._by_alias = {alias: t for t in tenants.values()
                          for alias in (t.site.tenant_id.lower(), t.site.domain.lower())}
        self._tenants = tenants

    def handle(self, request: Request) -> Reply:
        if request.path == STATS_PATH:
            return json_reply(200, {name: _stats_json(t) for name, t in sorted(self._tenants.items())})
        if request.path == DNS_PATH:
            return self._dns(request)
        parts = request.path.split("/")
        alias = parts[3] if request.path.lower().startswith("/adminapi/") and len(parts) > 3 else \
            (parts[1] if len(parts) > 1 else "")
        tenant = self._by_alias.get(alias.lower())
        if tenant is None or tenant.app is None:
            return json_reply(400, {"error": "invalid_request", "error_codes": [90002],
                                    "error_description": f"AADSTS90002: Tenant '{alias}' not found."})
        return tenant.app.handle(request)

    def _dns(self, request: Request) -> Reply:
        name = str(request.query.get("name", "")).rstrip(".").lower()
        for tenant in self._tenants.values():
            records = tenant.store.document().get("mx_records") or {}
            if any(k.lower() == name for k in records) and tenant.app is not None:
                return tenant.app.dns.handle(request)
        first = next(iter(self._tenants.values()))
        assert first.app is not None
        return first.app.dns.handle(request)


def _stats_json(tenant: _Tenant) -> dict[str, Any]:
    assert tenant.app is not None
    return {"token_requests": sum(tenant.app.identity.token_requests.values()),
            "identity_requests": tenant.app.identity.requests,
            "invoke_calls": dict(tenant.app.admin.calls)}


class FleetEmulator(Listening):
    """Many emulated tenants behind one listener, signed in to with one multi-tenant app."""

    def __init__(self, tenants_dir: str | Path, conditions: Conditions | None = None, *,
                 setups: Mapping[str, TenantSetup] | None = None, port: int = 0,
                 workdir: str | Path | None = None, client_id: str | None = None,
                 client_secret: str | None = None) -> None:
        self.tenants_dir = Path(tenants_dir)
        self.conditions = conditions or Conditions()
        self.client_id = client_id or str(uuid.uuid4())
        self.client_secret = client_secret or f"emu~{uuid.uuid4().hex}"
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="exoform-fleet-emulator-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._port = port
        self._tenants = self._load(dict(setups or {}))
        self._servers: list[_TlsServer] = []
        self.certificate: ClientCertificate | None = None
        self.ca_path = self.workdir / "ca.pem"

    def _load(self, setups: dict[str, TenantSetup]) -> dict[str, _Tenant]:
        tenants = {}
        for path in sorted(self.tenants_dir.glob(f"*{TENANT_SUFFIX}")):
            name = path.name[:-len(TENANT_SUFFIX)]
            sidecar = path.with_name(name + SETUP_SUFFIX)
            setup = setups.get(name) or (TenantSetup.from_file(sidecar) if sidecar.exists() else TenantSetup())
            document = json.loads(path.read_text(encoding="utf-8") or "{}")
            site = Site(tenant_id_of(name, document),
                        str(document.get("organization") or f"{name}.onmicrosoft.com"),
                        replace(self.conditions, **setup.conditions), setup.faults, setup.consent)
            tenants[name] = _Tenant(name, site, TenantStore(path))
        if not tenants:
            raise InputError(str(self.tenants_dir), [Issue("", f"holds no *{TENANT_SUFFIX} file: put "
                                                            "one sandbox-format tenant file per tenant there")])
        return tenants

    def start(self) -> "FleetEmulator":
        ca = TestCertificateAuthority(self.workdir)
        self.ca_path = ca.ca_path
        self.certificate = make_client_certificate(self.workdir, "app", "pfx-" + uuid.uuid4().hex[:12])
        main = _TlsServer("127.0.0.1", self._port, ca.server_context(), "127.0.0.1")
        self._servers = [main]
        app = RegisteredApp(self.client_id, self.client_secret, [self.certificate.certificate])
        for tenant in self._tenants.values():
            tenant.app = tenant_app(tenant.store, tenant.site, lambda: main.base_url, lambda: None, app)
        start_listeners(self._servers, _Router(self._tenants))
        return self

    @property
    def endpoint(self) -> str:
        return self._servers[0].base_url

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._tenants)

    def tenant_id(self, name: str) -> str:
        return self._tenants[name].site.tenant_id

    def defaults(self, method: str = "secret") -> dict[str, Any]:
        """The fleet manifest's `defaults.tenant`: the one app registration, with the authority
        per tenant through the `{tenant_id}` placeholder."""
        auth: dict[str, Any] = {"method": method}
        if method == "secret":
            auth["client_secret_env"] = "EXOFORM_EMULATOR_SECRET"
        else:
            assert self.certificate is not None
            auth["certificate_path"] = str(self.certificate.pem_path)
        return {"provider": "exchange_online", "client_id": self.client_id, "endpoint": self.endpoint,
                "authority": f"{self.endpoint}/{{tenant_id}}", "ca_bundle": str(self.ca_path),
                "dns_over_https": f"{self.endpoint}{DNS_PATH}", "auth": auth}

    def document(self, name: str) -> dict[str, Any]:
        return self._tenants[name].store.document()

    def stats(self, name: str | None = None) -> EmulatorStats:
        """Counters of one tenant, or of all of them together."""
        chosen = [self._tenants[name]] if name else list(self._tenants.values())
        grants: Counter[str] = Counter()
        calls: Counter[str] = Counter()
        identity = 0
        records = []
        for tenant in chosen:
            assert tenant.app is not None, "start() the emulator first"
            grants.update(tenant.app.identity.token_requests)
            calls.update(tenant.app.admin.calls)
            identity += tenant.app.identity.requests
            records += tenant.app.admin.records
        return EmulatorStats(sum(grants.values()), dict(grants), identity, dict(calls),
                             tuple(sorted(records, key=lambda r: r.started)))

    def set_faults(self, name: str, faults: FaultSource | None) -> None:
        """Swap one tenant's fault plan (tests: a fault only for the next command)."""
        app = self._tenants[name].app
        assert app is not None
        app.admin.faults = faults


def serve_fleet(tenants_dir: str | Path, port: int, conditions: Conditions, *,
                workdir: str | Path | None, client_id: str, client_secret: str | None,
                ready: Any = None, stop: threading.Event | None = None) -> None:
    """Run a fleet emulator until `stop` is set, Ctrl-C or SIGTERM; `ready` gets it once it listens."""
    emulator = FleetEmulator(tenants_dir, conditions, port=port, workdir=workdir,
                             client_id=client_id, client_secret=client_secret)
    run_until_stopped(emulator, ready, stop)
