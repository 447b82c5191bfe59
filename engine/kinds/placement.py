"""Rule priority as relative placement: exoform's rules stay contiguous in the order SPF,
Inbound emails, Outbound emails, a new block going to the top (default) or the bottom of the
tenant's rules. Other rules' shifts are not drift; our block being split or reordered is.

`Placement` simulates the tenant's rule list step by step, so each New-/Set- call gets the
absolute Priority that puts the rule where it belongs at the moment it runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from exoform.engine.model import Address


def out_of_order(
    current: Sequence[str], ours: Mapping[Address, str], order: Sequence[Address]
) -> set[Address]:
    """Our existing rules that must move to make the block contiguous and ordered.

    `current` is every rule name (casefolded) by priority; `ours` maps our kept rules'
    addresses to their current names. The first of ours (in `order`) anchors the block.
    """
    present = [a for a in order if a in ours]
    positions = [current.index(ours[a]) for a in present]
    for index in range(1, len(present)):
        if positions[index] != positions[index - 1] + 1:
            # Everything from the first break on moves back behind its predecessor.
            return set(present[index:])
    return set()


@dataclass
class Placement:
    """The tenant's rule list (casefolded names, priority order) while a plan is simulated."""

    rules: list[str]
    order: tuple[Address, ...]
    top: bool = True
    names: dict[Address, str] = field(default_factory=dict)  # our rules present now

    def copy(self) -> "Placement":
        """An independent copy for a scheduling trial (the order and names are immutable;
        deepcopy costed more than the trial itself)."""
        return Placement(list(self.rules), self.order, self.top, dict(self.names))

    def remove(self, address: Address) -> None:
        name = self.names.pop(address, None)
        if name is not None and name in self.rules:
            self.rules.remove(name)

    def place(self, address: Address, name: str) -> int:
        """Insert our rule where it belongs; returns its new priority."""
        self.remove(address)
        index = self._index_for(address)
        self.rules.insert(index, name.casefold())
        self.names[address] = name.casefold()
        return index

    def _index_for(self, address: Address) -> int:
        position = self.order.index(address)
        earlier = [a for a in self.order[:position] if a in self.names]
        if earlier:
            return self.rules.index(self.names[earlier[-1]]) + 1
        later = [a for a in self.order[position + 1 :] if a in self.names]
        if later:
            return self.rules.index(self.names[later[0]])
        return 0 if self.top else len(self.rules)
