"""Properties of the mail-flow model over random tenants (foreign rules with random scopes,
stops and routes, foreign connectors, other gateways, hybrid connectors): every trace ends, is
deterministic (a plan's shared Simulator answers as a fresh one does), and reports at least one
verdict; exoform's canonical install gives every class its intended verdict; removing the
gateway-IP exception makes mail loop; a tenant without exoform's objects bypasses the gateway."""
from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, strategies as st

from support.harness import configs

from exoform.engine.blueprint import INBOUND_RULE, OUTBOUND_RULE, blueprint
from exoform.engine.mailflow import (
    FindingCode, Gateway, Intent, MailTenant, MessageClass, Severity, Simulator, Verdict, install,
    tenant_from_document)
from exoform.engine.model import Resource

from .cases_support import DEFAULT_TENANT, merged, spec_for

FOREIGN_HOSTS = ["contoso-1.eu.checkpoint.com", "eu-smtp-o365-outbound-1.mimecast.com", "smtp.signatures.example"]
FOREIGN_RANGES = ["192.0.2.128/25", "100.64.9.0/24", "207.211.31.0/25"]
GATEWAY_HOST = "ces.metadefender.opswat.com"
_FAILURE_CODES = {FindingCode.LOOP, FindingCode.REJECTED, FindingCode.LOST, FindingCode.UNCERTAIN}


@st.composite
def foreign_rule(draw: st.DrawFn, index: int, connectors: list[str], routing: bool) -> dict[str, Any]:
    rule: dict[str, Any] = {"Name": f"Foreign {index}", "Priority": index,
                            "State": draw(st.sampled_from(["Enabled", "Enabled", "Disabled"]))}
    if draw(st.integers(0, 4)) == 0:
        rule["Mode"] = draw(st.sampled_from(["Audit", "AuditAndNotify"]))
    for key in ("FromScope", "SentToScope"):
        choice = draw(st.sampled_from([None, "InOrganization", "NotInOrganization"]))
        if choice:
            rule[key] = choice
    optional: dict[str, st.SearchStrategy[Any]] = {
        "SentTo": st.just(["bob@contoso.com"]), "SentToMemberOf": st.just(["finance@contoso.com"]),
        "SenderIpRanges": st.lists(st.sampled_from(FOREIGN_RANGES + ["203.0.113.0/24"]), min_size=1, max_size=2),
        "ExceptIfSenderIpRanges": st.lists(st.sampled_from(FOREIGN_RANGES + ["203.0.113.0/24", "198.51.100.0/24"]),
                                           min_size=1, max_size=3),
        "SubjectContainsWords": st.just(["newsletter"]), "ApplyHtmlDisclaimerText": st.just("<p>x</p>"),
    }
    for key, values in optional.items():
        if draw(st.integers(0, 5)) == 0:
            rule[key] = draw(values)
    if draw(st.booleans()):
        rule["SetHeaderName"], rule["SetHeaderValue"] = draw(st.sampled_from(["X-Foreign", "X-CLOUD-SEC-AV-Info"])), "1"
    if routing:
        rule.update(_routing_actions(draw, connectors))
    return rule


def _routing_actions(draw: st.DrawFn, connectors: list[str]) -> dict[str, Any]:
    actions: dict[str, Any] = {}
    if len(connectors) > 0 and draw(st.booleans()):
        actions["RouteMessageOutboundConnector"] = draw(st.sampled_from(connectors))
    if draw(st.booleans()):
        actions["StopRuleProcessing"] = True
    if draw(st.integers(0, 5)) == 0:
        actions["BlindCopyTo"] = ["archive@partner.example"]
    if draw(st.integers(0, 6)) == 0:
        actions["RejectMessageReasonText"] = "no"
    return actions


