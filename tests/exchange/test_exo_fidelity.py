"""The Exchange Online provider against the emulator where the emulator now behaves like the
real service (issue 14): limits and error types as Exchange reports them, IP smart hosts read
back in brackets, Get-AcceptedDomain and Get-Recipient, proxies with a custom CA, the token's
resource from the cloud, redirects kept in the cloud, the system-mailbox anchor, msal's SHA-256
certificate form and Enable-TransportRule's -Mode."""
from __future__ import annotations

import select
import socket
import threading
from typing import Any, Iterator

import pytest

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import AlreadyExists, LimitExceeded, ServerError, ValidationFailed
from exoform.engine.read import read_tenant, recipients_call
from exoform.providers.emulator.conditions import Conditions
from exoform.providers.exchange.client import regional_url
from exoform.providers.tenant_model import dump_tenant, empty_tenant

OUTBOUND = {"Name": "GW - Outbound", "ConnectorType": "Partner", "SmartHosts": ["192.0.2.25"],
            "UseMXRecord": False, "TlsSettings": "EncryptionOnly", "IsTransportRuleScoped": True}
ANCHOR = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"


def call(name: str, **params: Any) -> CmdletCall:
    return CmdletCall.of(name, params)


def _directory_tenant(tmp_path) -> Any:
    document = empty_tenant()
    document.update(organization="contoso.onmicrosoft.com", accepted_domains=[
        "contoso.com", {"DomainName": "relay.contoso.com", "DomainType": "InternalRelay"}])
    document["recipients"] = [
        {"address": "alice@contoso.com", "type": "UserMailbox", "name": "Alice Smith",
         "proxy_addresses": ["alice.smith@contoso.com"]},
        {"address": "finance@contoso.com", "type": "MailUniversalDistributionGroup", "name": "Finance Team"},
        {"address": "o'brien@contoso.com", "type": "UserMailbox"},
    ]
    path = tmp_path / "tenant.json"
    path.write_text(dump_tenant(document))
    return path


def test_limits_and_error_types_as_the_service_reports_them(emulator, connect) -> None:
    provider = connect(emulator)
    with pytest.raises(ValidationFailed, match="128"):
        provider.invoke(call("New-TransportRule", Name="R", SetHeaderName="X-A", SetHeaderValue="v" * 129))
    with pytest.raises(ValidationFailed, match="64"):
        provider.invoke(call("New-TransportRule", Name="R", RemoveHeader="X-" + "h" * 63))
    with pytest.raises(LimitExceeded, match="8 KB") as too_big:
        provider.invoke(call("New-TransportRule", Name="R",
                             SenderIpRanges=[f"198.18.{i}.0/24" for i in range(256)]))
    assert too_big.value.exception_type == "InvalidOperationException"
    provider.invoke(call("New-TransportRule", Name="R", SenderIpRanges=["198.18.0.0/16"]))
    with pytest.raises(AlreadyExists):
        provider.invoke(call("New-TransportRule", Name="r"))


def test_ip_smart_host_reads_back_in_brackets(emulator, connect) -> None:
    provider = connect(emulator)
    provider.invoke(call("New-OutboundConnector", **OUTBOUND))
    [connector] = provider.read(["OutboundConnector"])["OutboundConnector"]
    assert connector["SmartHosts"] == ["[192.0.2.25]"]


def test_accepted_domains_and_recipients_in_exchanges_shape(start_emulator, connect, tmp_path) -> None:
    emulator = start_emulator(tenant_file=_directory_tenant(tmp_path))
    provider = connect(emulator)
    read = read_tenant(provider, ["alice.smith@contoso.com", "Finance Team", "o'brien@contoso.com",
                                  "nobody@contoso.com"])
    domains = {d["DomainName"]: (d["DomainType"], d["Default"], d["InitialDomain"]) for d in read.accepted_domains()}
    assert domains == {"contoso.onmicrosoft.com": ("Authoritative", True, True),
                       "contoso.com": ("Authoritative", False, False),
                       "relay.contoso.com": ("InternalRelay", False, False)}
    assert read.primary_address("ALICE.SMITH@contoso.com") == "alice@contoso.com"
    assert read.primary_address("finance team") == "finance@contoso.com"
    assert read.primary_address("o'brien@contoso.com") == "o'brien@contoso.com"
    assert read.recipient("nobody@contoso.com") is None
    gets = [r for r in emulator.stats.requests if r.cmdlet == "Get-Recipient"]
    assert len(gets) == 1  # every identity in one call
    alice = read.recipient("Alice Smith")
    assert alice is not None and alice["EmailAddresses"] == ["SMTP:alice@contoso.com", "smtp:alice.smith@contoso.com"]


def test_recipient_filter_is_one_opath_expression() -> None:
    made = recipients_call(["a@contoso.com", "Sales Team", "a@contoso.com"])
    assert made.args["Filter"] == ("(EmailAddresses -eq 'a@contoso.com') -or (Name -eq 'Sales Team')"
                                   " -or (Alias -eq 'Sales Team') -or (DisplayName -eq 'Sales Team')")


