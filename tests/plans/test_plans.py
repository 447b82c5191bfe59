"""The planner as data: each `tests/plans/<case>.json` gives a config, a tenant (Get- output as
the tenant model answers it), optionally earlier configs applied first in memory, and the plan
expected - the steps as (op, address, cmdlet), the summary counts, the diagnostics by code and
finding ID. Straight through `make_plan` on a `TenantRead`: no files, no CLI, no provider.
Regenerate the expectations with `pytest tests/plans --update-goldens` and review the diff."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.model import Address
from exoform.engine.operations import request_for
from exoform.engine.plan import Plan
from exoform.engine.planning import make_plan
from exoform.engine.state import State
from support.harness import spec_from
from support.kinds import install, read_of, tenant

CASES = sorted((Path(__file__).parent).glob("*.json"))
INTEGRATION = "case"


def plan_case(case: dict[str, Any]) -> Plan:
    model = tenant(**case.get("tenant", {}))
    state = State.new(INTEGRATION)
    for earlier in case.get("applied", ()):
        state = install(model, state, earlier)
    if case.get("forget_state"):  # a lost state: the tenant keeps what was applied
        state = State.new(INTEGRATION)
    for later in case.get("then_applied", ()):
        state = install(model, state, later)
    if "forge" in case:
        state = _forged(state, read_of(model), case["forge"])
    for edit in case.get("outside", ()):
        model.invoke(CmdletCall.of(edit["cmdlet"], edit["parameters"]))
    options = case.get("options", {})
    request = request_for(spec_from(case["config"], INTEGRATION), read_of(model), state,
                          operation=options.get("operation", "apply"), adopt=options.get("adopt", False),
                          accepted_risks=tuple(options.get("accept_risks", ())))
    return make_plan(request)


def _forged(state: State, read: Any, forge: dict[str, str]) -> State:
    """The record at `address` pointing at the Guid of another (an admin's) object."""
    address = Address.parse(forge["address"])
    other = read.by_name(address.kind, forge["guid_of"])
    record = state.get(address)
    assert record is not None and other is not None
    return state.put(dataclasses.replace(record, guid=str(other["Guid"])))


def expectation(plan: Plan) -> dict[str, Any]:
    return {
        "counts": plan.counts(),
        "steps": [[s.op.value, str(s.address), s.call.name] for s in plan.steps],
        "actions": {str(c.address): c.action.value for c in plan.changes},
        "reasons": {str(c.address): c.reason.value for c in plan.changes},
        "diagnostics": sorted(f"{d.severity.value}:{d.id or d.code}" for d in plan.diagnostics),
    }


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_plan_case(case_file: Path, update_goldens: bool) -> None:
    case = json.loads(case_file.read_text(encoding="utf-8"))
    got = expectation(plan_case(case))
    if update_goldens:
        case["expect"] = got
        case_file.write_text(json.dumps(case, indent=2) + "\n", encoding="utf-8")
    assert got == case["expect"], f"{case_file.name}: {case['description']}"
