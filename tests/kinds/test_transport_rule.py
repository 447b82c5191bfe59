"""The transport-rule handler by hand on the tenant model: created disabled at the priority
that keeps exoform's block together, switched on in its own phase, an admin's enabling kept
(and said), a moved rule put back with one Set-, every call undone to the tenant as it was."""
from __future__ import annotations

import dataclasses

from exoform.engine.blueprint import INBOUND_RULE, OUTBOUND_CONNECTOR, OUTBOUND_RULE, SPF_RULE
from exoform.engine.cmdlets import CmdletCall
from exoform.engine.kinds import handler
from exoform.engine.kinds.base import APPLY, ENABLE, DiffOptions, PlanContext
from exoform.engine.model import Action
from exoform.engine.plan import Reason
from exoform.engine.state import State
from support.kinds import CONFIG, INTEGRATION, change_for, desired, install, read_of, run, tenant, undo

ADMIN = [{"Name": f"Admin {i}", "Priority": i, "SetHeaderName": "X-A", "SetHeaderValue": "1"} for i in range(3)]
ENABLED = {**CONFIG, "rules": {"enabled": True}}


def installed_spf(config: dict = CONFIG) -> tuple:  # type: ignore[type-arg]
    model, state = tenant(TransportRule=ADMIN), State.new(INTEGRATION)
    state, _ = run(model, change_for(model, SPF_RULE, desired(SPF_RULE, config), state), state)
    return model, state


def test_a_new_rule_goes_to_the_top_disabled_and_undo_removes_it() -> None:
    model, state = tenant(TransportRule=ADMIN), State.new(INTEGRATION)
    change = change_for(model, SPF_RULE, desired(SPF_RULE), state)
    assert change is not None and change.enabled is not None and change.enabled.after is False
    before = model.document()
    state, done = run(model, change, state)
    (call, result), = done
    assert call.args["Priority"] == 0 and call.args["Enabled"] is False and "State" not in call.args
    assert read_of(model).rule_names()[0] == "opswat mdces - spf"
    assert dict(state.get(SPF_RULE).attributes)["State"] == "Disabled"  # type: ignore[union-attr]
    undo(model, change, done)
    assert model.document() == before


def test_enabling_is_its_own_phase_and_undoes_to_disabled() -> None:
    model, state = installed_spf()
    change = change_for(model, SPF_RULE, desired(SPF_RULE, ENABLED), state)
    assert change is not None and change.action is Action.UPDATE and change.enabled.switches_on  # type: ignore[union-attr]
    kind = handler(SPF_RULE.kind)
    assert kind.phases(change) == [APPLY, ENABLE] and kind.enables(change)
    state, done = run(model, change, state, phases=(APPLY, ENABLE))
    assert [call.name for call, _ in done] == ["Enable-TransportRule"]
    assert dict(state.get(SPF_RULE).attributes)["State"] == "Enabled"  # type: ignore[union-attr]
    undo(model, change, done)
    assert read_of(model).by_name(SPF_RULE.kind, "OPSWAT MDCES - SPF")["State"] == "Disabled"  # type: ignore[index]


def test_an_admins_enabling_is_kept_unless_the_config_says_otherwise() -> None:
    model, state = installed_spf()
    model.invoke(CmdletCall.of("Enable-TransportRule", {"Identity": "OPSWAT MDCES - SPF"}))
    kept = change_for(model, SPF_RULE, desired(SPF_RULE), state, DiffOptions(keep_admin_enabled_rules=True))
    assert kept is not None and kept.action is Action.NOOP and kept.enabled.kept  # type: ignore[union-attr]
    off = change_for(model, SPF_RULE, desired(SPF_RULE), state, DiffOptions(keep_admin_enabled_rules=False))
    assert off is not None and off.enabled.switches_off and not off.enabled.kept  # type: ignore[union-attr]
    _, done = run(model, off, state)
    assert [call.name for call, _ in done] == ["Disable-TransportRule"]


def test_a_rule_moved_away_from_the_block_is_put_back_with_one_set() -> None:
    model = tenant(TransportRule=ADMIN)
    state = install(model, State.new(INTEGRATION))
    model.invoke(CmdletCall.of("Set-TransportRule", {"Identity": "OPSWAT MDCES - Outbound emails", "Priority": 5}))
    kind = handler(SPF_RULE.kind)
    changes = {a: change_for(model, a, desired(a), state) for a in (SPF_RULE, INBOUND_RULE, OUTBOUND_RULE)}
    ctx = PlanContext(read_of(model), INTEGRATION, state, {}, {}, {})
    arranged = kind.arrange(changes, ctx)  # type: ignore[arg-type]
    moved = arranged[OUTBOUND_RULE]
    assert moved.reason is Reason.RULE_ORDER_DRIFTED and moved.move is not None and moved.move.before == 5
    lowering = kind.lowering(read_of(model), arranged, True)
    (op, call), = lowering.calls(APPLY, moved)
    assert call.name == "Set-TransportRule" and call.args["Priority"] == 2
    assert kind.scheduled(moved, [call]).move == dataclasses.replace(moved.move, after=2)


def test_a_rule_references_the_outbound_connector_it_routes_through() -> None:
    spec = handler(SPF_RULE.kind).schema
    rule = desired(INBOUND_RULE)
    assert spec.references_in(dict(rule.attributes)) == {
        (OUTBOUND_CONNECTOR.kind, "opswat mdces - outbound")}
