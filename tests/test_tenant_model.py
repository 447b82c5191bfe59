"""The simulated tenant: cmdlet semantics, Get- shapes and every server-side rule, both ways."""
from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest

from exoform.engine import exchange
from hypothesis import given, settings
from hypothesis import strategies as st

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.errors import (
    AlreadyExists,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    ProviderError,
    StillReferenced,
    ValidationFailed,
)
from exoform.providers import tenant_model as tm
from exoform.providers.tenant_model import (
    ALLOWED_PARAMETERS,
    TenantModel,
    document_issues,
    dump_tenant,
    empty_tenant,
)

RECIPIENTS = [
    {"address": "alice@contoso.com", "type": "UserMailbox",
     "proxy_addresses": ["alice.smith@contoso.com", "alice@contoso.onmicrosoft.com"]},
    {"address": "bob@contoso.com", "type": "MailUser"},
    {"address": "sales@contoso.com", "type": "MailUniversalDistributionGroup", "name": "Sales Team",
     "alias": "sales"},
    {"address": "secops@contoso.com", "type": "MailUniversalSecurityGroup"},
]
OUTBOUND: dict[str, Any] = {
    "Name": "Gateway - Outbound",
    "ConnectorType": "Partner",
    "SmartHosts": ["ces.example.net"],
    "UseMXRecord": False,
    "TlsSettings": "EncryptionOnly",
    "IsTransportRuleScoped": True,
}
INBOUND: dict[str, Any] = {
    "Name": "Gateway - Inbound",
    "SenderDomains": ["*"],
    "SenderIPAddresses": ["203.0.113.0/24"],
    "ConnectorType": "Partner",
    "RequireTls": True,
}


def make_model(**overrides: Any) -> TenantModel:
    document = {
        **empty_tenant(),
        "organization": "contoso.onmicrosoft.com",
        "accepted_domains": ["contoso.com"],
        "recipients": RECIPIENTS,
        **overrides,
    }
    counter = itertools.count(1)
    return TenantModel(document, new_guid=lambda: str(uuid.UUID(int=next(counter))))


def run(model: TenantModel, cmdlet: str, **params: Any) -> list[dict[str, Any]]:
    return model.invoke(CmdletCall.of(cmdlet, params))


def rejected(
    model: TenantModel, error: type[ProviderError], cmdlet: str, **params: Any
) -> ProviderError:
    """Run a call that must fail with `error`, and prove it changed nothing."""
    before = dump_tenant(model.document())
    with pytest.raises(error) as caught:
        run(model, cmdlet, **params)
    assert dump_tenant(model.document()) == before
    assert caught.value.cmdlet == cmdlet
    assert caught.value.exception_type
    return caught.value


@pytest.fixture
def model() -> TenantModel:
    return make_model()


@pytest.fixture
def routed(model: TenantModel) -> TenantModel:
    """A tenant with the gateway's outbound connector and a rule routing through it."""
    run(model, "New-OutboundConnector", **OUTBOUND)
    run(model, "New-TransportRule", Name="Route", RouteMessageOutboundConnector=OUTBOUND["Name"])
    return model


def rule_names(model: TenantModel) -> list[str]:
    rules = run(model, "Get-TransportRule")
    assert [rule["Priority"] for rule in rules] == list(range(len(rules)))
    return [rule["Name"] for rule in rules]


# ---- the parameter table ------------------------------------------------------------------


def test_table_names_every_cmdlet_the_sandbox_runs() -> None:
    nouns = ("InboundConnector", "OutboundConnector", "TransportRule")
    expected = {f"{verb}-{noun}" for verb in ("Get", "New", "Set", "Remove") for noun in nouns}
    expected |= {"Enable-TransportRule", "Disable-TransportRule"}
    expected |= {"Get-HostedConnectionFilterPolicy", "Set-HostedConnectionFilterPolicy"}
    expected |= {"Get-AcceptedDomain", "Get-Recipient"}  # read at plan time
    assert set(ALLOWED_PARAMETERS) == expected


