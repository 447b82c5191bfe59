"""Benchmark of the mail-flow model as planning uses it: one Simulator over a plan's 12 states
of a 300-rule / 50-connector tenant (disclaimers, encryption, journal routing, Check Point style,
stop-processing and blocking rules); prints class traces, total and per-state engine ms (median
of repeats) and peak memory. Run: python bench/mailflow.py [--repeat N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.harness import spec_from  # noqa: E402

from exoform.engine.blueprint import blueprint  # noqa: E402
from exoform.engine.mailflow import (  # noqa: E402
    AcceptedDomain, DomainType, Gateway, Intent, MailTenant, Recipient, Simulator, install)
from exoform.engine.model import Kind, Resource  # noqa: E402

RANGES = ["203.0.113.0/24", "198.51.100.0/24"]
CHECK_POINT = ["192.0.2.128/25"]


def foreign_rules() -> list[dict[str, Any]]:
    """297 admin rules of the kinds real tenants hold."""
    rules: list[dict[str, Any]] = []
    for i in range(90):  # disclaimers per department
        rules.append({"Name": f"Disclaimer {i:03}", "State": "Enabled", "Mode": "Enforce", "FromScope": "InOrganization",
                      "SentToScope": "NotInOrganization", "FromMemberOf": [f"dept{i}@contoso.com"],
                      "ApplyHtmlDisclaimerText": f"<p>Department {i}</p>", "ApplyHtmlDisclaimerLocation": "Append"})
    for i in range(40):  # encryption on demand
        rules.append({"Name": f"Encrypt {i:03}", "State": "Enabled", "SubjectContainsWords": [f"[secure-{i}]"],
                      "SentToScope": "NotInOrganization", "ApplyOME": True})
    for i in range(20):  # journal routing for VIPs
        rules.append({"Name": f"Journal VIP {i:03}", "State": "Enabled", "SentTo": [f"vip{i}@contoso.com"],
                      "RouteMessageOutboundConnector": f"Journal {i % 5}", "ExceptIfSenderIpRanges": [f"192.0.2.{i}"]})
    for i in range(60):  # partner spam bypass
        rules.append({"Name": f"Partner SCL {i:03}", "State": "Enabled", "SenderIpRanges": [f"100.{64 + i}.0.0/24"],
                      "SetSCL": -1})
    for i in range(30):  # stop-processing spam tagging
        rules.append({"Name": f"Spam tag {i:03}", "State": "Enabled", "FromScope": "NotInOrganization",
                      "HeaderContainsMessageHeader": f"X-Spam-Flag-{i}", "HeaderContainsWords": ["YES"],
                      "SetHeaderName": f"X-Tagged-{i}", "SetHeaderValue": "1", "StopRuleProcessing": True})
    for i in range(20):  # blocking
        rules.append({"Name": f"Block ext {i:03}", "State": "Enabled" if i % 4 else "Disabled",
                      "AttachmentExtensionMatchesWords": [f"x{i}"], "RejectMessageReasonText": "blocked"})
    for i in range(36):  # audit-mode rules and header stamps
        rules.append({"Name": f"Audit {i:03}", "State": "Enabled", "Mode": "Audit", "SentToScope": "InOrganization",
                      "SetHeaderName": f"X-Audit-{i}", "SetHeaderValue": "1"})
    rules.append({"Name": "Check Point - Protect", "State": "Enabled", "FromScope": "NotInOrganization",
                  "SentToMemberOf": ["checkpoint_inline_incoming@contoso.com"],
                  "RouteMessageOutboundConnector": "Check Point Outbound Connector", "StopRuleProcessing": True,
                  "ExceptIfSenderIpRanges": CHECK_POINT + RANGES, "SetHeaderName": "X-CLOUD-SEC-AV-Info",
                  "SetHeaderValue": "contoso,inline"})
    return [_as_read(r, i) for i, r in enumerate(rules[:297])]


# Get-TransportRule returns every condition and action property, null when unset.
_UNSET = ("ADComparisonAttribute", "AddManagerAsRecipientType", "AddToRecipients", "AnyOfCcHeader",
          "AnyOfRecipientAddressContainsWords", "AnyOfToHeader", "AttachmentContainsWords", "AttachmentSizeOver",
          "BlindCopyTo", "CopyTo", "DeleteMessage", "ExceptIfFrom", "ExceptIfFromMemberOf", "ExceptIfFromScope",
          "ExceptIfHeaderContainsMessageHeader", "ExceptIfHeaderContainsWords", "ExceptIfSentTo",
          "ExceptIfSentToMemberOf", "ExceptIfSentToScope", "ExceptIfSubjectContainsWords", "From", "FromMemberOf",
          "FromScope", "GenerateIncidentReport", "HeaderMatchesMessageHeader", "HeaderMatchesPatterns",
          "MessageSizeOver", "MessageTypeMatches", "ModerateMessageByUser", "PrependSubject", "Quarantine",
          "RecipientDomainIs", "RedirectMessageTo", "RejectMessageReasonText", "RemoveHeader",
          "RouteMessageOutboundConnector", "SCLOver", "SenderDomainIs", "SenderIpRanges", "SentTo", "SentToMemberOf",
          "SentToScope", "SetHeaderName", "SetHeaderValue", "SetSCL", "SubjectContainsWords", "WithImportance")


def _as_read(rule: dict[str, Any], priority: int) -> dict[str, Any]:
    read: dict[str, Any] = {key: None for key in _UNSET}
    read.update({"Priority": priority, "Mode": "Enforce", "StopRuleProcessing": False, "Comments": None,
                 "Guid": f"00000000-0000-4000-8000-{priority:012d}", "Identity": rule["Name"],
                 "RuleErrorAction": "Ignore", "SenderAddressLocation": "Header"})
    read.update(rule)
    return read


def foreign_connectors() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    inbound = [{"Name": f"Partner in {i:02}", "Enabled": True, "ConnectorType": "Partner",
                "SenderDomains": [f"p{i}.example"], "SenderIPAddresses": [f"100.{100 + i}.0.0/24"],
                "RequireTls": True} for i in range(22)]
    inbound.append({"Name": "Inbound from 5f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "ConnectorType": "OnPremises",
                    "ConnectorSource": "HybridWizard", "SenderDomains": ["*"], "SenderIPAddresses": ["100.127.0.25"]})
    outbound = [{"Name": f"Partner out {i:02}", "Enabled": True, "ConnectorType": "Partner",
                 "RecipientDomains": [f"p{i}.example"], "SmartHosts": [f"mx.p{i}.example"], "UseMXRecord": False}
                for i in range(18)]
    outbound += [{"Name": f"Journal {i}", "Enabled": True, "IsTransportRuleScoped": True,
                  "SmartHosts": [f"journal{i}.example"], "UseMXRecord": False} for i in range(5)]
    outbound.append({"Name": "Check Point Outbound Connector", "IsTransportRuleScoped": True,
                     "SmartHosts": ["contoso-1.eu.checkpoint.com"], "UseMXRecord": False})
    outbound.append({"Name": "Outbound to 5f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "ConnectorType": "OnPremises",
                     "RecipientDomains": ["contoso.mail.onmicrosoft.com"], "SmartHosts": ["mail.contoso.com"]})
    return inbound, outbound


def states(tenant: MailTenant, resources: tuple[Resource, ...]) -> list[MailTenant]:
    """The tenant before the plan, after each of its 10 steps, and read again after it;
    exoform's objects are fresh dicts in every state."""
    order = [Kind.CONNECTION_FILTER_ALLOWLIST, Kind.INBOUND_CONNECTOR, Kind.OUTBOUND_CONNECTOR]
    plain = [r for k in order for r in resources if r.address.kind is k]
    rules = [r for r in resources if r.address.kind is Kind.TRANSPORT_RULE]
    steps: list[list[Resource]] = [[]]
    for i in range(len(plain)):
        steps.append(plain[:i + 1])
    for i in range(len(rules)):
        steps.append(plain + [_state(r, "Disabled") for r in rules[:i + 1]])
    for i in range(len(rules)):
        steps.append(plain + [_state(r, "Enabled") for r in rules[:i + 1]] + [_state(r, "Disabled") for r in rules[i + 1:]])
    steps.append(plain + [_state(r, "Enabled") for r in rules])  # after the plan
    steps.append(plain + [_state(r, "Enabled") for r in rules])  # verify: read again (new objects)
    return [install(tenant, step) for step in steps]


