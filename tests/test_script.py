"""`exoform script`, the Manual method: no value can break out of its PowerShell string
(hypothesis, checked by the independent interpreter in ps_replay), the script's shape, and
replaying the script against a copy of the tenant converges to the same tenant and state as
`exoform apply` (`plan --verify`, then `import PLANFILE`)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st

from support.workspace import Workspace
from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.errors import PlanError
from exoform.views.powershell import CMDLETS, command, comment, quote
from exoform.providers.faults import FaultPlan
from exoform.providers.sandbox import SandboxProvider
from support.ps_replay import ScriptError, _Reader, parse_command, replay, script_calls, string_expr

SCENARIOS = Path(__file__).parent / "scenarios"
NASTY = list("'\u2018\u2019\u201a\u201b\"`$(){}[];@#,+-:=|&<>\\ \t\n\r\x00\x1b\x7f\u0085\u2028\u202e\u00dc\u00d2\u20ac") + [
    "\U0001f600", "$()", "''", "`n", "';", "' ; Remove-TransportRule -Identity x; '", "$(Get-Date)", "@{", "[char]39"]
texts = st.lists(st.sampled_from(NASTY) | st.characters(blacklist_categories=("Cs",)), max_size=12).map("".join)
values = st.one_of(
    texts,
    st.lists(texts, max_size=4).map(tuple),
    st.builds(ListEdit, st.lists(texts, max_size=3).map(tuple), st.lists(texts, max_size=3).map(tuple)),
    st.booleans(), st.none(), st.integers(0, 10**6),
)
calls = st.builds(
    CmdletCall.of, st.sampled_from(sorted(CMDLETS)),
    st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True), values, max_size=5),
)


@given(texts)
def test_a_quoted_string_reads_back_exactly(text: str) -> None:
    rendered = quote(text)
    assert rendered.isascii() and "\n" not in rendered and "\r" not in rendered
    reader = _Reader(rendered)
    assert string_expr(reader) == text and reader.pos == len(rendered)


@given(calls)
def test_a_cmdlet_line_parses_to_exactly_the_call(call: CmdletCall) -> None:
    line = command(call)
    assert line.isascii() and "\n" not in line and "\r" not in line
    assert parse_command(line) == call


@given(st.text())
def test_a_comment_stays_one_ascii_comment_line(text: str) -> None:
    line = comment(text)
    assert line.startswith("# ") and line.isascii() and len(line.splitlines()) == 1
    head = "#Requires -Version 5.1\n#Requires -Modules ExchangeOnlineManagement\n"
    script = head + "[CmdletBinding(SupportsShouldProcess = $true)]\nparam()\n$ErrorActionPreference = 'Stop'\n"
    assert script_calls(script + line) == []


@pytest.mark.parametrize("call", [
    CmdletCall.of("Invoke-Expression", {"Command": "x"}),
    CmdletCall.of("Remove-Mailbox", {"Identity": "ceo"}),
    CmdletCall.of("New-TransportRule", {"Name 'x'; Remove-Mailbox ceo; #": "y"}),
])
def test_cmdlets_and_parameters_a_plan_cannot_contain_are_refused(call: CmdletCall) -> None:
    with pytest.raises(PlanError):
        command(call)


def test_the_interpreter_rejects_what_a_script_must_not_contain() -> None:
    for bad in ("New-TransportRule -Name 'a' ; Remove-Mailbox", "New-TransportRule -Name \"$x\"",
                "New-TransportRule -Name 'a", "Get-Mailbox | Remove-Mailbox", "New-TransportRule -Name 'a'b'"):
        with pytest.raises(ScriptError):
            parse_command(bad)
    with pytest.raises(ScriptError):
        script_calls("New-TransportRule -Name 'a'")  # before the Stop preference


INLINE = {"gateway": {"ip_ranges": ["203.0.113.0/24", "198.51.100.7"], "tenant_info": "it's $(evil) `n"},
          "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}}}


def test_script_header_guidance_and_values(workspace: Workspace) -> None:
    workspace.write_tenant(None)
    workspace.write_config({**INLINE, "gateway": {**INLINE["gateway"], "name_prefix": "Gateway \u00dc"}})
    code, out, _ = workspace.run("script")
    assert code == 0 and out.isascii()
    head, body = out.split("\n$ErrorActionPreference = 'Stop'\n", 1)
    for fragment in ("integration 'scenario'", "Tenant:    sandbox:", "Plan: 6 to add", "Generated: 20",
                     "Connect-ExchangeOnline", "Install-Module ExchangeOnlineManagement", "created disabled"):
        assert fragment in head, fragment
    assert "-SetHeaderValue 'it''s $(evil) `n'" in out
    assert "('Gateway ' + [char]220 + ' - Inbound')" in out
    calls = script_calls(out)
    assert [c.name for c in calls][:3] == ["Set-HostedConnectionFilterPolicy", "New-InboundConnector", "New-OutboundConnector"]
    assert all(c.args.get("Enabled") is False for c in calls if c.name == "New-TransportRule")
    assert "exoform plan --verify" in body


def test_a_plan_with_errors_gives_no_script(workspace: Workspace) -> None:
    workspace.write_tenant({"OutboundConnector": [{"Name": "Old", "ConnectorType": "Partner", "RecipientDomains": ["*"],
                            "SmartHosts": ["ces.metadefender.opswat.com"], "UseMXRecord": False}]})
    workspace.write_config(INLINE)
    code, out, err = workspace.run("script")
    assert code == 1 and out == "" and "loop:Old" in err and "no script was written" in err
    code, out, _ = workspace.run("script", "--accept-risk", "loop:Old")
    assert code == 0 and "WARNING [loop:Old]" in out


def _document(path: Path) -> dict[str, Any]:
    """The tenant without the Guids each tenant assigns on its own."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    for kind in ("InboundConnector", "OutboundConnector", "TransportRule"):
        doc[kind] = sorted(({k: v for k, v in o.items() if k != "Guid"} for o in doc[kind]),
                           key=lambda o: (o.get("Priority", 0), o["Name"]))
    return doc