@pytest.mark.parametrize(
    ("cmdlet", "needed"),
    [
        ("New-InboundConnector", {"Name", "SenderDomains", "SenderIPAddresses", "ConnectorType",
                                  "RequireTls", "RestrictDomainsToIPAddresses",
                                  "RestrictDomainsToCertificate", "Comment", "Enabled"}),
        ("Set-InboundConnector", {"Identity", "SenderIPAddresses", "ConnectorType", "Comment"}),
        ("New-OutboundConnector", {"Name", "ConnectorType", "SmartHosts", "UseMXRecord",
                                   "TlsSettings", "IsTransportRuleScoped", "RecipientDomains",
                                   "Comment", "Enabled"}),
        ("Set-OutboundConnector", {"Identity", "IsTransportRuleScoped", "RecipientDomains",
                                   "SmartHosts", "Enabled", "Name"}),
        ("New-TransportRule", {"Name", "Priority", "Enabled", "Mode", "Comments", "SentToScope",
                               "FromScope", "SenderIpRanges", "ExceptIfSenderIpRanges",
                               "RemoveHeader", "SetHeaderName", "SetHeaderValue",
                               "RouteMessageOutboundConnector", "BlindCopyTo", "SentTo",
                               "SentToMemberOf", "From", "FromMemberOf",
                               "ExceptIfHeaderContainsMessageHeader",
                               "ExceptIfHeaderContainsWords", "StopRuleProcessing"}),
        ("Set-TransportRule", {"Identity", "Priority", "RouteMessageOutboundConnector",
                               "Comments", "StopRuleProcessing"}),
        ("Remove-TransportRule", {"Identity", "Confirm"}),
        ("Enable-TransportRule", {"Identity", "Confirm", "Mode"}),
        ("Disable-TransportRule", {"Identity", "Confirm"}),
        ("Remove-InboundConnector", {"Identity", "Confirm"}),
        ("Remove-OutboundConnector", {"Identity", "Confirm"}),
        ("Set-HostedConnectionFilterPolicy", {"Identity", "IPAllowList"}),
        ("Get-TransportRule", {"Identity", "State"}),
        ("Get-OutboundConnector", {"Identity", "IsTransportRuleScoped"}),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_table_includes_what_exoform_sends(cmdlet: str, needed: set[str]) -> None:
    assert needed <= ALLOWED_PARAMETERS[cmdlet]


def test_table_leaves_out_on_premises_only_and_undocumented_parameters() -> None:
    for cmdlet, params in ALLOWED_PARAMETERS.items():
        assert "DomainController" not in params, cmdlet
        assert "IncidentReportOriginalMail" not in params, cmdlet
    # Rules are enabled/disabled by their own cmdlets after creation.
    assert "Enabled" in ALLOWED_PARAMETERS["New-TransportRule"]
    assert "Enabled" not in ALLOWED_PARAMETERS["Set-TransportRule"]
    # Validation fields exist only on Set-OutboundConnector; Get- takes no Confirm.
    assert "ValidationRecipients" not in ALLOWED_PARAMETERS["New-OutboundConnector"]
    assert not any("Confirm" in ALLOWED_PARAMETERS[c] for c in ALLOWED_PARAMETERS if c[:4] == "Get-")


def test_every_changing_cmdlet_documents_confirm() -> None:
    for cmdlet, params in ALLOWED_PARAMETERS.items():
        if not cmdlet.startswith("Get-"):
            assert "Confirm" in params, cmdlet


# ---- binding -------------------------------------------------------------------------------


@pytest.mark.parametrize("cmdlet", ["Get-Mailbox", "New-JournalRule", "Set-TransportConfig"])
def test_unknown_cmdlet_is_permission_denied(model: TenantModel, cmdlet: str) -> None:
    with pytest.raises(PermissionDenied) as caught:
        run(model, cmdlet)
    assert caught.value.status == 403


@pytest.mark.parametrize(
    ("cmdlet", "params", "bad"),
    [
        ("New-TransportRule", {"Name": "x", "Bogus": 1}, "Bogus"),
        ("Set-TransportRule", {"Identity": "x", "Enabled": False}, "Enabled"),
        ("Remove-InboundConnector", {"Identity": "x", "Force": True}, "Force"),
        ("Get-TransportRule", {"DomainController": "dc1.contoso.com"}, "DomainController"),
        ("New-OutboundConnector", {**OUTBOUND, "ValidationRecipients": ["a@b.c"]},
         "ValidationRecipients"),
    ],
    ids=["new-rule", "set-rule-enabled", "remove-force", "on-premises-only", "set-only"],
)
def test_unknown_parameter_is_refused_by_name(
    model: TenantModel, cmdlet: str, params: dict[str, Any], bad: str
) -> None:
    error = rejected(model, ValidationFailed, cmdlet, **params)
    assert f"'{bad}'" in error.detail
    assert error.exception_type == tm.EX_PARAMETER_BINDING
    assert error.status == 400


def test_parameter_names_match_ignoring_case(model: TenantModel) -> None:
    created = model.invoke(CmdletCall.of("new-transportrule", {"name": "R", "sentToScope": "inorganization"}))
    assert created[0]["SentToScope"] == "InOrganization"


@pytest.mark.parametrize(
    ("cmdlet", "params", "missing"),
    [
        ("New-InboundConnector", {"Name": "In"}, "SenderDomains"),
        ("New-TransportRule", {"Priority": 0}, "Name"),
        ("Remove-TransportRule", {"Confirm": False}, "Identity"),
        ("Set-HostedConnectionFilterPolicy", {"IPAllowList": []}, "Identity"),
    ],
    ids=["sender-domains", "name", "identity", "policy-identity"],
)
def test_missing_mandatory_parameter(
    model: TenantModel, cmdlet: str, params: dict[str, Any], missing: str
) -> None:
    error = rejected(model, ValidationFailed, cmdlet, **params)
    assert missing in error.detail


@pytest.mark.parametrize(
    ("cmdlet", "params"),
    [
        ("New-TransportRule", {"Name": "R", "Enabled": "false"}),
        ("New-TransportRule", {"Name": "R", "Priority": "0"}),
        ("New-TransportRule", {"Name": "R", "Priority": True}),
        ("New-TransportRule", {"Name": ["R"]}),
        ("New-TransportRule", {"Name": "R", "RemoveHeader": ["X-A", "X-B"]}),
        ("New-OutboundConnector", {**OUTBOUND, "IsTransportRuleScoped": 1}),
        ("New-InboundConnector", {**INBOUND, "Confirm": "no"}),
        ("Set-OutboundConnector", {"Identity": "x", "Enabled": None}),
        ("New-TransportRule", {"Name": "R", "Mode": None}),
    ],
    ids=["bool-as-text", "int-as-text", "int-as-bool", "name-list", "scalar-list", "bool-as-int",
         "switch-as-text", "null-bool", "null-enum"],
)
def test_wrongly_typed_values_are_refused(
    model: TenantModel, cmdlet: str, params: dict[str, Any]
) -> None:
    error = rejected(model, ValidationFailed, cmdlet, **params)
    assert error.exception_type == tm.EX_PARAMETER_BINDING


# ---- Get --------------------------------------------------------------------------------------


def test_empty_tenant_has_only_the_default_policy() -> None:
    model = TenantModel(empty_tenant())
    assert run(model, "Get-InboundConnector") == []
    assert run(model, "Get-OutboundConnector") == []
    assert run(model, "Get-TransportRule") == []
    [policy] = run(model, "Get-HostedConnectionFilterPolicy")
    assert policy["Name"] == policy["Identity"] == "Default"
    assert policy["IPAllowList"] == []
    assert policy["IsDefault"] is True
    assert model.document()["organization"] == "sandbox.onmicrosoft.com"


def test_get_returns_all_or_one_by_name_or_guid(model: TenantModel) -> None:
    first = run(model, "New-InboundConnector", **INBOUND)[0]
    run(model, "New-InboundConnector", **{**INBOUND, "Name": "Second"})
    assert [c["Name"] for c in run(model, "Get-InboundConnector")] == [INBOUND["Name"], "Second"]
    assert run(model, "Get-InboundConnector", Identity="gateway - INBOUND") == [first]
    assert run(model, "Get-InboundConnector", Identity=first["Guid"].upper()) == [first]
    # Like Exchange, a null Identity means "all" (which is why exoform never sends one).
    assert len(run(model, "Get-InboundConnector", Identity=None)) == 2


@pytest.mark.parametrize(
    "cmdlet",
    ["Get-InboundConnector", "Set-OutboundConnector", "Remove-TransportRule",
     "Enable-TransportRule", "Get-HostedConnectionFilterPolicy"],
)
def test_unknown_identity_is_not_found(model: TenantModel, cmdlet: str) -> None:
    error = rejected(model, NotFound, cmdlet, Identity="nope")
    assert error.exception_type == tm.EX_NOT_FOUND
    assert "couldn't be found" in error.detail
    assert error.status == 404


def test_get_filters_apply_only_when_passed(model: TenantModel) -> None:
    run(model, "New-OutboundConnector", **OUTBOUND)
    run(model, "New-OutboundConnector", Name="Partner", RecipientDomains=["fabrikam.com"])
    run(model, "New-TransportRule", Name="On")
    run(model, "New-TransportRule", Name="Off", Enabled=False)
    scoped = run(model, "Get-OutboundConnector", IsTransportRuleScoped=True)
    assert [c["Name"] for c in scoped] == [OUTBOUND["Name"]]
    assert [r["Name"] for r in run(model, "Get-TransportRule", State="disabled")] == ["Off"]
    assert len(run(model, "Get-TransportRule")) == 2
    rejected(model, ValidationFailed, "Get-TransportRule", State="Sleeping")


# ---- shapes of created objects -----------------------------------------------------------------


def test_new_inbound_connector_shows_defaults(model: TenantModel) -> None:
    [created] = run(model, "New-InboundConnector", Name="In", SenderDomains="*")
    assert created["Guid"] == str(uuid.UUID(int=1))
    assert created["Identity"] == created["Name"] == "In"
    assert created["SenderDomains"] == ["*"]  # a single value becomes a one-element list
    assert created["Enabled"] is True
    assert created["ConnectorType"] == "Partner"
    assert created["Comment"] is None
    assert created["RequireTls"] is True
    assert created["RestrictDomainsToIPAddresses"] is False
    assert created["RestrictDomainsToCertificate"] is False
    assert created["SenderIPAddresses"] == []
    assert run(model, "Get-InboundConnector", Identity="In") == [created]


def test_new_outbound_connector_shows_defaults(model: TenantModel) -> None:
    [created] = run(model, "New-OutboundConnector", Name="Out", RecipientDomains="fabrikam.com")
    assert created["RecipientDomains"] == ["fabrikam.com"]
    assert created["UseMXRecord"] is True
    assert created["TlsSettings"] is None
    assert created["IsTransportRuleScoped"] is False
    assert created["SmartHosts"] == []
    assert created["Enabled"] is True
    assert created["ConnectorType"] == "Partner"
    assert "RequireTls" not in created  # outbound connectors have no RequireTls


def test_new_transport_rule_shows_every_property_exoform_reads(model: TenantModel) -> None:
    [created] = run(model, "New-TransportRule", Name="R", SenderIpRanges="198.51.100.7",
                    Comments="owned by exoform")
    for name in tm.RULE_NULL_PROPERTIES:
        assert name in created
    assert created["SenderIpRanges"] == ["198.51.100.7"]
    assert created["SetHeaderName"] is None
    assert created["State"] == "Enabled"
    assert created["Mode"] == "Enforce"
    assert created["Priority"] == 0
    assert created["StopRuleProcessing"] is False
    assert created["Comments"] == "owned by exoform"
    assert "Enabled" not in created
    assert not any(key.startswith("When") for key in created)  # no timestamps


# ---- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmdlet", "params"),
    [
        ("New-InboundConnector", INBOUND),
        ("New-OutboundConnector", OUTBOUND),
        ("New-TransportRule", {"Name": "Gateway - Inbound emails"}),
    ],
    ids=["inbound", "outbound", "rule"],
)
def test_names_are_unique_per_type_ignoring_case(
    model: TenantModel, cmdlet: str, params: dict[str, Any]
) -> None:
    run(model, cmdlet, **params)
    error = rejected(model, AlreadyExists, cmdlet, **{**params, "Name": params["Name"].upper()})
    # Exchange's types: a rule name is a plain ArgumentException, connectors have their own.
    noun = cmdlet.split("-", 1)[1]
    assert error.exception_type == exchange.EX_CONNECTOR_EXISTS.get(noun, exchange.EX_ARGUMENT)
    assert "already exists" in error.detail


def test_same_name_in_different_types_is_fine(model: TenantModel) -> None:
    run(model, "New-InboundConnector", **{**INBOUND, "Name": "Gateway"})
    run(model, "New-OutboundConnector", **{**OUTBOUND, "Name": "Gateway"})
    run(model, "New-TransportRule", Name="Gateway")


def test_rename_onto_another_name_is_refused(model: TenantModel) -> None:
    run(model, "New-TransportRule", Name="A")
    run(model, "New-TransportRule", Name="B")
    rejected(model, AlreadyExists, "Set-TransportRule", Identity="B", Name="a")
    run(model, "Set-TransportRule", Identity="B", Name="b")  # a case-only change is no clash
    assert rule_names(model) == ["A", "b"]
    assert run(model, "Get-TransportRule", Identity="b")[0]["Identity"] == "b"


@pytest.mark.parametrize(
    ("cmdlet", "params"),
    [("New-TransportRule", {}), ("New-OutboundConnector", OUTBOUND)],
    ids=["rule", "outbound"],
)
def test_names_are_at_most_64_characters(
    model: TenantModel, cmdlet: str, params: dict[str, Any]
) -> None:
    run(model, cmdlet, **{**params, "Name": "x" * 64})
    error = rejected(model, ValidationFailed, cmdlet, **{**params, "Name": "y" * 65})
    assert "64" in error.detail


def test_at_most_300_transport_rules(model: TenantModel) -> None:
    rules = [{"Name": f"rule {i}", "Priority": i} for i in range(300)]
    model = make_model(TransportRule=rules)
    error = rejected(model, LimitExceeded, "New-TransportRule", Name="one too many")
    assert error.exception_type == exchange.EX_INVALID_OPERATION  # ErrorTooManyTransportRules
    run(model, "Remove-TransportRule", Identity="rule 0", Confirm=False)
    run(model, "New-TransportRule", Name="fits again")


# ---- priorities -------------------------------------------------------------------------------


def test_new_rule_priority_inserts_and_defaults_to_last(model: TenantModel) -> None:
    run(model, "New-TransportRule", Name="A")
    run(model, "New-TransportRule", Name="B")
    run(model, "New-TransportRule", Name="Top", Priority=0)
    run(model, "New-TransportRule", Name="Middle", Priority=2)
    run(model, "New-TransportRule", Name="End", Priority=4)
    run(model, "New-TransportRule", Name="Last")
    assert rule_names(model) == ["Top", "A", "Middle", "B", "End", "Last"]


def test_set_priority_moves_and_remove_compacts(model: TenantModel) -> None:
    for name in "ABCD":
        run(model, "New-TransportRule", Name=name)
    run(model, "Set-TransportRule", Identity="A", Priority=2)
    assert rule_names(model) == ["B", "C", "A", "D"]
    run(model, "Set-TransportRule", Identity="D", Priority=0)
    assert rule_names(model) == ["D", "B", "C", "A"]
    run(model, "Remove-TransportRule", Identity="B", Confirm=False)
    assert rule_names(model) == ["D", "C", "A"]


@pytest.mark.parametrize(
    ("cmdlet", "params"),
    [
        ("New-TransportRule", {"Name": "N", "Priority": 3}),
        ("New-TransportRule", {"Name": "N", "Priority": -1}),
        ("Set-TransportRule", {"Identity": "A", "Priority": 2}),
        ("Set-TransportRule", {"Identity": "A", "Priority": -1}),
    ],
    ids=["new-past-end", "new-negative", "set-past-end", "set-negative"],
)
def test_priority_out_of_range_is_refused(
    model: TenantModel, cmdlet: str, params: dict[str, Any]
) -> None:
    run(model, "New-TransportRule", Name="A")
    run(model, "New-TransportRule", Name="B")
    rejected(model, ValidationFailed, cmdlet, **params)


def test_file_priorities_are_put_in_order_on_load() -> None:
    model = make_model(TransportRule=[{"Name": "late", "Priority": 7}, {"Name": "early", "Priority": 2},
                                      {"Name": "unset"}])
    assert rule_names(model) == ["early", "late", "unset"]


@st.composite
def rule_operations(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """A random sequence of (operation, target index, priority) over a growing rule list."""
    size, operations = 0, []
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        choices = ["new", "new-at"] + (["move", "remove"] if size else [])
        op = draw(st.sampled_from(choices))
        target = draw(st.integers(min_value=0, max_value=max(size - 1, 0)))
        limit = size if op.startswith("new") else size - 1
        operations.append((op, target, draw(st.integers(min_value=0, max_value=max(limit, 0)))))
        size += {"new": 1, "new-at": 1, "move": 0, "remove": -1}[op]
    return operations


@settings(max_examples=60, deadline=None)
@given(rule_operations())
def test_priorities_stay_contiguous_and_match_a_list_model(
    operations: list[tuple[str, int, int]],
) -> None:
    model, expected, serial = make_model(), [], itertools.count()
    for op, target, priority in operations:
        if op == "new":
            expected.append(name := f"r{next(serial)}")
            run(model, "New-TransportRule", Name=name)
        elif op == "new-at":
            expected.insert(priority, name := f"r{next(serial)}")
            run(model, "New-TransportRule", Name=name, Priority=priority)
        elif op == "move":
            expected.insert(priority, name := expected.pop(target))
            run(model, "Set-TransportRule", Identity=name, Priority=priority)
        else:
            run(model, "Remove-TransportRule", Identity=expected.pop(target), Confirm=False)
        assert rule_names(model) == expected


# ---- state and mode --------------------------------------------------------------------------------


def test_rule_state_follows_enabled_and_enable_disable(model: TenantModel) -> None:
    [created] = run(model, "New-TransportRule", Name="R", Enabled=False)
    assert created["State"] == "Disabled"
    run(model, "Enable-TransportRule", Identity="R", Confirm=False)
    assert run(model, "Get-TransportRule", Identity="R")[0]["State"] == "Enabled"
    run(model, "Disable-TransportRule", Identity="r", Confirm=False)
    assert run(model, "Get-TransportRule", Identity="R")[0]["State"] == "Disabled"
    run(model, "Enable-TransportRule", Identity="R", Mode="Audit")
    enabled = run(model, "Get-TransportRule", Identity="R")[0]
    assert (enabled["State"], enabled["Mode"]) == ("Enabled", "Audit")


@pytest.mark.parametrize("mode", ["Audit", "AuditAndNotify", "Enforce", "auditandnotify"])
def test_mode_accepts_documented_values(model: TenantModel, mode: str) -> None:
    [created] = run(model, "New-TransportRule", Name="R", Mode=mode)
    assert created["Mode"].lower() == mode.lower()


@pytest.mark.parametrize(
    ("param", "value"),
    [("Mode", "Test"), ("SentToScope", "ExternalPartner"), ("FromScope", "Anywhere"),
     ("ExceptIfSentToScope", "Internal")],
)
def test_rule_enums_refuse_other_values(model: TenantModel, param: str, value: str) -> None:
    error = rejected(model, ValidationFailed, "New-TransportRule", Name="R", **{param: value})
    assert "enumerator" in error.detail


# ---- routing through an outbound connector ------------------------------------------------------


def test_route_needs_an_existing_enabled_rule_scoped_connector(model: TenantModel) -> None:
    [connector] = run(model, "New-OutboundConnector", **OUTBOUND)
    run(model, "New-OutboundConnector", Name="Disabled", Enabled=False,
        IsTransportRuleScoped=True)
    run(model, "New-OutboundConnector", Name="Unscoped", RecipientDomains=["fabrikam.com"])
    for target in ("Missing", "Disabled", "Unscoped"):
        rejected(model, ValidationFailed, "New-TransportRule", Name="R",
                 RouteMessageOutboundConnector=target)
    # By Guid is fine too; the rule stores the connector's name.
    [rule] = run(model, "New-TransportRule", Name="R", RouteMessageOutboundConnector=connector["Guid"])
    assert rule["RouteMessageOutboundConnector"] == OUTBOUND["Name"]


@pytest.mark.parametrize(
    ("cmdlet", "params"),
    [
        ("Remove-OutboundConnector", {"Confirm": False}),
        ("Set-OutboundConnector", {"Enabled": False}),
        ("Set-OutboundConnector", {"IsTransportRuleScoped": False,
                                   "RecipientDomains": ["fabrikam.com"]}),
        ("Set-OutboundConnector", {"Name": "Renamed"}),
    ],
    ids=["remove", "disable", "unscope", "rename"],
)
def test_referenced_connector_is_protected(
    routed: TenantModel, cmdlet: str, params: dict[str, Any]
) -> None:
    error = rejected(routed, StillReferenced, cmdlet, Identity=OUTBOUND["Name"], **params)
    assert error.exception_type == tm.EX_STILL_REFERENCED
    assert "'Route'" in error.detail
    # Once the rule lets go (detached with $null), the same change goes through.
    run(routed, "Set-TransportRule", Identity="Route", RouteMessageOutboundConnector=None)
    run(routed, cmdlet, Identity=OUTBOUND["Name"], **params)


def test_referenced_connector_may_still_change_other_settings(routed: TenantModel) -> None:
    run(routed, "Set-OutboundConnector", Identity=OUTBOUND["Name"], Comment="note",
        SmartHosts=["other.example.net"], Name=OUTBOUND["Name"].upper())


# ---- outbound connector rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"IsTransportRuleScoped": True}, True),
        ({"RecipientDomains": ["metadefender.email"]}, True),
        ({"AllAcceptedDomains": True}, True),
        ({"IsTransportRuleScoped": True, "RecipientDomains": ["metadefender.email"]}, False),
        ({}, False),
        ({"IsTransportRuleScoped": False, "RecipientDomains": []}, False),
    ],
    ids=["scoped", "domains", "all-accepted", "both", "neither", "neither-explicit"],
)
def test_outbound_is_rule_scoped_xor_has_recipient_domains(
    model: TenantModel, params: dict[str, Any], ok: bool
) -> None:
    call = {"Name": "Out", **params}
    if ok:
        run(model, "New-OutboundConnector", **call)
    else:
        rejected(model, ValidationFailed, "New-OutboundConnector", **call)


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"UseMXRecord": False, "SmartHosts": ["ces.example.net"]}, True),
        ({"UseMXRecord": True}, True),
        ({}, True),
        ({"UseMXRecord": False}, False),
        ({"UseMXRecord": False, "SmartHosts": []}, False),
        ({"UseMXRecord": True, "SmartHosts": ["ces.example.net"]}, False),
        ({"SmartHosts": "ces.example.net"}, False),
    ],
    ids=["smart-host", "mx", "default-mx", "no-host", "empty-hosts", "mx-and-host",
         "host-with-default-mx"],
)
def test_smart_hosts_iff_not_mx(model: TenantModel, params: dict[str, Any], ok: bool) -> None:
    call = {"Name": "Out", "IsTransportRuleScoped": True, **params}
    if ok:
        run(model, "New-OutboundConnector", **call)
    else:
        rejected(model, ValidationFailed, "New-OutboundConnector", **call)


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"TlsSettings": "EncryptionOnly"}, True),
        ({"TlsSettings": "CertificateValidation"}, True),
        ({"TlsSettings": "DomainValidation", "TlsDomain": "*.example.net"}, True),
        ({"TlsSettings": None}, True),
        ({"TlsSettings": "DomainValidation"}, False),
        ({"TlsSettings": "Opportunistic"}, False),
        ({"ConnectorType": "OnPremises"}, True),
        ({"ConnectorType": "Internal"}, False),
    ],
    ids=["encryption-only", "certificate", "domain-with-tls-domain", "null", "domain-alone",
         "unknown-tls", "on-premises", "unknown-type"],
)
def test_outbound_enums(model: TenantModel, params: dict[str, Any], ok: bool) -> None:
    call = {**OUTBOUND, **params}
    if ok:
        run(model, "New-OutboundConnector", **call)
    else:
        rejected(model, ValidationFailed, "New-OutboundConnector", **call)


