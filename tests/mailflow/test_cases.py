"""One JSON case per documented Exchange Online behaviour (tests/mailflow/cases/*.json), run
through the real model: each names its source, the tenant, the config intent, and the expected
verdicts per class and finding IDs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exoform.engine.mailflow import Assumption, MessageClass, Simulator, Verdict

from .cases_support import case_inputs, hop_tokens, is_subsequence, simulate_case

CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return case


def test_every_case_cites_its_source_and_expects_something() -> None:
    assert len(CASES) >= 25
    for path in CASES:
        case = _load(path)
        assert case.get("source") and case.get("description"), path.name
        assert case.get("expect"), path.name


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = _load(path)
    simulation = simulate_case(case)
    got = {p.message_class.value: sorted(v.value for v in p.possible) for p in simulation.paths}
    for name, wanted in case["expect"].items():
        assert name in got, f"class {name} not traced (traced: {sorted(got)})"
        wanted_list = sorted([wanted] if isinstance(wanted, str) else wanted)
        assert got[name] == wanted_list, f"{name}: {got[name]} != {wanted_list}"
    ids = sorted(f.id for f in simulation.findings)
    assert ids == sorted(case.get("findings", [])), ids
    _check_details(case, simulation)
    # Pure and deterministic: the same inputs give the same result, from a fresh Simulator and
    # from one that has cached the state already.
    assert simulate_case(case) == simulation
    tenant, gateway, intent, at = case_inputs(case)
    shared = Simulator(gateway, intent, at)
    assert shared.simulate(tenant) == shared.simulate(tenant) == simulation


def _check_details(case: dict[str, Any], simulation: Any) -> None:
    for name, wanted in case.get("hops", {}).items():
        path = simulation.path(MessageClass(name))
        for branch in path.branches:
            if branch.verdict is not Verdict.LOOP or wanted[-1:] == ["loop"]:
                assert is_subsequence(wanted, hop_tokens(branch)), (name, hop_tokens(branch))
    for name, wanted in case.get("assumptions", {}).items():
        cited = {a.value for a in simulation.path(MessageClass(name)).assumptions}
        assert {Assumption(a).value for a in wanted} <= cited, (name, sorted(cited))
    for ident, details in case.get("finding_details", {}).items():
        finding = next(f for f in simulation.findings if f.id == ident)
        for key, value in details.items():
            actual = getattr(finding, key)
            actual = getattr(actual, "value", actual)
            if key == "classes":
                actual = [c.value for c in finding.classes]
            assert actual == value, (ident, key, actual)
    for name, ok in case.get("ok", {}).items():
        assert simulation.path(MessageClass(name)).ok is ok, name
