"""Choosing the backend a config's `backend` block names. Remote backends are imported only
here and only when used, so a missing extra is one clear error naming it."""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Callable

from exoform.backends.base import Backend
from exoform.backends.local import LocalBackend
from exoform.engine.errors import ExoformError
from exoform.engine.spec import BackendSpec

EXTRAS = {"azurerm": ("exoform.backends.azurerm", "azure"),
          "postgres": ("exoform.backends.postgres", "postgres")}
_LIBRARIES = {"azure", "psycopg", "psycopg_binary"}


class MissingExtra(ExoformError):
    """A backend's libraries are not installed."""


def open_backend(spec: BackendSpec, *, local_path: Path, allow_unsafe: bool = False,
                 warn: Callable[[str], None] | None = None) -> Backend:
    """The backend `spec` names; the local one keeps its state at `local_path`."""
    if spec.type == "local":
        return LocalBackend(lambda key: local_path, allow_unsafe=allow_unsafe, warn=warn)
    module = backend_module(spec.type)
    opened: Backend = module.open_backend(spec.options)
    return opened


def backend_module(kind: str) -> ModuleType:
    name, extra = EXTRAS[kind]
    try:
        return importlib.import_module(name)
    except ImportError as error:
        if (error.name or "").split(".")[0] not in _LIBRARIES:
            raise
        raise MissingExtra(f"the {kind} backend needs the '{extra}' extra, which is not installed "
                           f"({error.name or error}): pip install 'exoform[{extra}]'") from None