def test_set_validates_the_resulting_connector(model: TenantModel) -> None:
    run(model, "New-OutboundConnector", **OUTBOUND)
    rejected(model, ValidationFailed, "Set-OutboundConnector", Identity=OUTBOUND["Name"],
             UseMXRecord=True)
    run(model, "Set-OutboundConnector", Identity=OUTBOUND["Name"], UseMXRecord=True,
        SmartHosts=None)
    assert run(model, "Get-OutboundConnector")[0]["SmartHosts"] == []


# ---- inbound connector rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    ["203.0.113.0/24", "198.51.100.7", "8.8.8.0/30", "52.100.0.1/32", "192.0.2.128/25"],
)
def test_inbound_accepts_public_ipv4_single_or_cidr_24_to_32(
    model: TenantModel, entry: str
) -> None:
    [created] = run(model, "New-InboundConnector", **{**INBOUND, "SenderIPAddresses": [entry]})
    assert created["SenderIPAddresses"] == [entry]


@pytest.mark.parametrize(
    "entry",
    ["10.1.2.0/24", "172.16.5.0/24", "192.168.1.1", "127.0.0.1", "169.254.1.0/24", "224.0.0.1",
     "240.0.0.1", "255.255.255.255", "0.1.2.3", "203.0.113.0/23", "2001:db8::1",
     "203.0.113.1-203.0.113.9", "gateway.example.net", "203.0.113.0/33"],
    ids=["rfc1918-10", "rfc1918-172", "rfc1918-192", "loopback", "link-local", "multicast",
         "reserved", "broadcast", "this-network", "wider-than-24", "ipv6", "range", "name",
         "bad-mask"],
)
def test_inbound_refuses_other_addresses(model: TenantModel, entry: str) -> None:
    error = rejected(model, ValidationFailed, "New-InboundConnector",
                     **{**INBOUND, "SenderIPAddresses": [entry]})
    assert entry in error.detail


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"ConnectorType": "OnPremises"}, True),
        ({"ConnectorType": "OnPremises", "SenderIPAddresses": []}, False),
        ({"ConnectorType": "OnPremises", "SenderIPAddresses": [],
          "TlsSenderCertificateName": "*.example.net"}, True),
        ({"ConnectorType": "Partner", "SenderIPAddresses": []}, True),
        ({"ConnectorType": "Cloud"}, False),
        ({"SenderDomains": []}, False),
        ({"RestrictDomainsToIPAddresses": True}, True),
        ({"RestrictDomainsToIPAddresses": True, "SenderIPAddresses": []}, False),
        ({"RestrictDomainsToCertificate": True}, False),
    ],
    ids=["on-premises-with-ips", "on-premises-bare", "on-premises-with-cert", "partner-bare",
         "unknown-type", "no-sender-domains", "restrict-to-ips", "restrict-without-ips",
         "restrict-to-cert-without-cert"],
)
def test_inbound_cross_field_rules(model: TenantModel, params: dict[str, Any], ok: bool) -> None:
    call = {**INBOUND, **params}
    if ok:
        run(model, "New-InboundConnector", **call)
    else:
        rejected(model, ValidationFailed, "New-InboundConnector", **call)