def _state(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    return {r["address"]: (r["exchange_name"], r.get("owned_entries", [])) for r in data["resources"]}


class Twin:
    """Workspace B beside the fixture's A: its own config, tenant copy and state, driven by scripts."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.dir = workspace.root / "b"
        self.dir.mkdir()
        shutil.copy(workspace.tenant, self.dir / "tenant.json")

    def run(self, *args: str) -> tuple[int, str, str]:
        return self.ws.run(*args, "-c", str(self.dir / "exoform.json"), "--state", str(self.dir / "state.json"))

    def configure(self, config: dict[str, Any]) -> None:
        full = {"integration": "scenario", "tenant": {"provider": "sandbox", "sandbox_file": "tenant.json"}, **config}
        (self.dir / "exoform.json").write_text(json.dumps(full), encoding="utf-8")

    def script_and_replay(self, flags: list[str], destroy: bool = False) -> None:
        planfile = str(self.dir / "step.plan")
        code, out, err = self.run("plan", "--out", planfile, *(["--destroy"] if destroy else []), *flags)
        assert code == 0, out + err
        code, script, err = self.run("script", planfile)
        assert code == 0, err
        replay(script, SandboxProvider(self.dir / "tenant.json", faults=FaultPlan()))
        code, out, err = self.run("plan", "--verify", *(["--destroy"] if destroy else []), *flags)
        assert code == 0, out + err
        if not destroy:
            code, out, err = self.run("import", planfile)
            assert code == 0, out + err


@pytest.mark.parametrize("case", ["inline-both-selected", "switch-inline-to-monitoring", "rename-prefix",
                                  "allowlist-off", "directions-change", "audit-mode", "drift-edited-outside",
                                  "conflict-loop-accept-risk"])
def test_replaying_the_script_converges_to_the_same_tenant_and_state_as_apply(case: str, workspace: Workspace) -> None:
    data = json.loads((SCENARIOS / f"{case}.json").read_text())
    original = workspace.write_tenant(data.get("tenant"))
    twin = Twin(workspace)
    for step in data["steps"]:
        workspace.write_config(step["config"])
        twin.configure(step["config"])
        for edit in step.get("outside", ()):
            workspace.outside(edit["cmdlet"], edit["parameters"])
            workspace.outside(edit["cmdlet"], edit["parameters"], tenant=twin.dir / "tenant.json")
        flags = step.get("flags", [])
        code, out, err = workspace.run("apply", "--auto-approve", *flags)
        assert code == 0, out + err
        twin.script_and_replay(flags)
        assert _document(twin.dir / "tenant.json") == _document(workspace.tenant)
        assert _state(twin.dir / "state.json") == _state(workspace.state)
        assert twin.run("plan", "--detailed-exitcode", *flags)[0] == 0
    assert workspace.run("destroy", "--auto-approve")[0] == 0
    twin.script_and_replay([], destroy=True)
    code, out, err = twin.run("destroy", "--auto-approve")
    assert code == 0, out + err
    assert (twin.dir / "tenant.json").read_text() == workspace.tenant.read_text() == original
    assert json.loads((twin.dir / "state.json").read_text())["resources"] == []


def test_a_script_stops_at_the_first_error_and_verify_shows_what_is_left(workspace: Workspace) -> None:
    workspace.write_tenant(None)
    workspace.write_config(INLINE)
    code, script, _ = workspace.run("script")
    workspace.outside("New-OutboundConnector", {"Name": "OPSWAT MDCES - Outbound", "ConnectorType": "Partner",
                                                "RecipientDomains": ["example.net"], "SmartHosts": ["mx.example.net"],
                                                "UseMXRecord": False})
    provider = SandboxProvider(workspace.tenant, faults=FaultPlan())
    with pytest.raises(Exception, match="already exists"):
        replay(script, provider)
    assert [c.split("-")[0] for c in provider.calls] == ["Set", "New", "New"]  # nothing after the failure
    code, out, _ = workspace.run("plan", "--verify")
    assert code == 1 and "name_conflict" not in out and "already has an OutboundConnector" in out
    workspace.outside("Remove-OutboundConnector", {"Identity": "OPSWAT MDCES - Outbound", "Confirm": False})
    code, out, _ = workspace.run("plan", "--verify")
    assert code == 2 and "does not match" in out and "4 step(s)" in out


def test_after_a_script_the_next_plan_adopts_its_objects_by_marker(workspace: Workspace) -> None:
    workspace.write_tenant(None)
    workspace.write_config(INLINE)
    code, script, _ = workspace.run("script")
    replay(script, SandboxProvider(workspace.tenant, faults=FaultPlan()))
    plan = workspace.plan_json()
    assert plan["exoform"]["steps"] == [] and sum(c["exoform"]["adopted"] for c in plan["resource_changes"]) == 5
    before = workspace.tenant.read_text()
    code, out, _ = workspace.run("apply", "--auto-approve")
    assert code == 0 and workspace.tenant.read_text() == before  # recorded in state, no tenant call
    state = json.loads(workspace.state.read_text())
    assert len(state["resources"]) == 6 and workspace.run("plan", "--detailed-exitcode")[0] == 0
