"""The emulator's tenant: a sandbox-format tenant file run through the sandbox's `TenantFile`
(same lock `<file>.lock`, so a sandbox provider may share it; same validation and atomic write),
or, without a file, a tenant kept in memory.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from exoform.engine.cmdlets import CmdletCall
from exoform.providers.sandbox import TenantFile
from exoform.providers.tenant_model import TenantModel, empty_tenant


class TenantStore:
    """Runs cmdlets through `TenantModel`; a failed call leaves the tenant unchanged."""

    def __init__(self, path: Path | None) -> None:
        self._file = TenantFile(path) if path is not None else None
        self._memory: dict[str, Any] = empty_tenant()
        # Request threads share one TenantFile (its parse cache) and the memory tenant.
        self._lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        return self._file.path if self._file is not None else None

    def use(self, path: Path | None) -> None:
        """Serve another tenant file (or a fresh memory tenant) from the next call on."""
        with self._lock:
            self._file = TenantFile(path) if path is not None else None
            self._memory = empty_tenant()

    def run(self, call: CmdletCall) -> list[dict[str, Any]]:
        with self._lock:
            if self._file is not None:
                return self._file.run(call)
            model = TenantModel(self._memory)
            output = model.invoke(call)
            if call.verb != "Get":
                self._memory = model.document()
            return output

    def document(self) -> dict[str, Any]:
        with self._lock:
            if self._file is not None:
                return self._file.document()
            return TenantModel(self._memory).document()