# ---- connection filter allow list ----------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    ["203.0.113.0/24", "198.51.100.7", "203.0.113.0-203.0.113.255", "198.51.100.10-198.51.100.20"],
    ids=["cidr", "single", "range-256", "small-range"],
)
def test_allow_list_accepts(model: TenantModel, entry: str) -> None:
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=[entry])
    assert run(model, "Get-HostedConnectionFilterPolicy")[0]["IPAllowList"] == [entry]


@pytest.mark.parametrize(
    "entry",
    ["203.0.112.0/23", "203.0.113.0-203.0.114.0", "203.0.113.9-203.0.113.1", "10.0.0.0/24",
     "192.168.0.1-192.168.0.9", "2001:db8::/64", "nonsense"],
    ids=["wide-cidr", "range-257", "backwards-range", "private", "private-range", "ipv6", "junk"],
)
def test_allow_list_refuses(model: TenantModel, entry: str) -> None:
    rejected(model, ValidationFailed, "Set-HostedConnectionFilterPolicy", Identity="Default",
             IPAllowList=[entry])


def test_carrier_grade_nat_space_is_refused_like_the_config_refuses_it(model: TenantModel) -> None:
    """100.64.0.0/10 (RFC 6598) is not a public range; the sandbox used to accept it."""
    for entry in ("100.64.0.0/24", "100.127.255.1"):
        error = rejected(model, ValidationFailed, "Set-HostedConnectionFilterPolicy",
                         Identity="Default", IPAllowList=[entry])
        assert "only public IPv4 addresses" in error.detail
        rejected(model, ValidationFailed, "New-InboundConnector",
                 **{**INBOUND, "SenderIPAddresses": [entry]})
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=["100.128.0.0/24"])