@st.composite
def foreign_tenant(draw: st.DrawFn, routing: bool = True) -> MailTenant:
    outbound: list[dict[str, Any]] = [{"Name": "Partner out", "RecipientDomains": ["partner.example"],
                                       "SmartHosts": ["mx.partner.example"], "UseMXRecord": False}]
    inbound: list[dict[str, Any]] = [{"Name": "Partner in", "ConnectorType": "Partner",
                                      "SenderDomains": ["partner.example"], "SenderIPAddresses": ["192.0.2.10"]}]
    scoped = []
    if routing:
        for i in range(draw(st.integers(0, 2))):
            scoped.append(f"Foreign gateway {i}")
            outbound.append({"Name": scoped[-1], "IsTransportRuleScoped": True, "UseMXRecord": False,
                             "SmartHosts": [draw(st.sampled_from(FOREIGN_HOSTS))]})
        if draw(st.integers(0, 3)) == 0:
            host = draw(st.sampled_from(FOREIGN_HOSTS + [GATEWAY_HOST]))
            outbound.append({"Name": "All mail", "RecipientDomains": ["*"], "SmartHosts": [host], "UseMXRecord": False})
        if draw(st.integers(0, 3)) == 0:
            inbound.append({"Name": "Foreign return", "ConnectorType": "OnPremises", "SenderDomains": ["*"],
                            "SenderIPAddresses": [draw(st.sampled_from(FOREIGN_RANGES))]})
    if draw(st.integers(0, 3)) == 0:  # a hybrid deployment
        inbound.append({"Name": "Inbound from 5f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "ConnectorType": "OnPremises",
                        "ConnectorSource": "HybridWizard", "SenderDomains": ["*"], "SenderIPAddresses": ["192.0.2.25"]})
        outbound.append({"Name": "Outbound to 5f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "ConnectorType": "OnPremises",
                         "RecipientDomains": ["contoso.mail.onmicrosoft.com"], "SmartHosts": ["mail.contoso.com"]})
    count = draw(st.integers(0, 5))
    rules = [draw(foreign_rule(i, scoped, routing)) for i in range(count)]
    document = merged(DEFAULT_TENANT, {"InboundConnector": inbound, "OutboundConnector": outbound, "TransportRule": rules})
    return tenant_from_document(document)


def _simulate(tenant: MailTenant, spec: Any) -> Any:
    return Simulator(Gateway.from_spec(spec), Intent.from_spec(spec)).simulate(tenant)


def _staged(resources: tuple[Resource, ...], state: str) -> tuple[Resource, ...]:
    return tuple(replace(r, attributes=tuple((k, state if k == "State" else v) for k, v in r.attributes))
                 for r in resources)


@given(foreign_tenant(), configs())
def test_traces_end_deterministically_with_a_verdict_for_every_path(tenant: MailTenant, config: dict[str, Any]) -> None:
    spec = spec_for(config)
    resources = blueprint(spec)
    plan = [tenant, install(tenant, [r for r in resources if r.address.kind.value != "transport_rule"], spec.placement),
            install(tenant, _staged(resources, "Disabled"), spec.placement),
            install(tenant, _staged(resources, "Enabled"), spec.placement)]
    shared = Simulator(Gateway.from_spec(spec), Intent.from_spec(spec))
    for state in plan:
        simulation = shared.simulate(state)
        # The cache a plan's Simulator keeps changes nothing: a fresh one answers the same.
        assert simulation == _simulate(state, spec)
        assert simulation == shared.simulate(state)
        for path in simulation.paths:
            assert path.possible and path.possible == {b.verdict for b in path.branches}
            assert path.ok == (path.possible <= path.expectation.acceptable)
        ids = [f.id for f in simulation.findings]
        assert ids == sorted(set(ids))
        for finding in simulation.findings:
            assert (finding.severity is Severity.ERROR) == (finding.code in _FAILURE_CODES)
            assert finding.classes


def _combinations() -> list[dict[str, Any]]:
    scopes = [{"users": "all"}, {"users": "selected", "recipients": ["alice@contoso.com"]},
              {"users": "selected", "groups": ["finance@contoso.com"]},
              {"users": "selected", "recipients": ["alice@contoso.com"], "groups": ["finance@contoso.com"]}]
    directions = [["inbound"], ["outbound"], ["inbound", "outbound"]]
    out = []
    for mode, direction, scope, placement in itertools.product(("inline", "monitoring"), directions, scopes,
                                                               ("top", "bottom")):
        out.append({"protection": {"mode": mode, "directions": direction, "scope": scope},
                    "rules": {"enabled": True, "placement": placement}})
    return out