# ---- networks -------------------------------------------------------------------------------


class ConnectProxy:
    """A minimal HTTPS (CONNECT) proxy on loopback that counts the tunnels it opened."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tunnels: list[str] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return client.close()
            head += chunk
        target = head.split(b" ", 2)[1].decode()
        self.tunnels.append(target)
        host, _, port = target.rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pair = [client, upstream]
        try:
            while True:
                ready, _, _ = select.select(pair, [], [], 5)
                if not ready:
                    break
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self._stop = True
        self.listener.close()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    yield server
    server.close()


def test_ca_bundle_still_routes_through_https_proxy(emulator, connect, proxy, monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")  # ignored: ca_bundle wins
    provider = connect(emulator, token_cache=False)
    assert provider.read(["TransportRule"]) == {"TransportRule": []}
    host = emulator.endpoint.removeprefix("https://")
    assert proxy.tunnels and set(proxy.tunnels) == {host}  # sign-in and Admin API both tunnelled


def test_no_proxy_is_honoured_with_ca_bundle(emulator, connect, proxy, monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert connect(emulator, token_cache=False).read(["TransportRule"]) == {"TransportRule": []}
    assert proxy.tunnels == []


def test_token_is_for_the_clouds_resource_whatever_the_endpoint(emulator, connect) -> None:
    """The emulator (like Entra) issues tokens for https://outlook.office365.com and its Admin
    API accepts only that audience, though it is reached at 127.0.0.1."""
    connect(emulator).read(["TransportRule"])
    bad = emulator.issue_token(audience=emulator.endpoint)
    from exoform.providers.exchange.auth import token_claims

    assert token_claims(bad)["aud"] == emulator.endpoint
    import requests

    reply = requests.post(f"{emulator.endpoint}/adminapi/beta/{emulator.tenant_id}/InvokeCommand",
                          json={"CmdletInput": {"CmdletName": "Get-TransportRule"}},
                          headers={"Authorization": f"Bearer {bad}"}, verify=str(emulator.ca_path))
    assert reply.status_code == 401 and "audience" in reply.headers.get("x-ms-diagnostics", "")


def test_redirect_is_followed_only_within_the_cloud(start_emulator, connect) -> None:
    emulator = start_emulator(Conditions(redirect=True))
    connect(emulator).read(["TransportRule"])  # the regional host is the same host, another port
    assert emulator.stats.requests[-1].base_url == emulator.regional_endpoint
    with pytest.raises(ServerError, match="not a host of this cloud"):
        regional_url("https://evil.example.com/adminapi/beta/x/InvokeCommand",
                     emulator.endpoint, lambda host: host == "127.0.0.1")


def test_anchor_is_the_system_mailbox_by_tid_even_for_a_domain_tenant(emulator, connect) -> None:
    connect(emulator, tenant_id="contoso.onmicrosoft.com").read(["TransportRule"])
    headers = dict(emulator.stats.requests[-1].headers)
    assert headers["X-AnchorMailbox"] == ANCHOR + emulator.tenant_id


def test_certificate_sign_in_uses_msals_sha256_form(emulator, connect) -> None:
    connect(emulator, "certificate", token_cache=False).read(["TransportRule"])
    assert emulator.identity_assertions == [("PS256", ("x5c", "x5t#S256"))]


def test_enable_transport_rule_sends_the_intended_mode(emulator, connect, tmp_path) -> None:
    """Through the CLI path's lowering: an Audit rule is enabled with -Mode Audit."""
    from exoform.engine.kinds.transport_rule import TransportRuleHandler
    from exoform.engine.kinds.base import ENABLE
    from exoform.engine.model import Action, Address, Kind, freeze_attrs
    from exoform.engine.plan import Reason, ResourceChange
    from exoform.engine.kinds.placement import Placement

    change = ResourceChange(address=Address(Kind.TRANSPORT_RULE, "spf"), action=Action.UPDATE,
                            exchange_name="R", before=freeze_attrs({"Name": "R", "State": "Disabled", "Mode": "Audit"}),
                            after=freeze_attrs({"Name": "R", "State": "Enabled", "Mode": "Audit"}),
                            changed=("State",), dependencies=(), reason=Reason.CONFIG_CHANGED)
    [(_, enable)] = TransportRuleHandler().lower_with(Placement([], (), top=True, names={}), ENABLE, change)
    provider = connect(emulator)
    provider.invoke(call("New-TransportRule", Name="R", Mode="Audit", Enabled=False))
    provider.invoke(enable)
    [rule] = provider.read(["TransportRule"])["TransportRule"]
    assert (rule["State"], rule["Mode"]) == ("Enabled", "Audit")
    sent = [r for r in emulator.stats.requests if r.cmdlet == "Enable-TransportRule"]
    assert sent and "Mode" in sent[0].parameters
