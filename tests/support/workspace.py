"""The scratch workspace tests drive the CLI in: config, state and sandbox tenant files under
tmp, the real entry point run in-process, and admin edits made outside exoform (straight to
the tenant file, or through the emulator's Admin API)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exoform.cli import main
from exoform.engine.cmdlets import from_wire
from exoform.engine.reporter import Reporter
from exoform.providers.emulator.server import Emulator
from exoform.providers.faults import FaultPlan
from exoform.providers.sandbox import SandboxProvider
from support.harness import canonical_tenant

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Workspace:
    root: Path
    capsys: Any
    # Set by `emulated_workspace`: configs then name the exchange_online provider pointing at
    # this emulator, which serves `tenant` (the same file the sandbox variant uses).
    emulator: Emulator | None = None

    @property
    def tenant(self) -> Path:
        return self.root / "tenant.json"

    @property
    def config(self) -> Path:
        return self.root / "exoform.json"

    @property
    def state(self) -> Path:
        return self.root / "state" / "scenario.json"

    def write_tenant(self, document: dict[str, Any] | None) -> str:
        text = canonical_tenant(document)
        self.tenant.write_text(text, encoding="utf-8")
        return text

    def write_config(self, config: dict[str, Any], integration: str = "scenario",
                     path: Path | None = None) -> Path:
        full = {"integration": integration, "tenant": self.tenant_block()}
        full.update(config)
        target = path or self.config
        target.write_text(json.dumps(full, indent=2), encoding="utf-8")
        return target

    def tenant_block(self) -> dict[str, Any]:
        if self.emulator is None:
            return {"provider": "sandbox", "sandbox_file": "tenant.json"}
        return self.emulator.tenant_options("secret")

    def run(self, *argv: str) -> tuple[int, str, str]:
        """Run the CLI in-process; returns (exit code, stdout, stderr)."""
        self.capsys.readouterr()
        code = main([*argv])
        out, err = self.capsys.readouterr()
        return code, out, err

    def plan_json(self, *extra: str) -> dict[str, Any]:
        code, out, err = self.run("plan", "--json", *extra)
        assert code == 0, out + err
        return json.loads(out)

    def outside(self, cmdlet: str, parameters: dict[str, Any], tenant: Path | None = None) -> list[dict[str, Any]]:
        """A change made by an admin outside exoform: straight to the tenant file, or through
        the emulator's Admin API in a session of its own (as an admin's PowerShell would)."""
        if tenant is None and self.emulator is not None:
            from exoform.providers.exchange import make_provider

            admin = make_provider(self.emulator.tenant_options("secret"), Reporter(), faults=FaultPlan())
            try:
                return admin.invoke(from_wire(cmdlet, parameters))
            finally:
                admin.close()
        provider = SandboxProvider(tenant or self.tenant, faults=FaultPlan())
        return provider.invoke(from_wire(cmdlet, parameters))

    def document(self) -> dict[str, Any]:
        return json.loads(self.tenant.read_text(encoding="utf-8"))
