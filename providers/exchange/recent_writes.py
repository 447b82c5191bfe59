"""Read-after-write lag tolerance: Exchange may not show an object for seconds to minutes after
New-, or keep showing it after Remove-. The provider remembers what this process created and
removed and overlays that on its reads, trusting its own successful calls over a stale replica.
"""
from __future__ import annotations

import threading
from typing import Any

from exoform.engine.cmdlets import CmdletCall, ListEdit
from exoform.engine.exchange import is_guid


def _matches(obj: dict[str, Any], identity: str) -> bool:
    """Exchange identities are a Guid or a name, compared case-insensitively."""
    wanted = identity.casefold()
    return any(str(obj.get(key) or "").casefold() == wanted for key in ("Guid", "Name", "Identity"))


class RecentWrites:
    """Objects created and removed by this process, per Exchange type."""

    def __init__(self) -> None:
        self._created: dict[str, list[dict[str, Any]]] = {}
        self._removed: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def record(self, call: CmdletCall, output: list[dict[str, Any]]) -> None:
        """Remember the effect of a successful mutating call."""
        noun, identity = call.noun, call.identity
        with self._lock:
            created = self._created.setdefault(noun, [])
            removed = self._removed.setdefault(noun, [])
            if call.verb == "New" and output:
                obj = dict(output[0])
                removed[:] = [i for i in removed if not _matches(obj, i)]
                created[:] = [c for c in created if not _matches(c, str(obj.get("Name", "")))]
                created.append(obj)
            elif call.verb == "Remove" and identity:
                created[:] = [c for c in created if not _matches(c, identity)]
                removed.append(identity)
            elif identity:
                _patch(created, call, identity)

    def overlay(self, noun: str, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`objects` as read, corrected by what this process knows it did."""
        with self._lock:
            created = list(self._created.get(noun, ()))
            removed = list(self._removed.get(noun, ()))
        shown = [o for o in objects if not any(_hidden(o, i, created) for i in removed)]
        missing = [c for c in created
                   if not any(_matches(o, str(c.get("Guid") or c.get("Name") or "")) for o in shown)]
        return shown + missing


def _hidden(obj: dict[str, Any], identity: str, created: list[dict[str, Any]]) -> bool:
    """A removed identity hides a read object, unless it is one we created again since."""
    if not _matches(obj, identity):
        return False
    if is_guid(identity):
        return True
    return not any(str(c.get("Guid") or "") == str(obj.get("Guid") or "-") for c in created)


def _patch(created: list[dict[str, Any]], call: CmdletCall, identity: str) -> None:
    """Keep a remembered (not yet visible) object in step with later Set-/Enable-/Disable-."""
    for obj in created:
        if not _matches(obj, identity):
            continue
        if call.verb in ("Enable", "Disable"):
            obj["State"] = "Enabled" if call.verb == "Enable" else "Disabled"
        elif call.verb == "Set":
            for key, value in call.params:
                if key != "Identity" and not isinstance(value, ListEdit):
                    obj[key] = list(value) if isinstance(value, tuple) else value
