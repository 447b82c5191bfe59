"""EXOFORM_FAULTS parsing and the per-cmdlet call counting of `FaultPlan`."""
from __future__ import annotations

import threading

import pytest

from exoform.engine.errors import InputError
from exoform.providers.faults import ENV_VAR, Fault, FaultPlan


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("   ", ()),
        ("New-TransportRule#2", (Fault("New-TransportRule", 2, "error"),)),
        ("New-TransportRule#2:throttle", (Fault("New-TransportRule", 2, "throttle"),)),
        ("Set-OutboundConnector#1:CRASH", (Fault("Set-OutboundConnector", 1, "crash"),)),
        (
            " Get-TransportRule#1:throttle , Remove-InboundConnector#3:error ",
            (
                Fault("Get-TransportRule", 1, "throttle"),
                Fault("Remove-InboundConnector", 3, "error"),
            ),
        ),
        ("New-TransportRule#2,New-TransportRule#2", (Fault("New-TransportRule", 2),) * 2),
    ],
    ids=["empty", "blank", "default-kind", "throttle", "kind-any-case", "two-items", "repeat"],
)
def test_parse_accepts(text: str, expected: tuple[Fault, ...]) -> None:
    assert FaultPlan.parse(text).faults == expected


@pytest.mark.parametrize(
    "text",
    [
        "New-TransportRule",
        "New-TransportRule#",
        "New-TransportRule#0",
        "New-TransportRule#-1",
        "New-TransportRule#two",
        "#2",
        "NewTransportRule#2",
        "New-TransportRule#2:explode",
        "New-TransportRule#2:error:again",
        "New-TransportRule#2,",
        "New-TransportRule#1,,Get-TransportRule#1",
    ],
    ids=[
        "no-count", "empty-count", "zero", "negative", "word-count", "no-cmdlet", "no-dash",
        "unknown-kind", "two-kinds", "trailing-comma", "empty-item",
    ],
)
def test_parse_rejects_naming_item_and_form(text: str) -> None:
    with pytest.raises(InputError) as caught:
        FaultPlan.parse(text)
    error = caught.value
    assert error.source == ENV_VAR
    assert len(error.issues) == 1
    assert "Cmdlet#N[:kind]" in error.issues[0].message
    assert error.issues[0].path.startswith("item ")


def test_parse_reports_every_bad_item() -> None:
    with pytest.raises(InputError) as caught:
        FaultPlan.parse("Bad,New-TransportRule#1,Worse#x")
    assert [issue.path for issue in caught.value.issues] == ["item 1", "item 3"]
    assert "'Bad'" in caught.value.issues[0].message
    assert "'Worse#x'" in caught.value.issues[1].message


def test_parse_rejects_conflicting_kinds_for_one_call() -> None:
    with pytest.raises(InputError) as caught:
        FaultPlan.parse("New-TransportRule#2:error,new-transportrule#2:crash")
    assert "conflicts" in caught.value.issues[0].message


def test_next_counts_each_cmdlet_from_one() -> None:
    plan = FaultPlan.parse("New-TransportRule#2,Get-TransportRule#1:throttle")
    assert plan.next("New-TransportRule") is None
    assert plan.next("Get-TransportRule") == "throttle"
    assert plan.next("New-TransportRule") == "error"
    assert plan.next("New-TransportRule") is None
    assert plan.next("Get-TransportRule") is None
    assert (plan.count("New-TransportRule"), plan.count("Get-TransportRule")) == (3, 2)


def test_next_matches_cmdlet_ignoring_case() -> None:
    plan = FaultPlan.parse("new-inboundconnector#2:crash")
    assert plan.next("New-InboundConnector") is None
    assert plan.next("NEW-INBOUNDCONNECTOR") == "crash"


def test_unlisted_cmdlets_never_fault() -> None:
    plan = FaultPlan.parse("New-TransportRule#1")
    assert [plan.next("Set-TransportRule") for _ in range(5)] == [None] * 5


def test_counting_is_exact_across_threads() -> None:
    plan = FaultPlan.parse("Get-TransportRule#500:crash")
    hits: list[str | None] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            kind = plan.next("Get-TransportRule")
            with lock:
                hits.append(kind)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert plan.count("Get-TransportRule") == 800
    assert hits.count("crash") == 1


@pytest.mark.parametrize(
    ("environ", "faults"),
    [
        ({}, ()),
        ({ENV_VAR: ""}, ()),
        ({ENV_VAR: "Set-TransportRule#4:throttle"}, (Fault("Set-TransportRule", 4, "throttle"),)),
    ],
    ids=["unset", "empty", "set"],
)
def test_from_env(environ: dict[str, str], faults: tuple[Fault, ...]) -> None:
    assert FaultPlan.from_env(environ).faults == faults


def test_from_env_rejects_malformed_value() -> None:
    with pytest.raises(InputError, match=ENV_VAR):
        FaultPlan.from_env({ENV_VAR: "oops"})