def test_allow_list_holds_at_most_1273_entries(model: TenantModel) -> None:
    entries = [f"198.51.{i // 256}.{i % 256}" for i in range(1273)]
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=entries)
    error = rejected(model, LimitExceeded, "Set-HostedConnectionFilterPolicy", Identity="Default",
                     IPAllowList=ListEdit(add=("203.0.113.1",)))
    assert "1273" in error.detail


def test_allow_list_edits_add_and_remove_idempotently(model: TenantModel) -> None:
    def allow_list() -> list[str]:
        return list(run(model, "Get-HostedConnectionFilterPolicy", Identity="Default")[0]["IPAllowList"])

    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=["198.51.100.7"])
    edit = ListEdit(add=("203.0.113.0/24", "198.51.100.7"))
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=edit)
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=edit)
    assert allow_list() == ["198.51.100.7", "203.0.113.0/24"]
    remove = ListEdit(remove=("203.0.113.0/24", "192.0.2.1"))
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=remove)
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=remove)
    assert allow_list() == ["198.51.100.7"]
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=["192.0.2.1"])
    assert allow_list() == ["192.0.2.1"]  # a whole array overwrites
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default", IPAllowList=None)
    assert allow_list() == []


# ---- rule actions and conditions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"SetHeaderName": "X-MDCES-Data", "SetHeaderValue": "tenant"}, True),
        ({"SetHeaderName": "X-MDCES-Data"}, False),
        ({"SetHeaderValue": "tenant"}, False),
        ({"SetHeaderName": "X-MS-Exchange-Organization-SCL", "SetHeaderValue": "-1"}, False),
        ({"SetHeaderName": "x-ms-exchange-forest-whatever", "SetHeaderValue": "1"}, False),
        ({"SetHeaderName": "X-MS-Exchange-CrossTenant-Id", "SetHeaderValue": "1"}, True),
        ({"RemoveHeader": "X-MDCES-Data"}, True),
        ({"RemoveHeader": "X-MS-EXCHANGE-ORGANIZATION-AuthAs"}, False),
        ({"ExceptIfHeaderContainsMessageHeader": "x-ms-exchange-recallreportgenerated",
          "ExceptIfHeaderContainsWords": ["true", "false"]}, True),
        ({"ExceptIfHeaderContainsMessageHeader": "x-ms-exchange-recallreportgenerated"}, False),
    ],
    ids=["pair", "name-alone", "value-alone", "reserved-organization", "reserved-forest-any-case",
         "other-ms-header", "remove", "remove-reserved", "except-header-pair",
         "except-header-alone"],
)
def test_header_rules(model: TenantModel, params: dict[str, Any], ok: bool) -> None:
    if ok:
        run(model, "New-TransportRule", Name="R", **params)
    else:
        rejected(model, ValidationFailed, "New-TransportRule", Name="R", **params)


