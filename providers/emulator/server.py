"""The Exchange Online emulator: HTTPS on 127.0.0.1 with a throw-away CA, serving the identity
platform and the Admin API from one listener (plus a second "regional" listener on `localhost`
when redirects are on). `Emulator` runs in-process as a context manager; `serve` runs it for the CLI.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Protocol, Self
from urllib.parse import parse_qs, urlsplit

from exoform.engine.exchange import DEVICE_CODE_CLIENT_ID
from exoform.providers.emulator.admin_api import AdminApi, InvokeRecord
from exoform.providers.emulator.certs import ClientCertificate, TestCertificateAuthority, make_client_certificate
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.emulator.dns import DNS_PATH, DnsOverHttps
from exoform.providers.emulator.exchange_errors import error_reply
from exoform.providers.emulator.identity import IdentityPlatform, RegisteredApp
from exoform.providers.emulator.messages import Reply, Request, json_reply
from exoform.providers.emulator.store import TenantStore
from exoform.providers.emulator.tokens import TokenIssuer
from exoform.providers.faults import FaultSource

TENANT_DOMAIN = "contoso.onmicrosoft.com"
#: The token audience of the global cloud's Admin API (scope `https://outlook.office365.com/.default`).
EXCHANGE_RESOURCE = "https://outlook.office365.com"


@dataclass(frozen=True)
class EmulatorStats:
    """Counters since start: token requests (by grant type), all identity platform requests
    (OpenID discovery included), Admin API requests per cmdlet, and each Admin API request."""

    token_requests: int
    token_requests_by_grant: dict[str, int]
    identity_requests: int
    invoke_calls: dict[str, int]
    requests: tuple[InvokeRecord, ...] = field(repr=False)


class Handler(Protocol):
    """What a listener hands each request to: one tenant's `_App`, or a fleet's router."""

    def handle(self, request: Request) -> Reply: ...


class _App:
    """Routes a request to the identity platform or the Admin API of one tenant."""

    def __init__(self, identity: IdentityPlatform, admin: AdminApi, dns: DnsOverHttps,
                 issuer: TokenIssuer) -> None:
        self.identity = identity
        self.admin = admin
        self.dns = dns
        self.issuer = issuer

    def handle(self, request: Request) -> Reply:
        try:
            if self.identity.handles(request.path):
                return self.identity.handle(request)
            if self.admin.handles(request.path) and request.method == "POST":
                return self.admin.handle(request)
            if request.path == DNS_PATH and request.method == "GET":
                return self.dns.handle(request)
            return json_reply(404, {"error": {"code": "NotFound", "message": "No such endpoint."}})
        except Exception as error:  # the emulator must answer, never drop the connection
            return error_reply(500, "System.InvalidOperationException",
                               f"The emulator failed: {type(error).__name__}: {error}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per request
    server: "_TlsServer"

    def setup(self) -> None:
        super().setup()
        # The TLS handshake runs here, in the request's thread, not in the accept loop.
        self.request.do_handshake()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        # email.message.Message: a case-insensitive header mapping, as HTTP wants.
        headers: Any = self.headers
        request = Request(self.command, parts.path, query, headers, body, self.server.base_url)
        assert self.server.app is not None
        reply = self.server.app.handle(request)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and `emulator serve` report through their own channels

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            self.close_connection = True


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, port: int, context: ssl.SSLContext, name: str) -> None:
        super().__init__((host, port), _Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.app: Handler | None = None
        self.base_url = f"https://{name}:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-handshake is not the emulator's problem


class Listening:
    """What both emulators share: their HTTPS listeners and their scratch folder, stopped and
    removed together (`start` is each emulator's own)."""

    _servers: list[_TlsServer]
    workdir: Path
    _own_workdir: bool

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Emulator(Listening):
    """An emulated Exchange Online tenant with its identity platform, over real HTTPS."""

    def __init__(
        self,
        tenant_file: str | Path | None = None,
        conditions: Conditions | None = None,
        *,
        faults: FaultSource | None = None,
        port: int = 0,
        workdir: str | Path | None = None,
        tenant_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self.conditions = conditions or Conditions()
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.tenant_domain = TENANT_DOMAIN
        self.client_id = client_id or str(uuid.uuid4())
        self.public_client_id = DEVICE_CODE_CLIENT_ID
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="exoform-emulator-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        kept = _kept_secrets(self.workdir)
        self.client_secret = client_secret or kept.get("client_secret") or f"emu~{uuid.uuid4().hex}"
        self._pfx_password = kept.get("pfx_password") or "pfx-" + uuid.uuid4().hex[:12]
        _keep_secrets(self.workdir, {"client_secret": self.client_secret, "pfx_password": self._pfx_password})
        self._store = TenantStore(Path(tenant_file) if tenant_file else None)
        self._faults = faults if faults is not None else _faults_from_env()
        self._port = port
        self._servers: list[_TlsServer] = []
        self.certificate: ClientCertificate | None = None
        self.ca_path = self.workdir / "ca.pem"
        self._app: _App | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> "Emulator":
        ca = TestCertificateAuthority(self.workdir)
        self.ca_path = ca.ca_path
        self.certificate = make_client_certificate(self.workdir, "app", self._pfx_password)
        context = ca.server_context()
        main = _TlsServer("127.0.0.1", self._port, context, "127.0.0.1")
        self._servers = [main]
        if self.conditions.redirect:
            # Same host, another port: a regional redirect is followed only within the cloud
            # (for a private endpoint like this one, only to the same host).
            self._servers.append(_TlsServer("127.0.0.1", 0, context, "127.0.0.1"))
        site = Site(self.tenant_id, self.tenant_domain, self.conditions, self._faults)
        self._app = tenant_app(self._store, site, lambda: main.base_url, self._redirect_base,
                               self.registered_app())
        self._issuer = self._app.issuer
        start_listeners(self._servers, self._app)
        return self

    def registered_app(self) -> RegisteredApp:
        """The app registration: the secret and the client certificate."""
        assert self.certificate is not None
        return RegisteredApp(self.client_id, self.client_secret, [self.certificate.certificate])

    def _redirect_base(self) -> str | None:
        return self._servers[1].base_url if len(self._servers) > 1 else None

    # ---- what clients need ----------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The Admin API base URL (the token audience stays EXCHANGE_RESOURCE)."""
        return self._servers[0].base_url

    @property
    def authority(self) -> str:
        return f"{self.endpoint}/{self.tenant_id}"

    @property
    def dns_over_https(self) -> str:
        """A DNS-over-HTTPS (JSON) resolver answering MX queries from the tenant file's
        `mx_records`, for `exoform doctor --dns-over-https` (nothing on the internet is asked)."""
        return f"{self.endpoint}{DNS_PATH}"

    @property
    def regional_endpoint(self) -> str | None:
        """The host a 302 sends clients to, when redirects are on."""
        return self._redirect_base()

    def tenant_options(self, method: str = "secret", **extra: Any) -> dict[str, Any]:
        """`tenant` options for the exchange_online provider pointing here.

        `method="secret"` names the environment variable EXOFORM_EMULATOR_SECRET (set it to
        `client_secret`); certificate options use the PEM file unless overridden in `extra`.
        """
        auth: dict[str, Any] = {"method": method}
        if method == "secret":
            auth["client_secret_env"] = "EXOFORM_EMULATOR_SECRET"
        elif method == "certificate":
            assert self.certificate is not None
            auth["certificate_path"] = str(self.certificate.pem_path)
        options: dict[str, Any] = {
            "provider": "exchange_online", "tenant_id": self.tenant_id, "endpoint": self.endpoint,
            "authority": self.authority, "ca_bundle": str(self.ca_path), "auth": auth,
            "dns_over_https": self.dns_over_https,
        }
        # As `parse_config` resolves them: device code sign-in uses the public client.
        options["client_id"] = self.public_client_id if method == "device_code" else self.client_id
        options.update(extra)
        return options

    @property
    def stats(self) -> EmulatorStats:
        assert self._app is not None, "start() the emulator first"
        grants = dict(self._app.identity.token_requests)
        return EmulatorStats(sum(grants.values()), grants, self._app.identity.requests,
                             dict(self._app.admin.calls), tuple(self._app.admin.records))

    @property
    def identity_assertions(self) -> list[tuple[str, tuple[str, ...]]]:
        """(alg, thumbprint claims) of every certificate client assertion received."""
        assert self._app is not None, "start() the emulator first"
        return list(self._app.identity.assertion_forms)

    def expire_tokens(self) -> None:
        """Every token issued so far is now rejected as expired (401)."""
        self._issuer.expire_all()

    def issue_token(self, **overrides: Any) -> str:
        """A token for the registered app; overrides (audience, tenant_id, lifetime) forge bad ones."""
        return self._issuer.issue(self.client_id, **overrides)

    def document(self) -> dict[str, Any]:
        """The tenant as the emulator holds it now."""
        return self._store.document()

    def serve_tenant(self, tenant_file: str | Path | None, faults: FaultSource | None = None) -> None:
        """Serve another tenant file with a fresh fault plan (None: no faults), so one running
        emulator can serve test after test without a new CA, certificate and sign-in each."""
        self._store.use(Path(tenant_file) if tenant_file else None)
        self._faults = faults
        if self._app is not None:
            self._app.admin.faults = faults


@dataclass(frozen=True)
class Site:
    """One emulated tenant: its ids, how it misbehaves, and whether the app may sign in to it
    (`consent`: an administrator granted the multi-tenant app its permission here)."""

    tenant_id: str
    domain: str
    conditions: Conditions
    faults: FaultSource | None = None
    consent: bool = True


def tenant_app(store: TenantStore, site: Site, base_url: Callable[[], str],
               redirect_base: Callable[[], str | None], app: RegisteredApp) -> _App:
    """The identity platform, Admin API and DNS of one tenant. Tokens are for Exchange
    Online's resource, as the real identity platform issues them, whichever host is used."""
    conditions = site.conditions
    issuer = TokenIssuer(site.tenant_id, EXCHANGE_RESOURCE, conditions.token_lifetime,
                         conditions.directory_roles)
    aliases = {site.tenant_id.lower(), site.domain.lower()}
    identity = IdentityPlatform(issuer, aliases, base_url,
                                device_approve_after_polls=conditions.device_approve_after_polls,
                                username=f"admin@{site.domain}")
    if site.consent:  # without it the tenant has no service principal of the app
        identity.register(app)
    identity.register(RegisteredApp(DEVICE_CODE_CLIENT_ID, public=True))
    admin = AdminApi(store, issuer, aliases, conditions, site.faults, redirect_base)
    return _App(identity, admin, DnsOverHttps(store), issuer)


def start_listeners(servers: list[_TlsServer], handler: Handler) -> None:
    for server in servers:
        server.app = handler
        thread = threading.Thread(target=server.serve_forever, name="exoform-emulator",
                                  kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()


SECRETS_FILE = "emulator-secrets.json"  # the client secret and PFX passphrase, kept across restarts


def _kept_secrets(workdir: Path) -> dict[str, str]:
    try:
        kept = json.loads((workdir / SECRETS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in kept.items() if isinstance(v, str)} if isinstance(kept, dict) else {}


def _keep_secrets(workdir: Path, secrets: dict[str, str]) -> None:
    fd = os.open(workdir / SECRETS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(secrets, handle)


def _faults_from_env() -> FaultSource | None:
    from exoform.providers.faults import FaultPlan

    return FaultPlan.from_env()


def serve(
    tenant_file: str | Path | None,
    port: int = 8443,
    conditions: Conditions | None = None,
    *,
    workdir: str | Path | None = None,
    ready: Callable[[Emulator], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run an emulator until `stop` is set or Ctrl-C; `ready` gets it once it listens.

    Tenant and client ids are fixed so a config written for one run works for the next; the
    CA, keys and secret are kept in `workdir` (the secret comes from EXOFORM_EMULATOR_SECRET
    when set). SIGTERM stops it like Ctrl-C, so a temporary work folder and its keys are removed.
    """
    emulator = Emulator(
        tenant_file, conditions or Conditions.from_env(), port=port, workdir=workdir,
        tenant_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, "tenant." + TENANT_DOMAIN)),
        client_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, "client." + TENANT_DOMAIN)),
        client_secret=os.environ.get("EXOFORM_EMULATOR_SECRET") or None)
    run_until_stopped(emulator, ready, stop)


class Running(Protocol):
    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...


def run_until_stopped(emulator: Running, ready: Callable[[Any], None] | None,
                      stop: threading.Event | None) -> None:
    """Start `emulator`, give it to `ready`, and keep it up until `stop`, Ctrl-C or SIGTERM."""
    stopping = stop or threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    try:
        with emulator as started:
            if ready is not None:
                ready(started)
            try:
                while not stopping.wait(0.2):
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
