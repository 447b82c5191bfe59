"""Which tenants a fleet command works on: `--tenant` names, `--wave` names and `--shard K/N`
(a stable hash of the tenant's name, so N runners given shards 1..N together cover every tenant
exactly once, whatever their order), grouped into waves in the manifest's order.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass

from exoform.engine.fleet.manifest import FleetError, Manifest, Member

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1..count
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        match = _SHARD.match(text)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise FleetError(f"--shard '{text}' is not K/N with 1 <= K <= N (e.g. 2/4: the second of "
                             "four runners)")
        return cls(int(match[1]), int(match[2]))

    def holds(self, name: str) -> bool:
        digest = hashlib.sha256(name.casefold().encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class Selection:
    tenants: tuple[str, ...] = ()
    waves: tuple[str, ...] = ()
    shard: Shard | None = None

    def describe(self) -> str:
        parts = []
        if self.tenants:
            parts.append("tenant " + ", ".join(self.tenants))
        if self.waves:
            parts.append("wave " + ", ".join(self.waves))
        if self.shard:
            parts.append(f"shard {self.shard}")
        return "; ".join(parts) or "every tenant"


def select(manifest: Manifest, selection: Selection) -> tuple[Member, ...]:
    """The members chosen, in wave order then manifest order; FleetError for an unknown name."""
    _known(selection.tenants, [m.name for m in manifest.members], "tenant")
    _known(selection.waves, list(manifest.waves), "wave")
    names = {n.casefold() for n in selection.tenants}
    waves = {w.casefold() for w in selection.waves}
    chosen = [m for m in manifest.members
              if (not names or m.name.casefold() in names)
              and (not waves or m.wave.casefold() in waves)
              and (selection.shard is None or selection.shard.holds(m.name))]
    order = {wave: i for i, wave in enumerate(manifest.waves)}
    return tuple(sorted(chosen, key=lambda m: (order[m.wave], m.index)))


def in_waves(manifest: Manifest, members: tuple[Member, ...]) -> list[tuple[str, tuple[Member, ...]]]:
    """The chosen members wave by wave, waves in the manifest's order (empty waves left out)."""
    out = []
    for wave in manifest.waves:
        part = tuple(m for m in members if m.wave == wave)
        if part:
            out.append((wave, part))
    return out


def _known(given: tuple[str, ...], names: list[str], noun: str) -> None:
    lowered = {n.casefold() for n in names}
    for name in given:
        if name.casefold() not in lowered:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; the fleet has: {', '.join(names[:20])}"
            raise FleetError(f"--{noun} '{name}' is not a {noun} of this fleet{hint}")
