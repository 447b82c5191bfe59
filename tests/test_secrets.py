"""Secrets never land anywhere: every command, run against the HTTPS emulator with a known client
secret, a known PFX passphrase and real tokens, leaves none of them in its output, its logs
(msal's and urllib3's DEBUG included), the state and its backup, saved plans, scripts, or any
file beside the token cache. State and token cache files are 0600; a certificate file others
can read draws a warning."""
from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any, Iterator

import pytest

from support.workspace import Workspace
from exoform.providers.emulator.server import Emulator
from exoform.providers.faults import FaultPlan
from support.harness import RECIPIENTS, canonical_tenant

CLIENT_SECRET = "Zq8~known-client-secret-7f3a9c2e5b1d"
CONFIG = {
    "gateway": {"ip_ranges": ["203.0.113.0/24"], "tenant_info": "tenant-info-123"},
    "protection": {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}},
    "rules": {"enabled": True},
}


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    tenant = tmp_path / "emulated-tenant.json"
    tenant.write_text(canonical_tenant({"recipients": RECIPIENTS}), encoding="utf-8")
    monkeypatch.setenv("EXOFORM_CACHE_DIR", str(tmp_path / "token-cache"))
    monkeypatch.delenv("EXOFORM_FAULTS", raising=False)
    with Emulator(tenant, faults=FaultPlan(), client_secret=CLIENT_SECRET,
                  workdir=tmp_path / "emulator") as running:
        monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", CLIENT_SECRET)
        assert running.certificate is not None
        monkeypatch.setenv("EXO_PFX_PASSPHRASE", running.certificate.pfx_password)
        yield running


def _config(workspace: Workspace, emulator: Emulator, auth: dict[str, Any], name: str) -> str:
    path = workspace.root / f"{name}.json"
    tenant = emulator.tenant_options("secret")
    tenant["auth"] = auth
    path.write_text(json.dumps({"integration": "secrets", "tenant": tenant, **CONFIG}), encoding="utf-8")
    return path.name


COMMANDS = [
    ["validate"], ["plan"], ["plan", "--json"], ["plan", "--out", "change.plan"],
    ["apply", "change.plan"], ["plan", "--detailed-exitcode"], ["show"], ["show", "--json"],
    ["state", "list", "-l"], ["state", "show", "transport_rule.inbound_emails"],
    ["script"], ["plan", "--destroy", "--out", "destroy.plan"], ["show", "destroy.plan"],
    ["script", "--destroy"], ["drift"], ["force-unlock", "not-the-id"],
    ["plan", "--no-token-cache"], ["destroy", "--auto-approve"], ["apply", "--auto-approve", "--json"],
]


def test_no_secret_in_any_output_log_or_file(workspace: Workspace, emulator: Emulator, caplog: Any,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    assert emulator.certificate is not None
    configs = [
        _config(workspace, emulator, {"method": "secret", "client_secret_env": "EXOFORM_EMULATOR_SECRET"}, "secret"),
        _config(workspace, emulator, {"method": "certificate", "certificate_path": str(emulator.certificate.pfx_path),
                                      "certificate_password_env": "EXO_PFX_PASSPHRASE"}, "pfx"),
    ]
    seen: list[str] = []
    for config in configs:
        codes = []
        for command in COMMANDS:
            code, out, err = workspace.run(*command, "-c", config)
            codes.append(code)
            seen += [out, err]
            if command[0] == "script":
                (workspace.root / f"{config}.{len(seen)}.ps1").write_text(out, encoding="utf-8")
        # Everything works (force-unlock of a wrong id is refused; drift/plan may report changes).
        assert [c for c in codes if c == 1] == [1], list(zip(codes, COMMANDS))
    # Failures carry messages too: a wrong secret, a wrong passphrase, an expired token.
    monkeypatch.setenv("EXOFORM_EMULATOR_SECRET", "wrong-" + CLIENT_SECRET)
    monkeypatch.setenv("EXO_PFX_PASSPHRASE", "wrong-" + emulator.certificate.pfx_password)
    for config in configs:
        code, out, err = workspace.run("plan", "--no-token-cache", "-c", config)
        assert code == 1 and "Error:" in err
        seen += [out, err]
    emulator.expire_tokens()
    seen += list(workspace.run("plan", "-c", configs[0]))[1:]

    cache = tmp_path / "token-cache"
    tokens = _cached_tokens(cache)
    assert tokens, "the scan must include real access and refresh tokens"
    secrets = [CLIENT_SECRET, emulator.certificate.pfx_password, *tokens, *_key_lines(emulator)]
    # Every file but the token cache itself (it holds the tokens, 0600) and the emulator's own.
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
             and "emulator" not in p.relative_to(tmp_path).parts and not p.name.startswith("msal-token-cache-")}
    haystacks = {"output": "\n".join(seen), "logs": caplog.text}
    haystacks.update({str(p): data.decode("utf-8", "replace") for p, data in files.items()})
    assert "msal" in caplog.text and any(p.name.endswith(".ps1") for p in files)
    found = [(where, secret[:8]) for where, text in haystacks.items() for secret in secrets if secret in text]
    assert found == [], f"secrets found: {found}"
    assert len(files) >= 6  # state, backup, lock, saved plans, scripts were all scanned


def _cached_tokens(cache: Path) -> list[str]:
    tokens: list[str] = []
    for path in cache.glob("*.json"):
        document = json.loads(path.read_text())
        for section in ("AccessToken", "RefreshToken"):
            tokens += [entry["secret"] for entry in document.get(section, {}).values()]
    return tokens


def _key_lines(emulator: Emulator) -> list[str]:
    assert emulator.certificate is not None
    lines = emulator.certificate.pem_path.read_text().splitlines()
    return [line for line in lines[1:6] if not line.startswith("-----")]


def test_state_and_token_cache_are_owner_only(workspace: Workspace, emulator: Emulator, tmp_path: Path) -> None:
    config = _config(workspace, emulator, {"method": "secret", "client_secret_env": "EXOFORM_EMULATOR_SECRET"}, "c")
    old = os.umask(0o000)  # even a permissive umask must not widen them
    try:
        assert workspace.run("apply", "--auto-approve", "-c", config)[0] == 0
        workspace.write_config(CONFIG)
        assert workspace.run("apply", "-c", config, "--auto-approve")[0] == 0
    finally:
        os.umask(old)
    state_files = list((workspace.root / "state").glob("secrets.json*"))
    cache_files = list((tmp_path / "token-cache").iterdir())
    assert state_files and cache_files
    for path in state_files + cache_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "token-cache").stat().st_mode) & 0o077 == 0


@pytest.mark.parametrize("mode, warned", [(0o644, True), (0o640, True), (0o600, False), (0o400, False)])
def test_a_certificate_file_others_can_read_draws_a_warning(workspace: Workspace, emulator: Emulator,
                                                            mode: int, warned: bool) -> None:
    assert emulator.certificate is not None
    pem = emulator.certificate.pem_path
    pem.chmod(mode)
    config = _config(workspace, emulator, {"method": "certificate", "certificate_path": str(pem)}, "cert")
    code, out, err = workspace.run("plan", "-c", config)
    assert code == 0, err
    warning = f"the certificate file {pem} holds a private key and is readable by other users (mode {mode:04o})"
    assert (warning in out + err) is warned
    if warned:
        assert f"chmod 600 {pem}" in out + err
