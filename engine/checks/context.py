"""What every plan check reads: the request, what was observed for each address, and the
changes the diff proposes (before replacements cascade and rules are re-arranged)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from exoform.engine.kinds.base import Observed
from exoform.engine.model import Address
from exoform.engine.plan import Diagnostic, ResourceChange
from exoform.engine.planning.request import PlanRequest


@dataclass(frozen=True)
class CheckContext:
    request: PlanRequest
    observed: Mapping[Address, Observed]
    changes: Mapping[Address, ResourceChange]

    @property
    def wanted(self) -> frozenset[Address]:
        return frozenset(r.address for r in self.request.desired)


Check = Callable[[CheckContext], list[Diagnostic]]
