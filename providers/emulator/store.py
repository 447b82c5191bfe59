"""The emulator's tenant: a sandbox-format tenant file, re-read on every request under the
sandbox's lock (`<file>.lock`, so a sandbox provider may share it) and written back atomically
after a call that changed it. Without a file the tenant lives in memory.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.errors import InputError, Issue
from exoform.engine.jsonfile import atomic_write_json
from exoform.providers.sandbox import tenant_issues
from exoform.providers.tenant_model import TenantModel, empty_tenant


class TenantStore:
    """Runs cmdlets through `TenantModel`; a failed call leaves the tenant unchanged."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[str, Any] = empty_tenant()
        self._lock = threading.Lock()

    def run(self, call: CmdletCall) -> list[dict[str, Any]]:
        with self._locked():
            model = TenantModel(self._load())
            before = model.document()
            output = model.invoke(call)
            after = model.document()
            if call.verb != "Get" and after != before:
                self._save(after)
            return output

    def document(self) -> dict[str, Any]:
        with self._locked():
            return TenantModel(self._load()).document()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self.path is None:
                yield
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _load(self) -> dict[str, Any]:
        if self.path is None:
            return self._memory
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return empty_tenant()
        except (OSError, ValueError) as error:
            raise InputError(str(self.path), [Issue("", f"cannot be read as JSON: {error}")]) from None
        issues = tenant_issues(data)
        if issues:
            raise InputError(str(self.path), issues)
        document: dict[str, Any] = data
        return document

    def _save(self, document: dict[str, Any]) -> None:
        if self.path is None:
            self._memory = document
            return
        # The sandbox's writer: temp file, fsync, rename, fsync of the folder; dump_tenant's form.
        atomic_write_json(self.path, document, mode=0o644)
