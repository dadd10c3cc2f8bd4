"""The dossier life cycle: which status may follow which (national-formats.md §2.4).

One table, used at intake and by the delivery pipeline. A plausible life cycle is
1 → 2 (or 3) → 4 ⇄ 5/6 → 9 → 10, with 7 and 8 as exits; 3, 7, 8 and 10 are terminal. Repeating
the current status is always allowed (an update of other fields). The table is data: a province
whose practice differs passes its own :class:`Lifecycle`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.schemas.codes import DossierStatus as S

__all__ = ["DEFAULT_TRANSITIONS", "Lifecycle"]

DEFAULT_TRANSITIONS: Mapping[S, frozenset[S]] = {
    S.REGISTERED: frozenset({S.RECEIVED, S.REJECTED, S.WITHDRAWN}),
    # Simple procedures are settled on the spot, so reception may go straight to finished; and a
    # desk that finds a paper missing or a fee due on reception asks at once (2 → 5, 2 → 6),
    # before any processing step is recorded.
    S.RECEIVED: frozenset(
        {
            S.PROCESSING,
            S.SUPPLEMENT_REQUESTED,
            S.PAYMENT_REQUESTED,
            S.WITHDRAWN,
            S.STOPPED,
            S.FINISHED,
        }
    ),
    S.PROCESSING: frozenset(
        {S.SUPPLEMENT_REQUESTED, S.PAYMENT_REQUESTED, S.WITHDRAWN, S.STOPPED, S.FINISHED}
    ),
    S.SUPPLEMENT_REQUESTED: frozenset({S.PROCESSING, S.WITHDRAWN, S.STOPPED}),
    # Land and tax procedures finish as soon as the payment is confirmed (6 → 9).
    S.PAYMENT_REQUESTED: frozenset({S.PROCESSING, S.WITHDRAWN, S.STOPPED, S.FINISHED}),
    S.FINISHED: frozenset({S.RETURNED}),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.STOPPED: frozenset(),
    S.RETURNED: frozenset(),
}


@dataclass(frozen=True)
class Lifecycle:
    """A table of legal status transitions; any status may open a dossier's history."""

    transitions: Mapping[S, frozenset[S]] = field(default_factory=lambda: DEFAULT_TRANSITIONS)

    def allows(self, old: S | None, new: S) -> bool:
        """Whether ``new`` may follow ``old`` (``None``: the gateway has seen nothing yet)."""
        if old is None or old == new:
            return True
        return new in self.transitions.get(old, frozenset())

    def explain(self, old: S, new: S) -> str:
        """A sentence for an operator on why ``old`` → ``new`` is refused."""
        nexts = sorted(self.transitions.get(old, frozenset()), key=lambda s: int(s))
        if not nexts:
            return (
                f"status {old.value} ({old.name}) is terminal: nothing may follow it,"
                f" got {new.value}"
            )
        allowed = ", ".join(s.value for s in nexts)
        return (
            f"status {new.value} ({new.name}) may not follow {old.value} ({old.name});"
            f" allowed next: {allowed}"
        )

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Lifecycle:
        """A table from ``(old, new)`` code pairs, e.g. read from configuration."""
        table: dict[S, set[S]] = {s: set() for s in S}
        for old, new in pairs:
            table[S(old)].add(S(new))
        return cls({k: frozenset(v) for k, v in table.items()})
