"""How the emulator misbehaves on purpose: latency, a regional redirect, replication lag, a
burst of 503s, small pages or broken paging, throttling's Retry-After, token lifetime and
cmdlets outside the caller's RBAC role. Set in code (`Conditions(...)`) or from
`EXOFORM_EMULATOR_*` environment variables.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Mapping


@dataclass(frozen=True)
class Conditions:
    latency_ms: float = 0.0  # added to every InvokeCommand request
    replication_lag: float = 0.0  # seconds a new object stays invisible to Get- (and a removed one visible)
    redirect: bool = False  # answer InvokeCommand on the main host with 302 to a second host
    unavailable_burst: int = 0  # the first N InvokeCommand requests answer 503
    max_page_size: int | None = None  # caps `Prefer: odata.maxpagesize` to force @odata.nextLink
    paging_error: bool = False  # follow-up pages answer 400 "Expired or Invalid pagination request"
    throttle_retry_after: float = 0.25  # Retry-After of the `throttle` fault (fractional on purpose)
    token_lifetime: int = 3599  # seconds; msal treats <= 300 as already expired
    device_approve_after_polls: int = 1  # the device code is approved on this poll
    denied_cmdlets: tuple[str, ...] = ()  # outside the caller's role: 403 with a NUL-byte body
    # The app's Entra roles (token `wids`): Exchange Administrator by default; none: every
    # cmdlet answers 403 (the app role alone is not enough), Global Reader: only Get- works.
    directory_roles: tuple[str, ...] = ("29232cdf-9323-42fd-ade2-1d097af3e4de",)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Conditions":
        """`EXOFORM_EMULATOR_<FIELD>` overrides, e.g. EXOFORM_EMULATOR_LATENCY_MS=50 or
        EXOFORM_EMULATOR_DENIED_CMDLETS=New-TransportRule,Remove-TransportRule."""
        environ = os.environ if environ is None else environ
        changes: dict[str, object] = {}
        for spec in fields(cls):
            raw = environ.get(f"EXOFORM_EMULATOR_{spec.name.upper()}")
            if raw is not None:
                changes[spec.name] = _parse(spec.name, raw)
        return replace(cls(), **changes)  # type: ignore[arg-type]


def _parse(name: str, raw: str) -> object:
    default = getattr(Conditions(), name)
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if name in ("denied_cmdlets", "directory_roles"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if name == "max_page_size":
        return int(raw) if raw.strip() else None
    return type(default)(raw)
