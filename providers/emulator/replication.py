"""Replication lag: for `lag` seconds after New- an object is missing from Get- (Get- of it by
identity answers not found), and after Remove- it still shows, as Exchange's directory replicas
catch up. Only what came through the emulator's own API is delayed."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable


class ReplicationLag:
    def __init__(self, lag: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lag = lag
        self._clock = clock
        self._born: dict[str, float] = {}  # Guid -> when created
        self._ghosts: list[tuple[str, dict[str, Any], float]] = []  # (type, object, when removed)
        self._lock = threading.Lock()

    def created(self, objects: list[dict[str, Any]]) -> None:
        if self.lag > 0:
            with self._lock:
                for obj in objects:
                    self._born[str(obj.get("Guid"))] = self._clock()

    def removed(self, exchange_type: str, obj: dict[str, Any] | None) -> None:
        if self.lag > 0 and obj is not None:
            with self._lock:
                self._ghosts.append((exchange_type, obj, self._clock()))

    def visible(self, exchange_type: str, objects: list[dict[str, Any]],
                whole_list: bool) -> list[dict[str, Any]]:
        """What a lagging replica shows; removed objects reappear only in whole-list reads."""
        if self.lag <= 0:
            return objects
        now = self._clock()
        with self._lock:
            shown = [o for o in objects if now - self._born.get(str(o.get("Guid")), -1e18) >= self.lag]
            ghosts = [g for t, g, when in self._ghosts if t == exchange_type and now - when < self.lag]
        known = {str(o.get("Guid")) for o in shown}
        return shown + [g for g in ghosts if whole_list and str(g.get("Guid")) not in known]
