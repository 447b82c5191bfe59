"""The write journal: what this tenant's recent exoform runs created and removed (type, Guid,
name, when - never an attribute value), in a 0600 file beside the token cache, so the next
command confirms by Guid what a lagging replica's list does not show yet. Entries older than the
window are forgotten (replication has long caught up by then).
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from exoform.engine.jsonfile import atomic_write_json
from exoform.providers.exchange.token_cache import cache_dir

#: How long a write is remembered: the service has been measured taking minutes to show one.
WINDOW_SECONDS = 15 * 60
CREATED, REMOVED = "created", "removed"
# Recorded before a Remove- is sent: a run killed between the call's effect and its record
# leaves this, and the next read then trusts the list instead of waiting for the object.
REMOVING = "removing"


@dataclass(frozen=True)
class Write:
    noun: str  # the Exchange type, e.g. TransportRule
    guid: str
    name: str
    op: str  # CREATED | REMOVING | REMOVED
    at: float  # epoch seconds


def journal_path(endpoint: str, tenant: str) -> Path:
    key = hashlib.sha256(f"{endpoint.lower()}|{tenant.lower()}".encode()).hexdigest()[:20]
    return cache_dir() / f"exoform-writes-{key}.json"


class WriteJournal:
    """Recent creations and removals of one tenant; in memory only without a path."""

    def __init__(self, path: Path | None, *, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._writes = self._load()

    def record(self, noun: str, guid: str, name: str, op: str) -> None:
        with self._lock:
            kept = [w for w in self._fresh() if w.guid.lower() != guid.lower()]
            self._writes = kept + [Write(noun, guid, name, op, self._clock())]
            self._save()

    def writes(self, noun: str) -> list[Write]:
        with self._lock:
            return [w for w in self._fresh() if w.noun == noun]

    def settled(self, guid: str) -> None:
        """A read showed the write has replicated: nothing left to confirm."""
        with self._lock:
            kept = [w for w in self._writes if w.guid.lower() != guid.lower()]
            if len(kept) != len(self._writes):
                self._writes = kept
                self._save()

    def age(self, write: Write) -> float:
        return self._clock() - write.at

    def _fresh(self) -> list[Write]:
        now = self._clock()
        return [w for w in self._writes if 0 <= now - w.at < self.window]

    def _load(self) -> list[Write]:
        if self.path is None:
            return []
        try:
            raw: Any = json.loads(self.path.read_text(encoding="utf-8"))
            writes = [Write(**item) for item in raw.get("writes", [])]
        except (OSError, ValueError, TypeError, AttributeError):
            return []  # missing or damaged: nothing to confirm, never fatal
        return [w for w in writes if isinstance(w.at, (int, float)) and w.op in (CREATED, REMOVED)]

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write_json(self.path, {"writes": [asdict(w) for w in self._fresh()]}, mode=0o600)
        except OSError:
            pass  # the journal only helps; a read-only cache folder costs replication tolerance
