"""The verdict each message class should get under an intent, in one table: `intended` is what
a correct install gives, `acceptable` every verdict that is not a failure.
"""
from __future__ import annotations

from dataclasses import dataclass

from exoform.engine.mailflow.tenant import Direction, GatewayMode, Intent
from exoform.engine.mailflow.verdicts import MessageClass, Verdict


@dataclass(frozen=True)
class Expectation:
    intended: Verdict
    acceptable: frozenset[Verdict]


def _protected(intent: Intent) -> Verdict:
    return Verdict.SCANNED if intent.mode is GatewayMode.INLINE else Verdict.COPIED


def direction_of(message_class: MessageClass, recall_direction: Direction) -> Direction | None:
    """The direction whose rule is meant to act on the class (None: no rule should)."""
    if message_class in (MessageClass.INBOUND, MessageClass.NDR):
        return Direction.INBOUND
    if message_class is MessageClass.OUTBOUND:
        return Direction.OUTBOUND
    if message_class is MessageClass.RECALL_REPORT:
        return recall_direction
    return None


def expectation(intent: Intent, message_class: MessageClass, recall_direction: Direction) -> Expectation:
    # A rule's own decision (delete, reject, quarantine, redirect, moderate) is the tenant's
    # policy, not a mail-flow failure: acceptable for every class.
    withheld = frozenset({Verdict.WITHHELD})
    direction = direction_of(message_class, recall_direction)
    protected = direction is not None and intent.protects(direction)
    if message_class is MessageClass.NDR:
        # NDRs may take any path that delivers them; they must never loop or be rejected.
        intended = _protected(intent) if protected and intent.enforced else Verdict.BYPASSED
        return Expectation(intended, withheld | {Verdict.SCANNED, Verdict.COPIED, Verdict.BYPASSED})
    if message_class is MessageClass.RECALL_REPORT:
        if intent.mode is GatewayMode.INLINE or not protected:
            # Rerouting a recall through a connector breaks it (the SearchKey changes): in-line,
            # recall reports must not go to the gateway.
            return Expectation(Verdict.BYPASSED, withheld | {Verdict.BYPASSED})
        # Monitoring copies leave the original untouched: copied or not, the recall works.
        intended = Verdict.COPIED if intent.enforced else Verdict.BYPASSED
        return Expectation(intended, withheld | {Verdict.COPIED, Verdict.BYPASSED})
    if not protected:
        # Unprotected directions, out-of-scope users and internal mail skip the gateway.
        return Expectation(Verdict.BYPASSED, withheld | {Verdict.BYPASSED})
    if not intent.enforced:
        # Staged rules (disabled, or Audit): either way is fine until they are enforced.
        return Expectation(Verdict.BYPASSED, withheld | {Verdict.BYPASSED, _protected(intent)})
    # A protected, in-scope class must pass the gateway: in-line scanned, monitoring copied.
    return Expectation(_protected(intent), withheld | {_protected(intent)})
