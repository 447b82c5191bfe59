"""Exchange cmdlet calls as data: the one vocabulary shared by the real Admin API provider, the
sandbox tenant, the HTTP emulator and the PowerShell script renderer.

A `CmdletCall` holds only parameter names of Microsoft's cmdlet reference. `to_wire` gives the
InvokeCommand JSON (arrays for multi-valued parameters, GenericHashTable for add/remove edits).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

GENERIC_HASHTABLE = "#Exchange.GenericHashTable"


@dataclass(frozen=True)
class ListEdit:
    """An add/remove edit of a multi-valued property (`@{Add=...; Remove=...}`)."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"@odata.type": GENERIC_HASHTABLE}
        if self.add:
            wire["Add"] = list(self.add)
        if self.remove:
            wire["Remove"] = list(self.remove)
        return wire

    def inverse(self) -> "ListEdit":
        return ListEdit(add=self.remove, remove=self.add)


ParamValue = Any  # str | bool | int | None | tuple[str, ...] | ListEdit


@dataclass(frozen=True)
class CmdletCall:
    """One cmdlet invocation. `params` is a sorted tuple of (name, value) pairs."""

    name: str
    params: tuple[tuple[str, ParamValue], ...] = ()

    @classmethod
    def of(cls, name: str, params: Mapping[str, ParamValue] | None = None) -> "CmdletCall":
        frozen = []
        for key, value in (params or {}).items():
            if isinstance(value, list):
                value = tuple(value)
            frozen.append((key, value))
        return cls(name, tuple(sorted(frozen)))

    @property
    def args(self) -> dict[str, ParamValue]:
        return dict(self.params)

    @property
    def identity(self) -> str:
        """The object the call is about (Identity or Name), for messages."""
        args = self.args
        return str(args.get("Identity") or args.get("Name") or "")

    @property
    def verb(self) -> str:
        return self.name.split("-", 1)[0]

    @property
    def noun(self) -> str:
        return self.name.split("-", 1)[1]

    def to_wire(self) -> dict[str, Any]:
        """The `CmdletInput` body of an InvokeCommand request."""
        return {"CmdletInput": {"CmdletName": self.name, "Parameters": wire_params(self.params)}}


def wire_params(params: tuple[tuple[str, ParamValue], ...]) -> dict[str, Any]:
    """Parameters as InvokeCommand JSON: tuples -> arrays, ListEdit -> GenericHashTable."""
    wire: dict[str, Any] = {}
    for key, value in params:
        if isinstance(value, ListEdit):
            wire[key] = value.to_wire()
        elif isinstance(value, tuple):
            wire[key] = list(value)
        else:
            wire[key] = value
    return wire


def from_wire(name: str, parameters: Mapping[str, Any]) -> CmdletCall:
    """The inverse of `to_wire` (used by the emulator and the sandbox)."""
    params: dict[str, ParamValue] = {}
    for key, value in parameters.items():
        if isinstance(value, dict) and value.get("@odata.type") == GENERIC_HASHTABLE:
            add = value.get("Add", value.get("add")) or []
            remove = value.get("Remove", value.get("remove")) or []
            params[key] = ListEdit(tuple(_as_list(add)), tuple(_as_list(remove)))
        else:
            params[key] = value
    return CmdletCall.of(name, params)


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
