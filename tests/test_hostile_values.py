"""Hostile values in every free-text config field (quotes, `$()`, backticks, newlines, NUL,
escape sequences, BiDi overrides, homoglyphs, very long strings): each is either rejected at
validation with a terminal-safe message, or passed through untouched — byte for byte into the
tenant (sandbox and the HTTPS emulator's JSON API), quoted so that the PowerShell script
replays to exactly the plan's calls, and escaped in everything a person reads. Hypothesis
explores; the corpus of inputs that once broke something is kept below as explicit examples."""
from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import example, given, settings, strategies as st

from support.workspace import Workspace
from exoform.console import ConsoleReporter
from exoform.engine.apply import Executor
from exoform.engine.config import parse_config
from exoform.engine.errors import InputError
from exoform.engine.read import read_tenant
from exoform.views.apply import render_result
from exoform.views.plan import render_plan
from exoform.views.script import render_script
from exoform.views.show import render_resource
from exoform.text import safe
from support.harness import RECIPIENTS, Run, canonical_tenant, plan_for
from support.ps_replay import script_calls

_RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
HOSTILE = [
    "'", '"', "\u2018", "\u2019", "$()", "$(Remove-Mailbox ceo)", "`", "`n", "\n", "\r\n", "\x00",
    "\x1b[2J", "\x1b]0;pwned\x07", "\u202e", "\u200b", "\u041e", "\u00dc", "\U0001f600", ";", "#",
    "' ; Remove-TransportRule -Identity x ; '", "%s{0}", "<b>", "\\", "../", " ", "@", ".", "-",
    "\t", "\u0085", "\ufeff", "A" * 70,
]
texts = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=4), min_size=1, max_size=4).map("".join)
FIELDS = ("name_prefix", "tenant_info", "header_name", "smart_host", "bcc_address",
          "monitoring_domain", "recipient", "group", "integration")
# Hostile inputs that were accepted and must stay accepted (they reach the tenant as written).
ACCEPTED = {
    "name_prefix": "It's \"GW\" $(x) `n \u041ePSWAT",  # quotes, $(), backtick, Cyrillic O
    "tenant_info": "a'b\"c $(Remove-Mailbox ceo) `whoami` ; # \u00dc\U0001f600 %s{0} <b>",
}


def config_with(field: str, value: str) -> dict[str, Any]:
    gateway: dict[str, Any] = {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t"}
    protection: dict[str, Any] = {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}}
    config: dict[str, Any] = {"integration": "hostile", "gateway": gateway, "protection": protection}
    if field in ("recipient", "group"):
        protection["scope"] = {"users": "selected", "recipients": ["alice@contoso.com"], "groups": []}
        protection["scope"]["recipients" if field == "recipient" else "groups"] = [value]
    elif field == "integration":
        config["integration"] = value
    else:
        gateway[field] = value
        if field in ("bcc_address", "monitoring_domain"):
            protection["mode"] = "monitoring"
    return config


def assert_terminal_safe(text: str) -> None:
    assert not _RAW.search(text), repr(_RAW.search(text))