def _state(resource: Resource, state: str) -> Resource:
    return replace(resource, attributes=tuple((k, state if k == "State" else v) for k, v in resource.attributes))


def foreign_tenant() -> MailTenant:
    inbound, outbound = foreign_connectors()
    recipients = tuple(Recipient(f"user{i}@contoso.com") for i in range(200)) + tuple(
        Recipient(f"dept{i}@contoso.com", True) for i in range(90))
    domains = (AcceptedDomain("contoso.com"), AcceptedDomain("contoso.onmicrosoft.com"),
               AcceptedDomain("contoso.mail.onmicrosoft.com", DomainType.INTERNAL_RELAY))
    return MailTenant(domains, tuple(inbound), tuple(outbound), tuple(foreign_rules()), (), recipients)


CONFIGS = {
    "in-line, both directions, all users": {"mode": "inline", "directions": ["inbound", "outbound"],
                                            "scope": {"users": "all"}},
    "monitoring, both directions, selected users": {
        "mode": "monitoring", "directions": ["inbound", "outbound"],
        "scope": {"users": "selected", "recipients": ["user1@contoso.com"], "groups": []}},
}


def measure(protection: dict[str, Any], repeat: int) -> None:
    spec = spec_from({"gateway": {"ip_ranges": RANGES, "tenant_info": "bench"}, "protection": protection,
                      "rules": {"enabled": True}}, "bench")
    plan = states(foreign_tenant(), blueprint(spec))
    assert len(plan) == 12 and all(len(s.rules) <= 300 for s in plan)
    wall, cpu, per_state = [], [], []
    for _ in range(repeat):
        simulator = Simulator(Gateway.from_spec(spec), Intent.from_spec(spec))
        times, cpu_started = [], time.process_time()
        for state in plan:
            started = time.perf_counter()
            simulation = simulator.simulate(state)
            times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        wall.append(sum(times))
        per_state.append(times)
    medians = [statistics.median(t[i] for t in per_state) * 1000 for i in range(len(plan))]
    print(f"  {len(plan)} states x {len(simulation.paths)} classes = {len(plan) * len(simulation.paths)} class "
          f"traces per plan (plus the baseline, traced once)")
    print(f"  whole plan: median {statistics.median(wall) * 1000:.1f} ms wall ({statistics.median(cpu) * 1000:.1f} ms "
          f"CPU), min {min(wall) * 1000:.1f} ms, over {repeat} runs")
    print("  per state (median ms): " + ", ".join(f"{m:.1f}" for m in medians))
    print(f"  peak memory (tracemalloc, one plan): {_peak(spec, plan) / 1e6:.1f} MB")
    ids = [f.id for f in simulation.findings]
    print(f"  final state: ok={simulation.ok} safe={simulation.safe}, {len(ids)} findings {ids[:4]}"
          + (" ..." if len(ids) > 4 else ""))


def _peak(spec: Any, plan: list[MailTenant]) -> int:
    tracemalloc.start()
    simulator = Simulator(Gateway.from_spec(spec), Intent.from_spec(spec))
    for state in plan:
        simulator.simulate(state)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    tenant = foreign_tenant()
    print(f"tenant: {len(tenant.rules) + 3} rules, {len(tenant.inbound_connectors) + len(tenant.outbound_connectors) + 2} "
          "connectors once exoform's are in")
    for title, protection in CONFIGS.items():
        print(title)
        measure(protection, args.repeat)


if __name__ == "__main__":
    main()
