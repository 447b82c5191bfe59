"""Replication lag as the real service has it (issue 14, point 7), through the CLI against an
emulator whose replicas lag: the plan right after an apply does not call the new objects
"deleted outside exoform" (the provider's write journal confirms them by Guid), a second apply
changes nothing, and the plan right after a destroy offers no adoption of what was just removed.
The sandbox has no replicas (every read is the file): the same steps there are plain convergence."""
from __future__ import annotations

import json
import os
import stat
import time
from typing import Any

import pytest

from exoform.providers.emulator.conditions import Conditions
from exoform.providers.exchange.journal import CREATED, REMOVING, WriteJournal
from support.reporter import RecordingReporter

CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "secret-tenant-info-value"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"]},
}
LAG = 1.5


@pytest.mark.parametrize("provider", ["emulator", "sandbox"])
def test_plans_right_after_apply_and_destroy_see_what_was_written(provider, workspace, start_emulator,
                                                                  isolated_environment) -> None:
    workspace.write_tenant(None)
    if provider == "emulator":
        workspace.emulator = start_emulator(Conditions(replication_lag=LAG), tenant_file=workspace.tenant)
    workspace.write_config(CONFIG)
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0, out + err
    code, out, err = workspace.run("plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out, out + err  # not "deleted outside exoform"
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0 and "already exists" not in out + err
    code, out, err = workspace.run("destroy", "--auto-approve")
    assert code == 0, out + err
    plan = workspace.plan_json()
    assert {c["change"]["actions"][0] for c in plan["resource_changes"]} == {"create"}
    assert not [c for c in plan["resource_changes"] if c.get("adopted")]
    if provider == "emulator":
        journals = list(isolated_environment.glob("exoform-writes-*.json"))
        assert journals and stat.S_IMODE(os.stat(journals[0]).st_mode) == 0o600
        text = journals[0].read_text()
        assert "secret-tenant-info-value" not in text and "203.0.113" not in text  # ids only


def test_a_creation_that_never_shows_is_planned_as_deleted_with_a_warning(start_emulator, connect) -> None:
    """Within the window, a recorded creation that Exchange does not show even by Guid after the
    bounded wait is taken as deleted since (an admin removed it, or a rollback did), with a
    warning: planning is never blocked, and should Exchange still be replicating it, a New- for
    its name is refused by Exchange (the name exists), so nothing is duplicated."""
    emulator = start_emulator()
    reporter = RecordingReporter()
    provider = connect(emulator, reporter=reporter)
    provider._journal = WriteJournal(None)  # noqa: SLF001 - an in-memory journal for the test
    provider._confirm_wait = 0.3  # noqa: SLF001
    provider._journal.record("TransportRule", "0f9d2c1e-1111-4222-8333-944455556666", "Gone", CREATED)
    assert provider.read(["TransportRule"]) == {"TransportRule": []}
    [warning] = [e for e in reporter.events if e[0] == "warning"]
    assert "TransportRule 'Gone'" in warning[1][0] and "planning as if it was deleted" in warning[1][0]
    assert provider._journal.writes("TransportRule") == []  # noqa: SLF001 - asked once, not again


def test_a_removal_killed_before_its_record_does_not_hold_up_the_next_read(start_emulator, connect) -> None:
    """A run killed after Remove- took effect but before the journal said so: the journal holds
    the removal's intent, so the next read trusts the list (no wait for the object)."""
    emulator = start_emulator()
    provider = connect(emulator)
    provider._journal = WriteJournal(None)  # noqa: SLF001
    provider._confirm_wait = 30.0  # noqa: SLF001 - a wait would show as a slow test
    guid = "0f9d2c1e-1111-4222-8333-944455556667"
    provider._journal.record("TransportRule", guid, "Gone", CREATED)  # noqa: SLF001
    provider._journal.record("TransportRule", guid, "", REMOVING)  # noqa: SLF001 - then killed
    started = time.monotonic()
    assert provider.read(["TransportRule"]) == {"TransportRule": []}
    assert time.monotonic() - started < 10


def test_journal_forgets_writes_after_the_window(tmp_path) -> None:
    now = [1000.0]
    journal = WriteJournal(tmp_path / "j.json", window=60, clock=lambda: now[0])
    journal.record("TransportRule", "g1", "R", CREATED)
    assert [w.guid for w in WriteJournal(tmp_path / "j.json", window=60, clock=lambda: now[0]).writes("TransportRule")] == ["g1"]
    now[0] += 61
    assert journal.writes("TransportRule") == []
    assert json.loads((tmp_path / "j.json").read_text())["writes"][0]["op"] == CREATED
