"""What both population-database profiles share: the request, the seam, failure translation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx

from gateway.connectors._http import transport_error
from gateway.connectors.population._bounded import ReplyTooLarge
from gateway.errors import (
    ContractError,
    PeerError,
    PeerReplyError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.mappers.citizen_xml import CitizenReply, read_citizen_reply

__all__ = [
    "SYSTEM",
    "LookupRequest",
    "PopulationConnector",
    "fault_error",
    "reply_from",
    "translated",
]

SYSTEM = "population"


@dataclass(frozen=True, slots=True)
class LookupRequest:
    """One look-up, in the database's terms: ``birth_date`` is ``yyyyMMdd`` when known."""

    id_number: str
    full_name: str
    birth_year: int
    birth_date: str | None
    old_id_number: str | None
    request_id: str


class PopulationConnector(Protocol):
    """A population-database profile: one look-up, translated into our error tree."""

    profile: str

    async def look_up(self, request: LookupRequest) -> CitizenReply:
        """The database's answer; raises PeerError subclasses (never httpx or zeep errors)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def reply_from(
    raw: bytes, *, operation: str, namespace: str, max_bytes: int, status: int | None = None
) -> CitizenReply:
    """Read a reply envelope; a refused one becomes PeerReplyError naming its rule."""
    try:
        return read_citizen_reply(raw, namespace=namespace, max_bytes=max_bytes)
    except ContractError as exc:
        rule = exc.violations[0].rule if exc.violations else "reply_invalid"
        raise PeerReplyError(rule, system=SYSTEM, operation=operation, status=status) from None


def fault_error(code: str, *, operation: str, status: int | None) -> PeerError:
    """A SOAP fault: the database answered and refused this look-up (its text is not kept)."""
    return PermanentPeerError(
        f"SOAP fault {code}", system=SYSTEM, operation=operation, status=status, peer_code=code
    )


@asynccontextmanager
async def translated(operation: str, *, total_timeout: float) -> AsyncIterator[None]:
    """Bound a look-up by ``total_timeout`` and translate httpx failures at the boundary."""
    try:
        async with asyncio.timeout(total_timeout):
            yield
    except TimeoutError as exc:
        raise TransientPeerError(
            f"no answer within {total_timeout:g} s", system=SYSTEM, operation=operation
        ) from exc
    except ReplyTooLarge as exc:
        raise PeerReplyError("reply_too_large", system=SYSTEM, operation=operation) from exc
    except httpx.TransportError as exc:
        raise transport_error(exc, system=SYSTEM, operation=operation, writes=False) from exc