@pytest.mark.parametrize(
    ("entry", "ok"),
    [("203.0.113.0/24", True), ("198.51.100.7", True), ("10.0.0.0/8", True),
     ("198.51.100.1-198.51.100.99", True), ("2001:db8::1", False), ("198.51.100.x", False),
     ("198.51.100.9-198.51.100.1", False)],
    ids=["cidr", "single", "private-wide-cidr", "range", "ipv6", "junk", "backwards"],
)
@pytest.mark.parametrize("param", ["SenderIpRanges", "ExceptIfSenderIpRanges"])
def test_rule_sender_ip_conditions(model: TenantModel, param: str, entry: str, ok: bool) -> None:
    if ok:
        run(model, "New-TransportRule", Name="R", **{param: [entry]})
    else:
        rejected(model, ValidationFailed, "New-TransportRule", Name="R", **{param: [entry]})


@pytest.mark.parametrize(
    ("param", "value", "stored"),
    [
        ("SentTo", "ALICE@contoso.com", "alice@contoso.com"),
        ("SentTo", "alice.smith@contoso.com", "alice@contoso.com"),  # a proxy address
        ("From", "bob@contoso.com", "bob@contoso.com"),
        ("SentToMemberOf", "Sales Team", "sales@contoso.com"),  # a group by its name
        ("FromMemberOf", "sales", "sales@contoso.com"),  # by its alias
        ("FromMemberOf", "secops@contoso.com", "secops@contoso.com"),
        ("SentTo", "nobody@contoso.com", "nobody@contoso.com"),  # unknown but an SMTP address
    ],
    ids=["user", "proxy", "mail-user", "group-name", "group-alias", "security-group", "unknown-smtp"],
)
def test_rule_recipients_are_stored_as_primary_addresses(
    model: TenantModel, param: str, value: str, stored: str
) -> None:
    """As Exchange: each value resolves to the entry's primary SMTP address; an unknown value
    that is a valid SMTP address is kept as given."""
    [created] = run(model, "New-TransportRule", Name="R", **{param: value})
    assert created[param] == [stored]
    assert run(model, "Get-TransportRule", Identity="R")[0][param] == [stored]