def _mixed(config: dict[str, Any]) -> bool:
    scope = config["protection"]["scope"]
    return bool(scope.get("recipients") and scope.get("groups"))


@pytest.mark.parametrize("config", _combinations(), ids=lambda c: "-".join(
    [c["protection"]["mode"], "+".join(c["protection"]["directions"]), c["protection"]["scope"]["users"]
     + ("-mixed" if _mixed(c) else "-groups" if c["protection"]["scope"].get("groups") else ""),
     c["rules"]["placement"]]))
def test_canonical_install_gives_every_class_its_intended_verdict(config: dict[str, Any]) -> None:
    spec = spec_for(config)
    plain = tenant_from_document(DEFAULT_TENANT)
    simulation = _simulate(install(plain, blueprint(spec), spec.placement), spec)
    for path in simulation.paths:
        # People and groups together get a rule each (one rule would AND them), so a listed
        # user is protected whatever the model knows of their memberships.
        assert path.possible == {path.expectation.intended}, (path.message_class, path.possible)
    assert simulation.safe
    assert not any(f.code is FindingCode.BYPASS for f in simulation.findings)


@given(foreign_tenant(routing=False), configs())
def test_canonical_install_without_foreign_routing_is_as_intended(tenant: MailTenant, config: dict[str, Any]) -> None:
    config = {**config, "rules": {**config.get("rules", {}), "enabled": True}}
    spec = spec_for(config)
    simulation = _simulate(install(tenant, blueprint(spec), spec.placement), spec)
    for path in simulation.paths:
        acceptable = path.expectation.acceptable
        # Foreign rules that may match (subject words, Audit stops, unknown membership) can add
        # alternatives, but never a failure and never the gateway for a class that must skip it.
        assert path.expectation.intended in path.possible or Verdict.WITHHELD in path.possible or \
            Verdict.BYPASSED in path.possible, (path.message_class, path.possible)
        assert not path.possible & {Verdict.LOOP, Verdict.REJECTED, Verdict.LOST}, (path.message_class, path.possible)
        if path.expectation.intended is Verdict.BYPASSED:
            assert path.possible <= acceptable, (path.message_class, path.possible)


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
@pytest.mark.parametrize("placement", ["top", "bottom"])
def test_removing_the_gateway_ip_exception_makes_mail_loop(direction: str, placement: str) -> None:
    spec = spec_for({"protection": {"mode": "inline", "directions": ["inbound", "outbound"]},
                     "rules": {"enabled": True, "placement": placement}})
    target = INBOUND_RULE if direction == "inbound" else OUTBOUND_RULE
    resources = tuple(
        replace(r, attributes=tuple((k, v) for k, v in r.attributes if k != "ExceptIfSenderIpRanges"))
        if r.address == target else r for r in blueprint(spec))
    simulation = _simulate(install(tenant_from_document(DEFAULT_TENANT), resources, spec.placement), spec)
    path = simulation.path(MessageClass(direction))
    assert path is not None and path.possible == {Verdict.LOOP}
    rule = dict(next(r for r in resources if r.address == target).attributes)["Name"]
    assert f"loop:{rule}" in {f.id for f in simulation.findings}
    assert not simulation.safe


@given(foreign_tenant(routing=False), configs())
def test_a_tenant_without_exoforms_objects_bypasses_the_gateway(tenant: MailTenant, config: dict[str, Any]) -> None:
    simulation = _simulate(tenant, spec_for(config))
    for path in simulation.paths:
        assert path.possible <= {Verdict.BYPASSED, Verdict.WITHHELD}, (path.message_class, path.possible)
        assert Verdict.BYPASSED in path.possible


@given(foreign_tenant(routing=True), configs())
def test_without_exoforms_objects_nothing_reaches_the_gateway_unless_a_connector_sends_there(
        tenant: MailTenant, config: dict[str, Any]) -> None:
    simulation = _simulate(tenant, spec_for(config))
    to_gateway = any(GATEWAY_HOST in str(c.get("SmartHosts")) for c in tenant.outbound_connectors)
    for path in simulation.paths:
        if not to_gateway:
            assert not path.possible & {Verdict.SCANNED, Verdict.COPIED, Verdict.LOST}, path.possible
