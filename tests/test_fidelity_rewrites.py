"""Values Exchange Online rewrites compare equal (issue 14, point 3): IP ranges by their address
bounds (`x.0-x.255` is `x.0/24`, `a/32` is `a`), an IP smart host as Exchange shows it
(`[a.b.c.d]`), and the tenant model stores and de-duplicates them the way the service does.
The end-to-end runs on both providers are tests/scenarios/fidelity-rewritten-values.json."""
from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given, strategies as st

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.ipv4 import canonical, network_rejected_kind
from exoform.engine.kinds.connector import OUTBOUND_CONNECTOR
from exoform.engine.kinds.schema import normalize_value
from exoform.providers.tenant_model import TenantModel, empty_tenant

networks = st.builds(
    lambda address, prefix: ipaddress.IPv4Network((address, prefix), strict=False),
    st.integers(min_value=1 << 24, max_value=(223 << 24) - 1), st.integers(min_value=16, max_value=32))


def forms(network: ipaddress.IPv4Network) -> list[str]:
    """Every way Exchange or an admin may write the same addresses."""
    lo, hi = network.network_address, network.broadcast_address
    out = [str(network), f"{lo}-{hi}", f" {lo} - {hi} ", f"{network.network_address + 0}/{network.prefixlen}"]
    if network.prefixlen == 32:
        out += [str(lo), f"{lo}/32"]
    return out


@given(networks)
def test_an_entry_and_its_rewritten_forms_compare_equal(network: ipaddress.IPv4Network) -> None:
    assert len({canonical(form) for form in forms(network)}) == 1


@given(networks, networks)
def test_different_addresses_never_compare_equal(a: ipaddress.IPv4Network, b: ipaddress.IPv4Network) -> None:
    same = (a.network_address, a.broadcast_address) == (b.network_address, b.broadcast_address)
    assert (canonical(str(a)) == canonical(f"{b.network_address}-{b.broadcast_address}")) == same


def _policy_model(entries: list[str]) -> TenantModel:
    document = empty_tenant()
    document["HostedConnectionFilterPolicy"][0]["IPAllowList"] = entries
    return TenantModel(document)


def _allow_list(model: TenantModel) -> list[Any]:
    return list(model.invoke(CmdletCall.of("Get-HostedConnectionFilterPolicy"))[0]["IPAllowList"])


@given(networks.filter(lambda n: n.prefixlen >= 24 and not network_rejected_kind(n)))
def test_adding_an_entry_present_in_another_form_is_a_no_op(network: ipaddress.IPv4Network) -> None:
    """As Exchange's MultiValuedProperty: a duplicate add is dropped silently (by IPRange bounds)."""
    written = f"{network.network_address}-{network.broadcast_address}"
    model = _policy_model([written])
    model.invoke(CmdletCall.of("Set-HostedConnectionFilterPolicy", {
        "Identity": "Default", "IPAllowList": ListEdit(add=(str(network),), remove=())}))
    assert _allow_list(model) == [written]


def test_removing_by_another_form_removes_the_entry() -> None:
    model = _policy_model(["192.0.2.0-192.0.2.255", "198.51.100.7"])
    model.invoke(CmdletCall.of("Set-HostedConnectionFilterPolicy", {
        "Identity": "Default", "IPAllowList": ListEdit(add=(), remove=("192.0.2.0/24", "198.51.100.7/32"))}))
    assert _allow_list(model) == []


def test_ip_smart_host_is_stored_in_brackets_and_compares_equal() -> None:
    model = TenantModel(empty_tenant())
    model.invoke(CmdletCall.of("New-OutboundConnector", {
        "Name": "GW", "SmartHosts": ["192.0.2.25", "Relay.Example.com"], "UseMXRecord": False,
        "IsTransportRuleScoped": True}))
    [shown] = model.invoke(CmdletCall.of("Get-OutboundConnector"))
    assert shown["SmartHosts"] == ["[192.0.2.25]", "Relay.Example.com"]
    spec = OUTBOUND_CONNECTOR.attr("SmartHosts")
    assert normalize_value(spec, tuple(shown["SmartHosts"])) == normalize_value(
        spec, ("192.0.2.25", "relay.example.com"))
    assert normalize_value(spec, ("[192.0.2.25]",)) != normalize_value(spec, ("192.0.2.26",))