@pytest.mark.parametrize(
    ("param", "value"),
    [("SentTo", "Nobody Known"), ("FromMemberOf", "Ghost Group"), ("ExceptIfSentTo", "nobody"),
     ("From", "sales@contoso.com"), ("SentToMemberOf", "alice@contoso.com")],
    ids=["unknown-name", "unknown-group", "exception-too", "group-as-user", "user-as-group"],
)
def test_rule_recipients_that_cannot_be_stored(model: TenantModel, param: str, value: str) -> None:
    """An unknown value that is no SMTP address is an ArgumentException (as Exchange's
    NoRecipientsForRecipientId); a group/mailbox mix-up is refused (the conservative reading)."""
    error = rejected(model, ValidationFailed, "New-TransportRule", Name="R", **{param: [value]})
    assert value in error.detail and error.exception_type == exchange.EX_ARGUMENT


def test_comments_are_at_most_1024_characters(model: TenantModel) -> None:
    run(model, "New-TransportRule", Name="A", Comments="c" * 1024)
    rejected(model, ValidationFailed, "New-TransportRule", Name="B", Comments="c" * 1025)


@pytest.mark.parametrize(
    ("cmdlet", "identity", "param", "cleared"),
    [
        ("Set-TransportRule", "R", "RemoveHeader", None),
        ("Set-TransportRule", "R", "SenderIpRanges", None),
        ("Set-InboundConnector", INBOUND["Name"], "Comment", None),
        ("Set-InboundConnector", INBOUND["Name"], "SenderIPAddresses", []),
    ],
    ids=["rule-scalar", "rule-list", "connector-scalar", "connector-list"],
)
def test_null_clears_a_property(
    model: TenantModel, cmdlet: str, identity: str, param: str, cleared: Any
) -> None:
    run(model, "New-TransportRule", Name="R", RemoveHeader="X-A", SenderIpRanges=["198.51.100.7"])
    run(model, "New-InboundConnector", **INBOUND, Comment="note")
    run(model, cmdlet, Identity=identity, **{param: None})
    noun = cmdlet.split("-")[1]
    assert run(model, f"Get-{noun}", Identity=identity)[0][param] == cleared


