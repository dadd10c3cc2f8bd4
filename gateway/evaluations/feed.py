"""The change feed's page and its opaque cursor.

A cursor names a feed position (see :mod:`gateway.evaluations.store`); it is opaque to clients
(base64url of a versioned token) so the position scheme can change without breaking them. The
empty cursor starts from the beginning.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

__all__ = ["FeedPage", "decode_cursor", "encode_cursor"]

_PREFIX = "e1."


def encode_cursor(position: int) -> str:
    """The opaque cursor for "after feed position ``position``"."""
    return base64.urlsafe_b64encode(f"{_PREFIX}{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The feed position a cursor names; ValueError for a cursor the gateway did not make."""
    if not cursor:
        return 0
    if len(cursor) > 64:
        raise ValueError("cursor is too long to be one of ours")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("cursor is not one this gateway handed out") from None
    digits = raw.removeprefix(_PREFIX)
    if digits == raw or not digits.isascii() or not digits.isdigit():
        raise ValueError("cursor is not one this gateway handed out")
    return int(digits)


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page: ``items`` are (position, record JSON), oldest first; resume at ``next_cursor``.

    ``has_more`` is true when the page was full (ask again at once); when false the client has
    caught up and should poll later with the same cursor.
    """

    items: list[tuple[int, bytes]]
    next_cursor: str
    has_more: bool

    @property
    def etag(self) -> str:
        """A strong validator of the page: its positions and bodies."""
        h = hashlib.sha256(self.next_cursor.encode())
        for seq, body in self.items:
            h.update(b"%d\n" % seq)
            h.update(body)
        return f'"{h.hexdigest()[:32]}"'