@pytest.fixture
def scratch() -> Iterator[Path]:
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="exoform-hostile-", dir=shm if shm.is_dir() else None))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=60)
@given(field=st.sampled_from(FIELDS), value=texts)
@example(field="name_prefix", value=ACCEPTED["name_prefix"])
@example(field="tenant_info", value=ACCEPTED["tenant_info"])
@example(field="tenant_info", value="line1\nline2")
@example(field="header_name", value="X-Evil\r\nBcc: attacker@example.com")
@example(field="recipient", value="\"evil\"@contoso.com")
@example(field="smart_host", value="gw.example.com\x00.attacker.example")
@example(field="integration", value="x\x1b[2J")
@example(field="name_prefix", value="A" * 70)
@example(field="group", value="Finance\u202eexe.")
def test_hostile_value_is_rejected_safely_or_passed_through_exactly(field: str, value: str) -> None:
    config = config_with(field, value)
    try:
        spec = parse_config(config, source="exoform.json", base_dir=Path("/cfg"))
    except InputError as error:
        shown = "\n".join(safe(line) for line in str(error).splitlines())  # as the CLI prints it
        assert_terminal_safe(shown)
        assert "exoform.json" in shown and len(shown) < 4000
        return
    root = Path(tempfile.mkdtemp(prefix="exoform-hostile-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        _passes_through(spec, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _passes_through(spec: Any, root: Path) -> None:
    run = Run(root, spec.integration)
    run.tenant.write_text(canonical_tenant({"recipients": RECIPIENTS + _scope_recipients(spec)}), encoding="utf-8")
    store, state = run.state()
    plan = plan_for(spec, read_tenant(run.provider(), spec.scope.identities), state)
    assert not plan.errors, plan.errors
    assert_terminal_safe(render_plan(plan))
    script = render_script(plan, "now")
    assert script.isascii() and script_calls(script) == [step.call for step in plan.steps]
    progress = io.StringIO()
    result = Executor(run.provider(), store, ConsoleReporter(progress)).apply(plan, state)
    assert result.ok, result.error
    assert_terminal_safe(progress.getvalue() + render_result(plan, result))
    for resource in result.state.resources:
        assert_terminal_safe(render_resource(resource))
    _tenant_holds_exactly(json.loads(run.tenant.read_text(encoding="utf-8")), plan)
    assert not run.plan(spec).has_changes


def _scope_recipients(spec: Any) -> list[dict[str, Any]]:
    """Selected users must exist in the tenant: add the (hostile but valid) ones."""
    extra = [{"address": a, "type": "UserMailbox"} for a in spec.scope.recipients]
    extra += [{"address": g, "type": "MailUniversalDistributionGroup"} for g in spec.scope.groups if "@" in g]
    # A group given by name resolves (at plan time, and in the tenant) to its primary address.
    extra += [{"address": f"group{i}@contoso.com", "type": "MailUniversalDistributionGroup", "name": g}
              for i, g in enumerate(spec.scope.groups) if "@" not in g]
    known = {r["address"] for r in RECIPIENTS}
    return [r for r in extra if r["address"] not in known]


def _tenant_holds_exactly(document: dict[str, Any], plan: Any) -> None:
    """Every string the plan sent is stored as sent: nothing escaped, trimmed or re-encoded."""
    for step in plan.steps:
        call = step.call
        if call.verb != "New":
            continue
        objects = {o["Name"]: o for o in document[call.noun]}
        stored = objects[call.args["Name"]]
        for key, sent in call.args.items():
            if isinstance(sent, str):
                assert stored[key] == sent, (key, sent, stored[key])
            elif isinstance(sent, (list, tuple)) and all(isinstance(v, str) for v in sent):
                assert sorted(stored[key]) == sorted(sent), (key, sent, stored[key])


def test_hostile_values_reach_the_admin_api_exactly(workspace: Workspace, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the exchange_online provider and the emulator's JSON API (one apply with the
    corpus's accepted values), then shown safely by the real CLI."""
    from exoform.providers.emulator.server import Emulator
    from exoform.providers.faults import FaultPlan

    monkeypatch.setenv("EXOFORM_CACHE_DIR", str(tmp_path / "cache"))
    tenant = tmp_path / "emulated.json"
    tenant.write_text(canonical_tenant({"recipients": RECIPIENTS}), encoding="utf-8")
    with Emulator(tenant, faults=FaultPlan()) as emulator:
        monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", emulator.client_secret)
        config = config_with("tenant_info", ACCEPTED["tenant_info"])
        config["gateway"]["name_prefix"] = ACCEPTED["name_prefix"]
        config["tenant"] = emulator.tenant_options("secret")
        workspace.config.write_text(json.dumps(config), encoding="utf-8")
        code, out, err = workspace.run("apply", "--auto-approve")
        assert code == 0, err
        assert_terminal_safe(out + err)
        rules = {r["Name"]: r for r in emulator.document()["TransportRule"]}
        inbound = rules[f"{ACCEPTED['name_prefix']} - Inbound emails"]
        assert inbound["SetHeaderValue"] == ACCEPTED["tenant_info"]
        code, out, err = workspace.run("plan", "--detailed-exitcode")
        assert code == 0, out + err
        for command in (["show"], ["state", "list", "-l"], ["script"]):
            code, out, err = workspace.run(*command)
            assert code == 0 and ACCEPTED["tenant_info"] not in out  # sensitive: never shown
            assert_terminal_safe(out + err)


def test_hostile_names_already_in_the_tenant_are_shown_safely(workspace: Workspace) -> None:
    """Values exoform did not write (an admin's objects) reach the terminal in diagnostics."""
    evil = "\x1b]0;pwned\x07\x1b[2J\r\u202e"
    workspace.write_tenant({
        "TransportRule": [{"Name": f"Admin {evil} rule", "Priority": 0, "SetHeaderName": "X-A",
                           "SetHeaderValue": evil, "Comments": f"[exoform:scenario] {evil}"}],
        "OutboundConnector": [{"Name": "OPSWAT MDCES - Outbound", "ConnectorType": "Partner",
                               "SmartHosts": ["ces.metadefender.opswat.com"], "UseMXRecord": False,
                               "RecipientDomains": ["x.example"], "Comment": evil}],
    })
    workspace.write_config({"gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t"},
                            "protection": {"mode": "inline", "directions": ["inbound", "outbound"],
                                           "scope": {"users": "all"}}})
    for command in (["plan"], ["apply", "--auto-approve"], ["script"], ["plan", "--json"]):
        code, out, err = workspace.run(*command)
        assert code == 1, out + err  # our outbound connector's name is taken: a plan error
        assert_terminal_safe(out + err)
    code, out, err = workspace.run("plan")
    assert "Admin \\u001b]0;pwned\\u0007" in out + err  # the stray rule, escaped


INVISIBLE = ["\u200b", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u00ad", "\u061c", "\u3164",
             "\u2066", "\u2069", "\u202e", "\u2028", "\r"]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_and_line_breaking_characters_in_tenant_names_are_escaped(workspace: Workspace, char: str) -> None:
    """A rule named 'Admin<ZWSP>rule' looks like 'Adminrule': shown escaped, it cannot pass for
    another object's name, nor a CR or U+2028 start a forged line."""
    workspace.write_tenant({"TransportRule": [
        {"Name": f"Stop{char}all", "Priority": 0, "State": "Enabled", "StopRuleProcessing": True,
         "SetHeaderName": "X-S", "SetHeaderValue": "1"}]})
    workspace.write_config({"gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t"},
                            "protection": {"mode": "inline", "directions": ["inbound"], "scope": {"users": "all"}},
                            "rules": {"enabled": True, "placement": "bottom"}})
    for command in (["plan"], ["trace"], ["plan", "--format", "markdown"]):
        code, out, err = workspace.run(*command)
        assert char not in out + err, command
        assert f"Stop\\u{ord(char):04x}all" in out + err, command


SECRET = "Xy78Q~abcdefghijklmnopqrstuvwxyzABCDEFGH"


@pytest.mark.parametrize("field", ["client_id", "tenant_id", "smart_host"])
def test_a_secret_pasted_into_a_non_secret_field_is_never_echoed(workspace: Workspace, field: str) -> None:
    tenant = {"provider": "exchange_online", "tenant_id": "contoso.onmicrosoft.com",
              "client_id": "00000000-0000-4000-8000-000000000001",
              "auth": {"method": "secret", "client_secret_env": "EXOFORM_TEST_SECRET"}}
    gateway: dict[str, Any] = {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t"}
    if field == "smart_host":
        gateway["smart_host"] = SECRET
    else:
        tenant[field] = SECRET
    workspace.config.write_text(json.dumps({
        "integration": "leak", "tenant": tenant, "gateway": gateway,
        "protection": {"mode": "inline", "directions": ["inbound"], "scope": {"users": "all"}}}))
    for command in (["validate"], ["validate", "--json"], ["plan"]):
        code, out, err = workspace.run(*command)
        assert code == 1, out + err
        assert SECRET not in out + err and SECRET[:12] not in out + err
        assert field in out + err and "looks like a secret" in out + err


def test_the_device_code_prompt_is_escaped(capsys: Any) -> None:
    from exoform.cli import build_parser
    from exoform.commands import open_session

    root = Path(tempfile.mkdtemp())
    try:
        (root / "tenant.json").write_text(canonical_tenant({}))
        (root / "c.json").write_text(json.dumps({
            "integration": "p", "tenant": {"provider": "sandbox", "sandbox_file": "tenant.json"},
            "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "t"},
            "protection": {"mode": "inline", "directions": ["inbound"], "scope": {"users": "all"}}}))
        session = open_session(build_parser().parse_args(["plan", "-c", str(root / "c.json")]))
        assert session.prompt is not None
        session.prompt("To sign in, open https://microsoft.com/devicelogin\x1b]0;pwned\x07\u202e code ABC")
        err = capsys.readouterr().err
        assert "\x1b" not in err and "\u202e" not in err and "\\u001b]0;pwned\\u0007" in err
    finally:
        shutil.rmtree(root, ignore_errors=True)
