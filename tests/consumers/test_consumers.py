"""exoform's plan JSON read by the real tools teams run on Terraform plans: HashiCorp's
terraform-json (Go), checkov with custom checks on exoform's types, terraform-compliance and Rego
policies through regopy. Each must accept the plans and pass or fail as the plan deserves.
`.ci/run` installs the tools; without them these tests skip, unless EXOFORM_REQUIRE_CONSUMERS=1
(CI) makes a missing tool a failure."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from exoform.cli import main

HERE = Path(__file__).parent
TFJSON_SOURCE = Path(os.environ.get("EXOFORM_GOPATH", "/usr/share/gocode"))
BASE: dict[str, Any] = {
    "integration": "review",
    "tenant": {"provider": "sandbox", "sandbox_file": "tenant.json"},
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-review-42"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
}


def _missing(what: str) -> None:
    if os.environ.get("EXOFORM_REQUIRE_CONSUMERS") == "1":
        pytest.fail(f"{what} is not installed, and EXOFORM_REQUIRE_CONSUMERS=1 (CI) requires it")
    pytest.skip(f"{what} is not installed (.ci/run installs it)")


def _tool(name: str) -> str:
    folder = os.environ.get("EXOFORM_CONSUMERS_BIN")
    found = shutil.which(name, path=folder) if folder else None
    found = found or shutil.which(name)
    if not found:
        _missing(name)
    return str(found)


def _exoform(root: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.chdir(root), contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv))
    return code, out.getvalue()


def _plan(root: Path, name: str, *extra: str) -> Path:
    code, out = _exoform(root, "plan", "--json", *extra)
    assert code == 0, out
    path = root / f"{name}.json"
    path.write_text(out, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Real plans: a fresh install, one in Audit mode, disabling live routing rules, a rename
    (replacements) and a destroy."""
    root = tmp_path_factory.mktemp("plans")
    config = root / "exoform.json"

    def write(**changes: Any) -> None:
        config.write_text(json.dumps({**BASE, **changes}), encoding="utf-8")

    found: dict[str, Path] = {}
    write()
    found["create"] = _plan(root, "create")
    write(rules={"mode": "audit", "enabled": True})
    found["audit"] = _plan(root, "audit")
    write(rules={"enabled": True})
    assert _exoform(root, "apply", "--auto-approve")[0] == 0
    write(rules={"enabled": False})
    found["disable"] = _plan(root, "disable")
    write(rules={"enabled": True}, gateway={**BASE["gateway"], "name_prefix": "Contoso Gateway"})
    found["rename"] = _plan(root, "rename")
    found["destroy"] = _plan(root, "destroy", "--destroy")
    yield found


