"""What every simulator shares: raw answers, the ledger, and an in-process httpx transport."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import httpx
import orjson

__all__ = [
    "JSON_HEADERS",
    "QUERY_HEADER",
    "Answer",
    "Simulator",
    "SimulatorTransport",
    "json_answer",
]

QUERY_HEADER = ":query"
"""A pseudo-header (no real header name has a colon) carrying the raw query string, for the
simulators whose peers read it (VNPay's redirect and IPN)."""
JSON_HEADERS: tuple[tuple[str, str], ...] = (("Content-Type", "application/json; charset=utf-8"),)


@dataclass(frozen=True, slots=True)
class Answer:
    """One reply. ``after`` says what the client sees once the call was processed:
    the answer, nothing until it gives up (``timeout``), or a closed connection (``drop``)."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS
    after: Literal["answer", "timeout", "drop"] = "answer"


def json_answer(payload: Mapping[str, Any], status: int = 200) -> Answer:
    """A JSON reply."""
    return Answer(status, orjson.dumps(payload))


@runtime_checkable
class Simulator(Protocol):
    """A local stand-in for one peer: answers raw requests and keeps a ledger of its effects."""

    name: str

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request (``path`` without the query string; header names lower-case)."""
        ...

    def ledger(self) -> dict[str, Any]:
        """Everything the simulator holds and counted, JSON-ready."""
        ...

    def reset(self) -> None:
        """Forget every effect and count (keeps configuration)."""
        ...


class SimulatorTransport(httpx.MockTransport):
    """Serves a simulator in-process: no sockets, ``timeout``/``drop`` raise as httpx would.

    A held answer raises ``httpx.ReadTimeout`` at once (the call was applied first), so tests
    never wait out a real timeout.
    """

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers[QUERY_HEADER] = request.url.query.decode("ascii", "replace")
        answer = self.simulator.handle(request.method, request.url.path, headers, request.read())
        if answer.after == "timeout":
            raise httpx.ReadTimeout("simulated: no answer before the read timeout", request=request)
        if answer.after == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(answer.status, headers=list(answer.headers), content=answer.body)
