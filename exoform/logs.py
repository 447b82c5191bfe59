"""The debug log (`--log-level` / EXOFORM_LOG): the `exoform` logger to stderr or `--log-file`,
as text lines or JSON lines. Records carry only what support needs (cmdlet, object, duration,
HTTP status, attempt, client-request-id); nothing logged holds a parameter value or a secret."""
from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

from exoform.engine.errors import ExoformError

LEVELS = ("error", "warning", "info", "debug")
LOGGER = logging.getLogger("exoform")
_handler: logging.Handler | None = None


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {"time": _time(record), "level": record.levelname.lower(),
                                "logger": record.name, "message": record.getMessage()}
        body.update(getattr(record, "fields", {}))
        return json.dumps(body, sort_keys=True, ensure_ascii=False)


class TextLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_text(v)}" for k, v in sorted(getattr(record, "fields", {}).items()))
        return f"{_time(record)} {record.levelname.lower():7} {record.getMessage()}" + (f" {fields}" if fields else "")


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")


def _text(value: Any) -> str:
    return str(value) if isinstance(value, (int, float)) else json.dumps(value, ensure_ascii=False)


def configure_logging(level: str | None, path: str | None, fmt: str = "text") -> None:
    """Start (or, with no level, switch off) the log for this command; only the `exoform`
    logger is configured, so libraries (msal, urllib3) never log headers or tokens through it."""
    global _handler
    if _handler is not None:
        LOGGER.removeHandler(_handler)
        _handler.close()
        _handler = None
    LOGGER.propagate = False
    if not level:
        LOGGER.setLevel(logging.CRITICAL + 1)
        return
    stream = _open(path) if path else sys.stderr
    handler: logging.Handler = _Quiet(stream, owns=bool(path))
    handler.setFormatter(JsonLines() if fmt == "json" else TextLines())
    LOGGER.addHandler(handler)
    LOGGER.setLevel(getattr(logging, level.upper()))
    _handler = handler


def _open(path: str) -> TextIO:
    """Append, created owner-only (a log holds object names and request ids)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as error:
        raise ExoformError(f"cannot open the log file {path}: {error.strerror}") from None
    return open(fd, "a", encoding="utf-8", buffering=1)


class _Quiet(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler that never raises (a closed stderr must not stop an apply) and closes the
    file it opened."""

    def __init__(self, stream: TextIO, *, owns: bool) -> None:
        super().__init__(stream)
        self._owns = owns

    def handleError(self, record: logging.LogRecord) -> None:
        pass

    def close(self) -> None:
        if self._owns:
            try:
                self.stream.close()
            except OSError:
                pass
        super().close()


def log(level: int, message: str, **fields: Any) -> None:
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, message, extra={"fields": fields})