def test_terraform_json_unmarshals_every_plan(plans: dict[str, Path], tmp_path: Path) -> None:
    go = _tool("go")
    if not (TFJSON_SOURCE / "src/github.com/hashicorp/terraform-json").is_dir():
        _missing("terraform-json (Debian: golang-github-hashicorp-terraform-json-dev)")
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(TFJSON_SOURCE), "GOFLAGS": "",
           "GOCACHE": str(tmp_path / "gocache"), "GOPROXY": "off"}
    binary = tmp_path / "tfjson"
    subprocess.run([go, "build", "-o", str(binary), "main.go"], cwd=HERE / "tfjson", env=env, check=True,
                   capture_output=True, timeout=300)
    run = subprocess.run([str(binary), *map(str, plans.values())], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    seen = {Path(s["file"]).stem: s for s in map(json.loads, run.stdout.splitlines())}
    assert seen["create"]["format_version"] == "0.1" and seen["create"]["planned"] == 6
    assert set(seen["create"]["actions"].values()) == {"create"}
    # A rename is in place; the outbound connector (which Exchange will not rename while rules
    # route through it) is replaced, the new one created first.
    assert seen["rename"]["actions"]["inbound_connector.inbound"] == "update"
    assert seen["rename"]["actions"]["outbound_connector.outbound"] == "replace-create-first"
    assert seen["disable"]["actions"]["transport_rule.inbound_emails"] == "update"
    assert set(seen["destroy"]["actions"].values()) == {"delete"} and seen["destroy"]["planned"] == 0
    assert seen["destroy"]["prior"] == 6 and seen["destroy"]["configured"] == 0


def _checkov(files: list[Path]) -> dict[str, Any]:
    checkov = _tool("checkov")
    command = [checkov, "--framework", "terraform_plan", "--external-checks-dir", str(HERE / "checkov"),
               "--check", "CKV_EXO_1,CKV_EXO_2,CKV_EXO_3", "-o", "json", "--compact", "--skip-download"]
    for path in files:
        command += ["-f", str(path)]
    # BC_SKIP_MAPPING: no attempt to fetch Prisma Cloud's guideline mappings (no network here).
    run = subprocess.run(command, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    assert run.returncode in (0, 1), run.stderr[-2000:]
    report = json.loads(run.stdout)
    return report if isinstance(report, dict) else {"results": {"passed_checks": [], "failed_checks": []}}


def test_checkov_custom_checks_pass_and_fail_as_the_plans_deserve(plans: dict[str, Path]) -> None:
    report = _checkov([plans[name] for name in ("create", "audit", "disable")])
    results = report["results"]
    outcome = {(Path(c["file_path"]).stem, c["check_id"], c["resource"]): c["check_result"]["result"]
               for c in results["passed_checks"] + results["failed_checks"]}
    assert report["summary"]["resource_count"] == 18  # 6 resources in each of the three plans
    assert outcome[("create", "CKV_EXO_1", "transport_rule.spf")] == "PASSED"
    assert outcome[("create", "CKV_EXO_2", "outbound_connector.outbound")] == "PASSED"
    assert outcome[("create", "CKV_EXO_3", "transport_rule.inbound_emails")] == "PASSED"
    assert outcome[("audit", "CKV_EXO_1", "transport_rule.spf")] == "FAILED"
    assert outcome[("disable", "CKV_EXO_3", "transport_rule.inbound_emails")] == "FAILED"
    assert outcome[("disable", "CKV_EXO_3", "transport_rule.spf")] == "PASSED"  # routes nothing


def _compliance(plan: Path) -> subprocess.CompletedProcess[str]:
    tool = _tool("terraform-compliance")
    return subprocess.run([tool, "-p", str(plan), "-f", str(HERE / "features"), "--no-ansi"],
                          capture_output=True, text=True, timeout=300)


def test_terraform_compliance_passes_the_install_and_fails_audit_mode(plans: dict[str, Path]) -> None:
    passed = _compliance(plans["create"])
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert "3 scenarios (3 passed)" in passed.stdout
    failed = _compliance(plans["audit"])
    assert failed.returncode != 0 and "1 failed" in failed.stdout, failed.stdout[-3000:]


def _rego(plan: Path, query: str) -> Any:
    try:
        import regopy
    except ImportError:
        _missing("regopy")
    rego = regopy.Interpreter()
    rego.add_module("exoform", (HERE / "rego" / "exoform.rego").read_text(encoding="utf-8"))
    rego.set_input(regopy.Input(json.loads(plan.read_text(encoding="utf-8"))))
    output = rego.query(query)
    assert output.ok(), str(output)
    return output.results[0].expressions[0]


def test_rego_policy_blocks_deleting_connectors_and_disabling_routing_rules(plans: dict[str, Path]) -> None:
    assert _rego(plans["create"], "data.exoform.review.deny") == []
    assert _rego(plans["rename"], "data.exoform.review.deny") == [
        "outbound_connector.outbound (OPSWAT MDCES - Outbound) would be deleted"]
    assert _rego(plans["disable"], "data.exoform.review.deny") == [
        "transport_rule.inbound_emails would stop routing mail through the gateway (disabled)",
        "transport_rule.outbound_emails would stop routing mail through the gateway (disabled)"]
    assert len(_rego(plans["destroy"], "data.exoform.review.deny")) == 2
    # Policies written for Terraform's mode/provider_name/planned_values match exoform's resources.
    assert len(_rego(plans["create"], "data.exoform.review.managed")) == 6
    assert len(_rego(plans["create"], "data.exoform.review.planned")) == 6


def test_no_consumer_sees_the_tenant_information(plans: dict[str, Path]) -> None:
    for path in plans.values():
        assert "tenant-info-review-42" not in path.read_text(encoding="utf-8")
