"""The CLI's conventions for CI and review (issue 13): usage errors, --json everywhere (errors
too), sensitive values masked, Markdown plans, prompts on stderr, colour and a progress line only
on a terminal, EXOFORM_* equivalents, quiet closed pipes, completion and the man page. In-process
where output is enough; in subprocesses where a terminal, a pipe or the environment matters."""
from __future__ import annotations

import json
import os
import pty
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.workspace import Workspace

INFO = "tenant-info-secret-0451"
CONFIG: dict[str, Any] = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": INFO},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}


def run(cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("EXOFORM_", "NO_COLOR"))}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "exoform", *args], cwd=cwd, env=full, input=stdin,
                          capture_output=True, text=True, timeout=120)


def on_terminal(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run with stdout and stderr on a pseudo-terminal; what the terminal showed."""
    controller, terminal = pty.openpty()
    full = {k: v for k, v in os.environ.items() if not k.startswith(("EXOFORM_", "NO_COLOR"))}
    full.update({"TERM": "xterm", **(env or {})})
    process = subprocess.Popen([sys.executable, "-m", "exoform", *args], cwd=cwd, env=full,
                               stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(controller)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("argv, usage", [
    (["plan", "--refresh"], "usage: exoform plan"),  # an abbreviation of --refresh-only
    (["plan", "--det"], "usage: exoform plan"),
    (["state", "list", "--bogus"], "usage: exoform state list"),
    (["apply", "a", "b"], "usage: exoform apply"),
    (["script", "--json"], "usage: exoform script"),  # script writes PowerShell: no --json
    (["emulator", "serve", "--port", "x"], "usage: exoform emulator serve"),
    (["completion", "tcsh"], "usage: exoform completion"),
])
def test_usage_errors_exit_1_with_the_subcommands_usage(workspace: Workspace, argv: list[str], usage: str) -> None:
    code, out, err = workspace.run(*argv)
    assert code == 1 and err.startswith(usage) and "Error: " in err and "Traceback" not in err
    assert out == "" or "--json" in argv


def test_a_usage_error_with_json_is_json_on_stdout(workspace: Workspace) -> None:
    code, out, _ = workspace.run("plan", "--refresh", "--json")
    assert code == 1 and json.loads(out) == {"error": {"code": "usage", "path": None,
                                                        "message": "unrecognized arguments: --refresh"}}


def test_help_lists_each_command_once_and_state_alone_lists_its_subcommands(workspace: Workspace) -> None:
    with pytest.raises(SystemExit):
        workspace.run("--help")
    out = workspace.capsys.readouterr().out
    for command in ("validate", "plan", "apply", "destroy", "show", "state", "force-unlock", "script",
                    "import", "drift", "emulator", "completion", "manpage"):
        assert len(re.findall(rf"^    {re.escape(command)}\b", out, re.MULTILINE)) == 1, command
    code, out, _ = workspace.run("state")
    assert code == 1 and "list" in out and "show" in out and "usage: exoform state" in out


def test_every_config_command_answers_json_errors_too(workspace: Workspace) -> None:
    (workspace.root / "exoform.json").write_text('{"integration": "x"}', encoding="utf-8")
    for argv in (["validate"], ["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"],
                 ["show"], ["state", "list"], ["state", "show", "transport_rule.spf"], ["drift"],
                 ["import"], ["force-unlock", "x"]):
        code, out, err = workspace.run(*argv, "--json")
        error = json.loads(out)["error"]
        assert code == 1 and error["code"] == "invalid_input" and error["path"] == "exoform.json", argv
        assert {i["path"] for i in error["issues"]} >= {"gateway", "protection"} and err.startswith("Error:")


def test_state_and_unlock_commands_honour_json(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    code, out, _ = workspace.run("state", "list", "--json")
    listed = json.loads(out)["resources"]
    assert code == 0 and {"address": "transport_rule.spf", "exchange_name": "OPSWAT MDCES - SPF"} in listed
    code, out, _ = workspace.run("state", "show", "transport_rule.inbound_emails", "--json")
    resource = json.loads(out)
    assert resource["values"]["SetHeaderValue"] == "(sensitive value)" and INFO not in out
    assert resource["sensitive_values"] == {"SetHeaderValue": True} and resource["exoform"]["guid"]
    code, out, _ = workspace.run("state", "show", "transport_rule.inbound_emails", "--json", "--show-sensitive")
    assert json.loads(out)["values"]["SetHeaderValue"] == INFO
    code, out, _ = workspace.run("force-unlock", "no-such-id", "--json")
    error = json.loads(out)["error"]
    assert code == 1 and error["code"] == "state_locked" and "nothing to unlock" in error["message"]


def test_review_output_masks_the_tenant_information_and_the_saved_plan_keeps_it(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    for argv in (["plan", "--json"], ["plan", "--format", "markdown"], ["plan"], ["show", "--json"]):
        assert INFO not in workspace.run(*argv)[1], argv
    code, out, _ = workspace.run("plan", "--json", "--show-sensitive")
    assert code == 0 and INFO in out
    workspace.run("plan", "--out", "change.plan")
    saved = workspace.root / "change.plan"
    assert INFO in saved.read_text(encoding="utf-8")  # apply needs it; the file is owner-only
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    code, out, _ = workspace.run("show", "--json", "change.plan")
    assert code == 0 and INFO not in out and json.loads(out)["exoform"]["steps"]


def test_plan_json_is_terraforms_representation_with_empty_values_alike(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    workspace.run("apply", "--auto-approve")
    workspace.write_config({**CONFIG, "protection": {**CONFIG["protection"], "mode": "monitoring"}})
    plan = workspace.plan_json()
    assert plan["format_version"] == "0.1" and plan["terraform_version"].startswith("1.")
    assert plan["prior_state"]["values"]["root_module"]["resources"] and plan["configuration"]["root_module"]
    for change in plan["resource_changes"]:
        assert change["mode"] == "managed" and change["provider_name"] and "exoform" in change
        before, after = change["change"]["before"], change["change"]["after"]
        if before and after:
            assert set(before) == set(after), change["address"]
            assert not [k for k in before if before[k] in ([], "")] + [k for k in after if after[k] in ([], "")]
    outbound = next(c for c in plan["resource_changes"] if c["address"] == "outbound_connector.outbound")
    assert outbound["change"]["before"]["RecipientDomains"] is None  # empty is null on both sides


def test_markdown_for_a_saved_plan_and_format_conflicts(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    workspace.run("plan", "--out", "change.plan")
    code, out, _ = workspace.run("show", "change.plan", "--format", "markdown")
    assert code == 0 and out.startswith("### exoform apply plan") and "| <code>+</code> |" in out
    code, _, err = workspace.run("plan", "--json", "--format", "markdown")
    assert code == 1 and "two different outputs" in err
    assert workspace.run("apply", "--auto-approve")[0] == 0
    code, _, err = workspace.run("show", "--format", "markdown")
    assert code == 1 and "is a state file" in err


def test_destroy_prompt_names_integration_and_tenant_and_a_refusal_says_destroy_cancelled(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    result = run(workspace.root, "destroy", stdin="no\n")
    assert result.returncode == 1 and "Destroy cancelled; nothing was changed." in result.stderr
    assert "destroy everything exoform manages for integration 'scenario' on sandbox:" in result.stderr
    assert "Enter a value" not in result.stdout
    result = run(workspace.root, "destroy", "--json", stdin="")
    assert result.returncode == 1 and json.loads(result.stdout)["error"]["code"] == "cancelled"


def test_environment_equivalents(workspace: Workspace) -> None:
    workspace.write_config(CONFIG, path=workspace.root / "other.json")
    result = run(workspace.root, "apply", env={"EXOFORM_CONFIG": "other.json", "EXOFORM_AUTO_APPROVE": "1"})
    assert result.returncode == 0 and "Apply complete!" in result.stdout, result.stderr
    result = run(workspace.root, "plan", "-c", "missing.json", env={"EXOFORM_CONFIG": "other.json"})
    assert result.returncode == 1 and "missing.json" in result.stderr  # the flag wins
    result = run(workspace.root, "destroy", env={"EXOFORM_CONFIG": "other.json", "EXOFORM_AUTO_APPROVE": "maybe"})
    assert result.returncode == 1 and "EXOFORM_AUTO_APPROVE='maybe' is not a yes/no value" in result.stderr


def test_colour_and_the_progress_line_only_on_a_terminal(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    shown = on_terminal(workspace.root, "plan")
    assert "\x1b[32m  + resource" in shown and "Reading the tenant" in shown
    colour = re.compile(r"\x1b\[[0-9;]*m")
    for flags, env in ((["--no-color"], {}), ([], {"NO_COLOR": "1"}), ([], {"EXOFORM_NO_COLOR": "1"})):
        assert not colour.search(on_terminal(workspace.root, "plan", *flags, env=env)), (flags, env)
    piped = run(workspace.root, "plan")
    assert "\x1b[" not in piped.stdout + piped.stderr and "Reading the tenant" not in piped.stderr


def test_a_closed_stdout_ends_the_command_quietly(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    for command in ("show", "plan", "state list"):
        shell = subprocess.run(f"{sys.executable} -m exoform {command} | head -1", shell=True, cwd=workspace.root,
                               capture_output=True, text=True, timeout=60)
        assert shell.stderr == "" and len(shell.stdout.splitlines()) == 1, (command, shell.stderr)


def test_a_plan_with_errors_never_ends_with_no_changes(workspace: Workspace) -> None:
    workspace.write_tenant({"OutboundConnector": [{"Name": "OPSWAT MDCES - Outbound", "ConnectorType": "Partner",
                                                   "SmartHosts": ["x.example.com"], "UseMXRecord": False}]})
    workspace.write_config(CONFIG)
    code, out, _ = workspace.run("plan")
    assert code == 1 and "No changes" not in out and "nothing can be applied until they are fixed" in out


def test_a_config_or_review_json_given_as_a_plan_is_named(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    code, _, err = workspace.run("apply", "exoform.json")
    assert code == 1 and "exoform.json is an exoform config file, not a saved plan" in err
    code, _, err = workspace.run("show", "exoform.json")
    assert code == 1 and "is an exoform config file" in err
    (workspace.root / "review.json").write_text(workspace.run("plan", "--json")[1], encoding="utf-8")
    code, _, err = workspace.run("apply", "review.json")
    assert code == 1 and "is the review JSON of a plan" in err
    code, _, err = workspace.run("show", "missing.plan")
    assert code == 1 and "missing.plan does not exist" in err


def test_bash_completion_completes_commands_and_flags(workspace: Workspace) -> None:
    code, script, _ = workspace.run("completion", "bash")
    assert code == 0
    (workspace.root / "c.bash").write_text(script, encoding="utf-8")

    def complete(*words: str) -> list[str]:
        line = " ".join(["exoform", *words])
        probe = (f"source c.bash; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _exoform; "
                 'printf "%s\\n" "${COMPREPLY[@]}"')
        return subprocess.run(["bash", "-c", probe], cwd=workspace.root, capture_output=True, text=True,
                              check=True).stdout.split()

    assert complete("pl") == ["plan"]
    assert complete("plan", "--det") == ["--detailed-exitcode"]
    assert complete("state", "") == ["list", "show", "rm", "mv", "history", "pull", "push", "migrate", "-h", "--help"]
    assert complete("plan", "--format", "m") == ["markdown"]
    assert "--lock-id" not in complete("force-unlock", "--")


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion_scripts_parse(workspace: Workspace, shell: str) -> None:
    code, script, _ = workspace.run("completion", shell)
    assert code == 0 and "plan" in script
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs it)")
    path = workspace.root / f"c.{shell}"
    path.write_text(script, encoding="utf-8")
    checked = subprocess.run([binary, "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_the_manual_page_renders(workspace: Workspace) -> None:
    code, page, _ = workspace.run("manpage")
    assert code == 0 and page.startswith(".TH EXOFORM 1") and r"\-\-detailed\-exitcode" in page
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed")
    shown = subprocess.run([groff, "-man", "-Tutf8"], input=page, capture_output=True, text=True, check=True)
    text = re.sub(r".\x08", "", shown.stdout)
    assert "exoform plan" in text and "--detailed-exitcode" in text.replace("‐", "-")


def test_sandbox_calls_are_logged_like_admin_api_calls(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    code, _, err = workspace.run("apply", "--auto-approve", "--log-level", "info", "--log-format", "json")
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    calls = [r for r in records if r.get("provider") == "sandbox"]
    assert code == 0 and {c["cmdlet"] for c in calls} >= {"Get-TransportRule", "New-TransportRule"}
    assert all(c["attempt"] == 1 and c["duration_ms"] >= 0 for c in calls) and INFO not in err


def test_validate_checks_referenced_files_and_names_a_utf16_config(workspace: Workspace) -> None:
    config = {**CONFIG, "tenant": {"provider": "exchange_online", "tenant_id": "contoso.onmicrosoft.com",
                                   "client_id": "11111111-2222-3333-4444-555555555555", "ca_bundle": "ca.pem",
                                   "auth": {"method": "certificate", "certificate_path": "certs/app.pem"}}}
    (workspace.root / "exoform.json").write_text(json.dumps({"integration": "x", **config}), encoding="utf-8")
    code, _, err = workspace.run("validate")
    assert code == 1 and "tenant.auth.certificate_path: no file at certs/app.pem" in err
    assert "tenant.ca_bundle: no file at ca.pem" in err
    (workspace.root / "certs").mkdir()
    (workspace.root / "certs" / "app.pem").write_text("x", encoding="utf-8")
    (workspace.root / "ca.pem").write_text("x", encoding="utf-8")
    assert workspace.run("validate")[0] == 0
    (workspace.root / "exoform.json").write_text(json.dumps({"integration": "x", **CONFIG}), encoding="utf-16")
    code, _, err = workspace.run("validate")
    assert code == 1 and "looks like UTF-16" in err and "save the file as UTF-8" in err


def test_tenant_info_from_an_environment_variable(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = {"ip_ranges": ["203.0.113.0/24"], "tenant_info_env": "MDCES_TENANT_INFO"}
    workspace.write_config({**CONFIG, "gateway": gateway})
    assert INFO not in workspace.config.read_text(encoding="utf-8")
    code, _, err = workspace.run("plan")
    assert code == 1 and "gateway.tenant_info_env: the environment variable MDCES_TENANT_INFO is not set" in err
    monkeypatch.setenv("MDCES_TENANT_INFO", INFO)
    code, out, err = workspace.run("apply", "--auto-approve")
    assert code == 0 and INFO not in out + err, err
    rule = next(r for r in workspace.document()["TransportRule"] if r["Name"].endswith("Inbound emails"))
    assert rule["SetHeaderValue"] == INFO


def test_failures_name_objects_by_name_and_a_first_step_failure_reads_right(workspace: Workspace,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    workspace.write_config(CONFIG)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    workspace.write_config({**CONFIG, "rules": {"enabled": True}})
    monkeypatch.setenv("EXOFORM_FAULTS", "Enable-TransportRule#2:error,Disable-TransportRule#1:error")
    code, out, err = workspace.run("apply", "--auto-approve")
    guid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    assert code == 3 and not guid.search(out + err), out + err
    assert "Enable-TransportRule on 'OPSWAT MDCES - Inbound emails' failed" in err
    assert "undo step 1: Disable-TransportRule on 'OPSWAT MDCES - SPF' failed" in err
    monkeypatch.setenv("EXOFORM_FAULTS", "Enable-TransportRule#1:error")
    code, _, err = workspace.run("apply", "--auto-approve")
    assert code == 1 and "step 1 (" in err and "No step had been run" not in err
    assert "Nothing was changed: no step had taken effect before this one failed" in err


def test_a_corrupt_state_names_its_backup_and_json_errors_read_once(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    assert workspace.run("apply", "--auto-approve")[0] == 0
    workspace.write_config({**CONFIG, "rules": {"enabled": True}})
    assert workspace.run("apply", "--auto-approve")[0] == 0  # the second write keeps a .backup
    workspace.state.write_text('{"format', encoding="utf-8")
    code, _, err = workspace.run("plan")
    assert code == 1 and "Unterminated string starting at line 1" in err and "at at" not in err
    assert "kept in state/scenario.json.backup: check it" in err


def test_an_apply_whose_reader_went_away_still_finishes_and_says_how_it_went(workspace: Workspace) -> None:
    workspace.write_config(CONFIG)
    def piped_to_true(args: str) -> subprocess.CompletedProcess[str]:
        """`true` exits at once: exoform's stdout is closed before it writes anything."""
        return subprocess.run(f"{sys.executable} -m exoform {args} | true; exit ${{PIPESTATUS[0]}}", shell=True,
                              executable="/bin/bash", cwd=workspace.root, capture_output=True, text=True, timeout=60)

    # An approved apply is not stopped half-way by its output going nowhere: it finishes (or
    # rolls back) and exits with its own code.
    first = piped_to_true("apply --auto-approve")
    assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
    assert len(workspace.document()["TransportRule"]) == 3
    again = piped_to_true("apply --auto-approve --json")  # JSON comes only at the end
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert workspace.run("plan", "--detailed-exitcode")[0] == 0


def test_the_allow_list_reads_as_entries_added_in_address_order(workspace: Workspace) -> None:
    workspace.write_config({**CONFIG, "gateway": {**CONFIG["gateway"], "ip_ranges": ["203.0.113.0/24", "9.9.9.9"]}})
    code, out, _ = workspace.run("plan")
    assert code == 0 and "will be created (merge" not in out
    assert "connection_filter_allowlist.default: 2 entries will be added to the Default policy's IP allow list" in out
    assert out.index("+ IPAllowList entry 9.9.9.9") < out.index("+ IPAllowList entry 203.0.113.0/24")
    assert '~ resource "connection_filter_allowlist" "default"' in out
    workspace.run("apply", "--auto-approve")
    code, out, _ = workspace.run("plan", "--destroy")
    assert "2 entries will be removed from the Default policy's IP allow list" in out and "will be destroyed (" not in out.split("connection_filter_allowlist.default")[1][:40]
