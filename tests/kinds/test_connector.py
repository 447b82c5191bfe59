"""The connector handlers by hand on the tenant model: create, record, update with coupled and
type-bound parameters, undo to the tenant as it was, drift per attribute, readiness for rules."""
from __future__ import annotations

import dataclasses

from exoform.engine.blueprint import INBOUND_CONNECTOR, OUTBOUND_CONNECTOR
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.kinds import handler
from exoform.engine.kinds.base import ObserveContext
from exoform.engine.model import Action
from exoform.engine.plan import Reason
from exoform.engine.state import State
from support.kinds import CONFIG, INTEGRATION, change_for, desired, read_of, run, tenant, undo


def test_create_records_the_guid_and_undo_removes_it() -> None:
    model, state = tenant(), State.new(INTEGRATION)
    change = change_for(model, OUTBOUND_CONNECTOR, desired(OUTBOUND_CONNECTOR), state)
    assert change is not None and change.action is Action.CREATE and change.reason is Reason.NOT_IN_TENANT
    before = model.document()
    state, done = run(model, change, state)
    assert [call.name for call, _ in done] == ["New-OutboundConnector"]
    record = state.get(OUTBOUND_CONNECTOR)
    assert record is not None and record.guid == done[0][1][0]["Guid"]
    again = change_for(model, OUTBOUND_CONNECTOR, desired(OUTBOUND_CONNECTOR), state)
    assert again is not None and again.action is Action.NOOP
    undo(model, change, done)
    assert model.document() == before


def test_update_sends_coupled_parameters_and_undo_restores_the_before_image() -> None:
    model, state = tenant(), State.new(INTEGRATION)
    state, _ = run(model, change_for(model, OUTBOUND_CONNECTOR, desired(OUTBOUND_CONNECTOR), state), state)
    monitoring = {**CONFIG, "protection": {**CONFIG["protection"], "mode": "monitoring"}}
    change = change_for(model, OUTBOUND_CONNECTOR, desired(OUTBOUND_CONNECTOR, monitoring), state)
    assert change is not None and change.action is Action.UPDATE
    assert change.changed == ("IsTransportRuleScoped", "RecipientDomains")
    before = model.document()
    state, done = run(model, change, state)
    (call, _), = done
    assert call.name == "Set-OutboundConnector" and set(call.args) == {"Identity", "IsTransportRuleScoped", "RecipientDomains"}
    assert dict(state.get(OUTBOUND_CONNECTOR).attributes)["RecipientDomains"] == ("metadefender.email",)  # type: ignore[union-attr]
    undo(model, change, done)
    assert model.document() == before


def test_an_inbound_connector_change_of_a_type_bound_setting_names_the_type() -> None:
    model, state = tenant(), State.new(INTEGRATION)
    state, _ = run(model, change_for(model, INBOUND_CONNECTOR, desired(INBOUND_CONNECTOR), state), state)
    wider = {**CONFIG, "gateway": {**CONFIG["gateway"], "ip_ranges": ["203.0.113.0/24", "192.0.2.0/24"]}}
    change = change_for(model, INBOUND_CONNECTOR, desired(INBOUND_CONNECTOR, wider), state)
    assert change is not None and change.changed == ("SenderIPAddresses",)
    _, done = run(model, change, state)
    assert set(done[0][0].args) == {"Identity", "SenderIPAddresses", "ConnectorType"}


def test_drift_is_reported_per_attribute_and_a_deleted_object_as_deleted() -> None:
    model, state = tenant(), State.new(INTEGRATION)
    state, done = run(model, change_for(model, INBOUND_CONNECTOR, desired(INBOUND_CONNECTOR), state), state)
    guid = str(done[0][1][0]["Guid"])
    model.invoke(CmdletCall.of("Set-InboundConnector", {"Identity": guid, "RequireTls": False}))
    kind = handler(INBOUND_CONNECTOR.kind)
    seen = kind.observe(read_of(model), INBOUND_CONNECTOR, None, ObserveContext(INTEGRATION, state)).observed
    drift = kind.drift(state.get(INBOUND_CONNECTOR), seen)  # type: ignore[arg-type]
    assert drift is not None and [(a.name, a.last_applied, a.actual) for a in drift.attributes] == [("RequireTls", True, False)]
    model.invoke(CmdletCall.of("Remove-InboundConnector", {"Identity": guid, "Confirm": False}))
    seen = kind.observe(read_of(model), INBOUND_CONNECTOR, None, ObserveContext(INTEGRATION, state)).observed
    gone = kind.drift(state.get(INBOUND_CONNECTOR), seen)  # type: ignore[arg-type]
    assert gone is not None and gone.status.value == "deleted"


def test_an_outbound_connector_is_ready_for_a_routing_rule_only_enabled_and_rule_scoped() -> None:
    kind = handler(OUTBOUND_CONNECTOR.kind)
    model, state = tenant(), State.new(INTEGRATION)
    rule = change_for(model, desired(OUTBOUND_CONNECTOR).address, desired(OUTBOUND_CONNECTOR), state)
    assert rule is not None
    routing = dataclasses.replace(rule, after=(("RouteMessageOutboundConnector", "X"),))
    assert kind.not_ready({"Name": "X", "Enabled": True, "IsTransportRuleScoped": True}, routing) is None
    assert "disabled" in str(kind.not_ready({"Name": "X", "Enabled": False}, routing))
    assert "not scoped" in str(kind.not_ready({"Name": "X", "Enabled": True, "IsTransportRuleScoped": False}, routing))
