"""A reporter that records every hook call as (hook, args), for tests to assert on progress."""
from __future__ import annotations

from typing import Any

from exoform.engine.reporter import Reporter


class RecordingReporter(Reporter):
    """Keeps every event as (hook, args); a hook it does not define is recorded too."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []

    def __getattribute__(self, name: str) -> Any:
        attr = object.__getattribute__(self, name)
        if name.startswith("_") or name == "events" or not callable(attr):
            return attr
        if name not in Reporter.__dict__:
            return attr

        def record(*args: Any) -> None:
            object.__getattribute__(self, "events").append((name, args))

        return record