def test_list_edit_on_a_rule_property(model: TenantModel) -> None:
    run(model, "New-TransportRule", Name="R", BlindCopyTo=["a@x.example"])
    run(model, "Set-TransportRule", Identity="R", BlindCopyTo=ListEdit(add=("b@x.example",)))
    assert run(model, "Get-TransportRule")[0]["BlindCopyTo"] == ["a@x.example", "b@x.example"]
    rejected(model, ValidationFailed, "Set-TransportRule", Identity="R",
             Comments=ListEdit(add=("x",)))


# ---- atomicity, WhatIf and the document ------------------------------------------------------------


def test_what_if_checks_but_changes_nothing(model: TenantModel) -> None:
    before = dump_tenant(model.document())
    assert run(model, "New-OutboundConnector", **OUTBOUND, WhatIf=True) == []
    assert dump_tenant(model.document()) == before
    rejected(model, ValidationFailed, "New-OutboundConnector", Name="Bad", WhatIf=True)


def test_failed_set_leaves_the_object_untouched(routed: TenantModel) -> None:
    before = run(routed, "Get-TransportRule", Identity="Route")
    rejected(routed, ValidationFailed, "Set-TransportRule", Identity="Route", Priority=0,
             Comments="changed", SetHeaderName="X-Only-Name")
    assert run(routed, "Get-TransportRule", Identity="Route") == before


def test_document_is_a_sorted_deep_copy(routed: TenantModel) -> None:
    document = routed.document()
    document["TransportRule"][0]["Name"] = "tampered"
    assert routed.document()["TransportRule"][0]["Name"] == "Route"
    assert list(document) == sorted(document)
    assert list(document["TransportRule"][0]) == sorted(document["TransportRule"][0])
    assert document_issues(document) == []


def test_create_then_remove_everything_gives_identical_bytes() -> None:
    seeded = make_model(TransportRule=[{"Name": "Admin rule", "Priority": 0, "State": "Enabled"}])
    start = dump_tenant(seeded.document())
    model = TenantModel(seeded.document())
    run(model, "New-InboundConnector", **INBOUND)
    run(model, "New-OutboundConnector", **OUTBOUND)
    run(model, "New-TransportRule", Name="SPF", Priority=0, SenderIpRanges=["203.0.113.0/24"],
        RemoveHeader="X-MDCES-Data", Enabled=False)
    run(model, "New-TransportRule", Name="Inbound emails", Priority=1,
        RouteMessageOutboundConnector=OUTBOUND["Name"], SetHeaderName="X-MDCES-Data",
        SetHeaderValue="tenant", SentToScope="InOrganization", FromScope="NotInOrganization")
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default",
        IPAllowList=ListEdit(add=("203.0.113.0/24",)))
    assert dump_tenant(model.document()) != start
    for rule in ("Inbound emails", "SPF"):
        run(model, "Remove-TransportRule", Identity=rule, Confirm=False)
    run(model, "Remove-OutboundConnector", Identity=OUTBOUND["Name"], Confirm=False)
    run(model, "Remove-InboundConnector", Identity=INBOUND["Name"], Confirm=False)
    run(model, "Set-HostedConnectionFilterPolicy", Identity="Default",
        IPAllowList=ListEdit(remove=("203.0.113.0/24",)))
    assert dump_tenant(model.document()) == start


def test_objects_written_without_guid_get_a_stable_one() -> None:
    first = run(make_model(InboundConnector=[{"Name": "Hand made"}]), "Get-InboundConnector")
    again = run(make_model(InboundConnector=[{"Name": "Hand made"}]), "Get-InboundConnector")
    assert first[0]["Guid"] == again[0]["Guid"]
    assert first[0]["Identity"] == "Hand made"
    assert first[0]["Enabled"] is True  # defaults show for hand-written objects


def test_document_issues_finds_duplicate_names() -> None:
    document = {**empty_tenant(), "TransportRule": [{"Name": "A"}, {"Name": "a"}]}
    [issue] = document_issues(document)
    assert issue.path == "TransportRule[1].Name"
