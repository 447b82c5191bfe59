"""Corrupt and hostile files through the real CLI (beyond tests/test_cli.py's truncated,
empty, newer-format and bad-resource states): every one is a specific error naming the file
and the field, exit 1, no traceback, no raw control character on the terminal, and the file —
and the tenant — left exactly as they were."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from support.workspace import Workspace
from exoform.engine.planfile import content_digest

INLINE = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}
LINEAGE = "0f0e6c49-0a3c-4c7e-9a51-6e0f5c1f0b1a"
_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _state(**fields: Any) -> str:
    body = {"format_version": 2, "exoform_version": "0.1.0", "lineage": LINEAGE, "serial": 3,
            "integration": "scenario", "resources": [], **fields}
    return json.dumps(body)


def assert_refused(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 1, out + err
    assert err.startswith("Error:") and "Traceback" not in out + err
    assert not _RAW_CONTROL.search(out + err), repr(err)
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


STATES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "not-utf8": (b"\xff\xfe\x00garbage\x1b[31m", ("cannot read state file: not UTF-8 text",)),
    "json-array": (b"[1, 2, 3]", ("not an exoform state file (expected a JSON object)",)),
    "serial-is-text": (_state(serial="3").encode(), ("serial:", "must be a whole number (got a string)")),
    "lineage-not-uuid": (_state(lineage="../../etc/passwd").encode(), ("lineage:",)),
    "pending-wrong-shape": (_state(pending={"step": "x"}).encode(), ("pending.step:", "pending.started:")),
    "escape-in-integration": (_state(integration="sc\x1b[2Jenario").encode(), ("integration:", "sc\\u001b[2Jenario")),
    "resource-unknown-kind": (_state(resources=[{"address": "mailbox.ceo", "schema_version": 1,
                                                  "exchange_name": "x", "guid": None, "attributes": {},
                                                  "dependencies": []}]).encode(), ("resources[0].address",)),
    "format-zero": (_state(format_version=0).encode(), ("format_version: missing or not a positive integer",)),
}


@pytest.mark.parametrize("name", sorted(STATES))
def test_corrupt_state_is_refused_by_every_command_and_never_rewritten(workspace: Workspace, name: str) -> None:
    content, fragments = STATES[name]
    workspace.write_config(INLINE)
    workspace.state.parent.mkdir(parents=True, exist_ok=True)
    workspace.state.write_bytes(content)
    for command in (["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"], ["show"],
                    ["state", "list"], ["script"]):
        code, out, err = workspace.run(*command)
        assert_refused(code, out, err, "state/scenario.json", *fragments)
    assert workspace.state.read_bytes() == content
    assert not workspace.tenant.exists()
    assert sorted(p.name for p in workspace.state.parent.iterdir()) == ["scenario.json", "scenario.json.lock"]


def _saved_plan(workspace: Workspace) -> tuple[Path, dict[str, Any]]:
    workspace.write_config(INLINE)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    workspace.write_config({**INLINE, "rules": {"enabled": True}})
    assert workspace.run("plan", "--out", "change.plan")[0] == 0
    path = workspace.root / "change.plan"
    return path, json.loads(path.read_text())


def _resigned(data: dict[str, Any]) -> dict[str, Any]:
    """What an attacker who knows the digest scheme would write."""
    return {**data, "digest": content_digest(data)}


def _set_step_parameter(data: dict[str, Any]) -> dict[str, Any]:
    step = next(s for s in data["steps"] if "Identity" in s["parameters"])
    step["parameters"]["Identity"] = "CEO mailbox forwarding rule"
    return _resigned(data)


PLANS: dict[str, tuple[Callable[[dict[str, Any]], Any], tuple[str, ...]]] = {
    "truncated": (lambda d: json.dumps(d)[:200], ("not valid JSON",)),
    "garbled": (lambda d: "\x00\x01\x02\x1b]0;pwned\x07", ("not valid JSON",)),
    "newer-format": (lambda d: _resigned({**d, "format_version": 9}), ("plan format 9",)),
    "tampered": (lambda d: {**d, "operation": "destroy"}, ("modified after exoform wrote it",)),
    "tampered-and-resigned": (_set_step_parameter, ("stale", "its steps are no longer what exoform would do")),
    "other-lineage": (lambda d: _resigned({**d, "prior_state": {"lineage": LINEAGE, "serial": d["prior_state"]["serial"]}}),
                      ("different lineage",)),
    "unknown-cmdlet": (lambda d: _resigned({**d, "steps": [{**d["steps"][0], "cmdlet": "Set-Mailbox"}] + d["steps"][1:]}),
                       ("stale",)),
}


@pytest.mark.parametrize("name", sorted(PLANS))
def test_bad_saved_plan_is_refused_and_changes_nothing(workspace: Workspace, name: str) -> None:
    path, data = _saved_plan(workspace)
    mutate, fragments = PLANS[name]
    changed = mutate(json.loads(json.dumps(data)))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed), encoding="utf-8")
    before = {p: p.read_bytes() for p in (path, workspace.tenant, workspace.state)}
    code, out, err = workspace.run("apply", "change.plan")
    assert_refused(code, out, err, "change.plan", *fragments)
    assert {p: p.read_bytes() for p in before} == before


TENANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "garbled": ('{"TransportRule": [', ("not valid JSON", "line 1, column 20")),
    "priority-is-text": (json.dumps({"TransportRule": [{"Name": "A", "Priority": "high"}]}),
                         ("TransportRule[0].Priority",)),
    "duplicate-names": (json.dumps({"TransportRule": [{"Name": "A", "Priority": 0}, {"Name": "a", "Priority": 1}]}),
                        ("TransportRule",)),
    "not-an-object": ("[]", ("(top level)",)),
    "state-is-text": (json.dumps({"TransportRule": [{"Name": "A", "Priority": 0, "State": 1}]}),
                      ("TransportRule[0].State",)),
}


@pytest.mark.parametrize("name", sorted(TENANTS))
def test_sandbox_tenant_violating_its_schema_is_refused_and_left_alone(workspace: Workspace, name: str) -> None:
    text, fragments = TENANTS[name]
    workspace.write_config(INLINE)
    workspace.tenant.write_text(text, encoding="utf-8")
    for command in (["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"]):
        code, out, err = workspace.run(*command)
        assert_refused(code, out, err, "tenant.json", *fragments)
    assert workspace.tenant.read_text(encoding="utf-8") == text
    assert not workspace.state.exists()


HOSTILE_CONFIGS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "unicode-integration": ({"integration": "контора", **INLINE}, ("integration",)),
    "escape-in-unknown-key": ({"integration": "scenario", **INLINE, "x\x1b[2Jy": 1}, ("\\u001b",)),
    "huge-tenant-info": ({"integration": "scenario", **INLINE,
                          "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "A" * 200_000}},
                         ("gateway.tenant_info",)),
    "huge-ip-list": ({"integration": "scenario", **INLINE,
                      "gateway": {"ip_ranges": [f"8.8.{i // 256}.{i % 256}" for i in range(5000)], "tenant_info": "t"}},
                     ("gateway.ip_ranges",)),
    "wrong-types": ({"integration": 7, **INLINE, "rules": {"enabled": "yes"}}, ("integration", "rules.enabled")),
    "nul-in-prefix": ({"integration": "scenario", **INLINE,
                       "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t", "name_prefix": "GW\x00"}},
                      ("gateway.name_prefix",)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CONFIGS))
def test_hostile_config_is_a_specific_error_for_every_command(workspace: Workspace, name: str) -> None:
    config, fragments = HOSTILE_CONFIGS[name]
    text = json.dumps(config)
    workspace.config.write_text(text, encoding="utf-8")
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"], ["script"], ["force-unlock", "x"]):
        code, out, err = workspace.run(*command)
        assert_refused(code, out, err, "exoform.json", *fragments)
        assert len(err) < 5000, "a huge value must not be echoed back"
    assert workspace.config.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in workspace.root.iterdir()) == ["exoform.json"]
    assert hashlib.sha256(text.encode()).hexdigest()  # (the file was read, never rewritten)
