"""The dossier life cycle: which status may follow which (national-formats.md §2.4).

One table, used at intake and by the delivery pipeline. A plausible life cycle is
1 → 2 (or 3) → 4 ⇄ 5/6 → 9 → 10, with 7 and 8 as exits; 3, 7, 8 and 10 are terminal. Repeating
the current status is always allowed (an update of other fields). The table is data: a province
whose practice differs passes its own :class:`Lifecycle`.

Real senders re-sync snapshots, so they skip and reopen (national-formats.md §2.4): those
changes are a second table, :data:`RESYNC_TRANSITIONS`, each pair with the quirk it shows
(``status_skip``, ``status_reopened``). The intake accepts them and flags the record, unless the
policy refuses that quirk (:meth:`Lifecycle.under`); :meth:`Lifecycle.strict` keeps only the
first table. Whether a state is *older* than the one stored is judged separately, by the
record's own timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.schemas.codes import DossierStatus as S

__all__ = ["DEFAULT_TRANSITIONS", "RESYNC_TRANSITIONS", "Lifecycle"]

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


_SKIP = "status_skip"
_REOPEN = "status_reopened"

RESYNC_TRANSITIONS: Mapping[tuple[S, S], str] = {
    # TD.DichVuCongApi re-syncs from a batch job: the states in between were never sent.
    (S.RECEIVED, S.RETURNED): _SKIP,
    (S.PROCESSING, S.RETURNED): _SKIP,
    # It also turns 5/6/8 into 9 (6 → 9 is in the table already) and later sends 4 (9 → 4).
    (S.SUPPLEMENT_REQUESTED, S.FINISHED): _SKIP,
    (S.STOPPED, S.FINISHED): _REOPEN,
    (S.FINISHED, S.PROCESSING): _REOPEN,
    # Hà Giang, when a result is cancelled (10 → 2, 10 → 1) and on a supplement (2 → 1).
    (S.RETURNED, S.RECEIVED): _REOPEN,
    (S.RETURNED, S.REGISTERED): _REOPEN,
    (S.RECEIVED, S.REGISTERED): _REOPEN,
}
"""Changes outside the table that real senders make, each with the quirk it is flagged as."""


@dataclass(frozen=True)
class Lifecycle:
    """A table of legal status transitions; any status may open a dossier's history.

    ``flagged`` maps further ``(old, new)`` pairs to a quirk name: accepted, but flagged.
    """

    transitions: Mapping[S, frozenset[S]] = field(default_factory=lambda: DEFAULT_TRANSITIONS)
    flagged: Mapping[tuple[S, S], str] = field(default_factory=lambda: dict(RESYNC_TRANSITIONS))

    @classmethod
    def strict(cls) -> Lifecycle:
        """The table alone: every skip and reopening is refused."""
        return cls(flagged={})

    def under(self, refused: Iterable[str]) -> Lifecycle:
        """This life cycle without the flagged pairs whose quirk is in ``refused``."""
        out = set(refused)
        kept = {pair: rule for pair, rule in self.flagged.items() if rule not in out}
        return Lifecycle(self.transitions, kept)

    def flag_of(self, old: S | None, new: S) -> str | None:
        """The quirk flagged for ``old`` → ``new``, when the pair is accepted only as a quirk."""
        if old is None or old == new or self.allows(old, new):
            return None
        return self.flagged.get((old, new))

    def allows(self, old: S | None, new: S) -> bool:
        """Whether ``new`` may follow ``old`` (``None``: the gateway has seen nothing yet)."""
        if old is None or old == new:
            return True
        return new in self.transitions.get(old, frozenset())

    def explain(self, old: S, new: S) -> str:
        """A sentence for an operator on why ``old`` → ``new`` is refused."""
        nexts = sorted(self.transitions.get(old, frozenset()), key=lambda s: int(s))
        quirks = sorted((n for (o, n) in self.flagged if o == old), key=lambda s: int(s))
        also = f"; accepted with a flag: {', '.join(s.value for s in quirks)}" if quirks else ""
        if not nexts:
            return (
                f"status {old.value} ({old.name}) is terminal: nothing may follow it,"
                f" got {new.value}{also}"
            )
        allowed = ", ".join(s.value for s in nexts)
        return (
            f"status {new.value} ({new.name}) may not follow {old.value} ({old.name});"
            f" allowed next: {allowed}{also}"
        )

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Lifecycle:
        """A table from ``(old, new)`` code pairs, e.g. read from configuration."""
        table: dict[S, set[S]] = {s: set() for s in S}
        for old, new in pairs:
            table[S(old)].add(S(new))
        return cls({k: frozenset(v) for k, v in table.items()}, flagged={})
