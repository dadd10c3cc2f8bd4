"""Operator actions into the audit chain: dead-letter replay and discard, with who and why.

The outbox scripts already write each action to the ``<ns>:audit`` stream in the same step as
the action; this adds the tamper-evident entry from Python right after it. The chain is written
before the caller hears the outcome, so an action that answered was recorded (or the store's
failure raised).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.audit.chain import AuditChain
from gateway.pipeline.deadletters import DeadLetters, ReplayResult

__all__ = ["AuditedDeadLetters"]


@dataclass
class AuditedDeadLetters(DeadLetters):
    """:class:`DeadLetters` whose replays and discards also go to the audit chain."""

    chain: AuditChain | None = field(default=None)

    def _audit(self, action: str, actor: str, result: ReplayResult, reason: str = "") -> None:
        if self.chain is None:
            return
        self.chain.append(
            "operator",
            {
                "action": action,
                "actor": actor,
                "target": result.id,
                "outcome": result.outcome,
                "reason": reason,
            },
        )

    def replay(self, letter_id: str, *, actor: str) -> ReplayResult:
        """Replay as :meth:`DeadLetters.replay`, then append the action to the chain."""
        result = super().replay(letter_id, actor=actor)
        self._audit("replay", actor, result)
        return result

    def discard(self, letter_id: str, *, actor: str, reason: str) -> ReplayResult:
        """Discard as :meth:`DeadLetters.discard`, then append the action to the chain."""
        result = super().discard(letter_id, actor=actor, reason=reason)
        self._audit("discard", actor, result, reason)
        return result
