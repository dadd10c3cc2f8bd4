"""A Redis connection that loses one reply after Redis ran the command (for tests).

What a socket timeout on a slow fsync looks like from the client: the command took effect, the
reply never came, and redis-py's ``Retry`` sends the command again. Tests use it to prove that a
resend is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.connection import UnixDomainSocketConnection
from redis.retry import Retry

__all__ = ["LoseOneReply", "client_losing_one_reply"]


class LoseOneReply(UnixDomainSocketConnection):
    """Raises ``redis.TimeoutError`` instead of the reply to the first command that ``matches``
    (set on the class) accepts; every later reply comes through. ``fired`` counts the losses."""

    matches: Callable[[Sequence[Any]], bool] = staticmethod(lambda args: False)
    fired = 0

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        self._armed = type(self).fired == 0 and type(self).matches(args)
        super().send_command(*args, **kwargs)  # type: ignore[no-untyped-call]  # redis-py is untyped here

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().read_response(*args, **kwargs)
        if getattr(self, "_armed", False):
            self._armed = False
            type(self).fired += 1
            raise redis.TimeoutError("reply lost (injected)")
        return response


def client_losing_one_reply(
    socket_path: Path | str, matches: Callable[[Sequence[Any]], bool], *, retries: int = 3
) -> tuple[redis.Redis, type[LoseOneReply]]:
    """A client on ``socket_path`` that loses the reply to the first command ``matches``
    accepts, and resends at once; with the connection class, to read ``fired``."""
    conn = type("LoseThisReply", (LoseOneReply,), {"matches": staticmethod(matches), "fired": 0})
    pool = redis.ConnectionPool(
        connection_class=conn, path=str(socket_path), retry=Retry(NoBackoff(), retries)
    )
    return redis.Redis(connection_pool=pool), conn
