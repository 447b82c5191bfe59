"""A fleet in a scratch workspace: one tenant file per tenant under `tenants/`, a manifest whose
defaults reach them through the sandbox or through the multi-tenant HTTPS emulator, the CLI's
`fleet` commands run in-process with the JSON report parsed, and admin edits outside exoform."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exoform.engine.cmdlets import from_wire
from exoform.engine.reporter import Reporter
from exoform.providers.emulator.fleet import FleetEmulator
from exoform.providers.faults import FaultPlan
from exoform.providers.sandbox import SandboxProvider
from support.harness import canonical_tenant
from support.workspace import Workspace

GATEWAY = {"ip_ranges": ["203.0.113.0/24"], "tenant_info": {"env": "FLEET_TENANT_INFO"}}
PROTECTION = {"mode": "inline", "directions": ["inbound", "outbound"], "scope": {"users": "all"}}


def tenant_document(name: str, **extra: Any) -> dict[str, Any]:
    domain = f"{name}.example"
    return {"organization": f"{name}.onmicrosoft.com", "accepted_domains": [domain],
            "recipients": [{"address": f"alice@{domain}", "type": "UserMailbox", "name": "Alice"},
                           {"address": f"finance@{domain}", "type": "MailUniversalDistributionGroup",
                            "name": "Finance"}],
            "mx_records": {domain: [f"{name}-example.mail.protection.outlook.com"]}, **extra}


@dataclass
class FleetSpace:
    """`names` -> waves; the manifest is rewritten by `write` (defaults and overrides given)."""

    space: Workspace
    waves: dict[str, str]
    emulator: FleetEmulator | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.space.root

    @property
    def manifest(self) -> Path:
        return self.root / "fleet.json"

    def tenant_file(self, name: str) -> Path:
        return self.root / "tenants" / f"{name}.tenant.json"

    def write_tenants(self, **extra: Any) -> dict[str, bytes]:
        (self.root / "tenants").mkdir(exist_ok=True)
        for name in self.waves:
            self.tenant_file(name).write_text(canonical_tenant(tenant_document(name, **extra)), encoding="utf-8")
        return self.snapshot()

    def snapshot(self) -> dict[str, bytes]:
        return {name: self.tenant_file(name).read_bytes() for name in self.waves}

    def defaults_tenant(self) -> dict[str, Any]:
        if self.emulator is None:
            return {"provider": "sandbox", "sandbox_file": "tenants/{name}.tenant.json"}
        return self.emulator.defaults("secret")

    def member_tenant(self, name: str) -> dict[str, Any]:
        return {"tenant_id": self.emulator.tenant_id(name)} if self.emulator else {}

    def write(self, defaults: dict[str, Any] | None = None, waves: list[str] | None = None) -> Path:
        body: dict[str, Any] = {"fleet": "test-fleet", "defaults": {
            "tenant": self.defaults_tenant(), "gateway": GATEWAY, "protection": PROTECTION, **(defaults or {})}}
        if waves:
            body["waves"] = waves
        body["tenants"] = [{"name": name, "wave": wave, "tenant": self.member_tenant(name),
                            **({"overrides": self.overrides[name]} if name in self.overrides else {})}
                           for name, wave in self.waves.items()]
        self.manifest.write_text(json.dumps(body, indent=2), encoding="utf-8")
        return self.manifest

    def run(self, *argv: str) -> tuple[int, str, str]:
        return self.space.run("fleet", argv[0], "-f", str(self.manifest), *argv[1:])

    def report(self, *argv: str, codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
        """The JSON report of `fleet <argv>`; asserts the exit code is one of `codes`."""
        code, out, err = self.run(*argv, "--json")
        assert code in codes, (code, out, err)
        assert "Traceback" not in err, err
        report: dict[str, Any] = json.loads(out)
        report["exit"] = code
        return report

    def document(self, name: str) -> dict[str, Any]:
        if self.emulator is not None:
            return self.emulator.document(name)
        return dict(json.loads(self.tenant_file(name).read_text(encoding="utf-8")))

    def outside(self, name: str, cmdlet: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """An admin's change in one tenant, straight to its file (the emulator serves the same file)."""
        provider = SandboxProvider(self.tenant_file(name), faults=FaultPlan(), reporter=Reporter())
        return provider.invoke(from_wire(cmdlet, parameters))


def by_tenant(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["tenant"]: row for row in report["tenants"]}


def results(report: dict[str, Any]) -> dict[str, str]:
    return {row["tenant"]: row["result"] for row in report["tenants"]}
