"""What every plan check reads: the request, what was observed for each address, and the
changes the diff proposes (before replacements cascade and rules are re-arranged)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from exoform.engine.kinds.base import Observed, PlanContext
from exoform.engine.model import Address
from exoform.engine.plan import Diagnostic, ResourceChange
from exoform.engine.planning.request import PlanRequest


@dataclass(frozen=True)
class CheckContext:
    request: PlanRequest
    plan: PlanContext
    changes: Mapping[Address, ResourceChange]

    @property
    def observed(self) -> Mapping[Address, Observed]:
        return self.plan.observed


Check = Callable[[CheckContext], list[Diagnostic]]
