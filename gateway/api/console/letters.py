"""Dead letters for the console: grouped counts and one filtered page, in pipelined passes.

:meth:`~gateway.pipeline.deadletters.DeadLetters.find` reads each letter whole (three round
trips). With 100,000 letters the console instead reads the index in chunks and only the few
fields it filters and groups by, 1,000 letters per round trip; only the page's letters are read
whole.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import cast

from gateway.pipeline.deadletters import DeadLetter, DeadLetterFilter, DeadLetters

__all__ = ["Summary", "summarise"]

_CHUNK = 1000


@dataclass
class Summary:
    """Matching letters: how many, grouped by (peer, channel, reason), and the page asked for."""

    total: int = 0
    groups: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    page: list[DeadLetter] = field(default_factory=list)


def summarise(letters: DeadLetters, flt: DeadLetterFilter, *, offset: int, limit: int) -> Summary:
    """One pass over the waiting letters (newest first) matching ``flt``."""
    outbox = letters.outbox
    client = outbox.client
    out = Summary()
    ids_on_page: list[str] = []
    position = 0
    while True:
        raw = cast(
            "list[bytes]",
            client.zrevrange(outbox.keys.dl_index, position, position + _CHUNK - 1),
        )
        if not raw:
            break
        position += len(raw)
        pipe = client.pipeline(transaction=False)
        for letter_id in raw:
            key = outbox.keys.dead_letter(letter_id.decode())
            pipe.hmget(key, ["peer", "ch", "reason", "part"])
        for letter_id, values in zip(raw, pipe.execute(), strict=True):
            peer, channel, reason, part = (v.decode() if v else "" for v in values)
            if not (
                (flt.peer is None or flt.peer == peer)
                and (flt.channel is None or flt.channel == channel)
                and (flt.reason is None or flt.reason == reason)
                and (flt.partition is None or flt.partition == part)
            ):
                continue
            if offset <= out.total < offset + limit:
                ids_on_page.append(letter_id.decode())
            out.total += 1
            out.groups[(peer, channel, reason)] += 1
    out.page = [letters.get(i) for i in ids_on_page]
    return out
