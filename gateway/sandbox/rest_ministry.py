"""A sandbox ministry with a REST/JSON case API, in the generic REST profile's default shape.

``POST /api/v1/cases`` opens a case, de-duplicated by the ``Idempotency-Key`` header (or the
body's ``receiptKey``): a repeat answers the open case (200, or ``repeat_status``) and the ledger
counts submissions and cases per key. ``GET /api/v1/cases/{key}`` answers its status (404 when
none), ``GET /api/v1/cases/{key}/result`` its result (409 until completed). Every stage a case
reaches is pushed as a callback ``{receiptKey, caseId, status, updatedAt}`` to
``callback_url`` with the system's callback bearer token; callbacks take
:class:`~gateway.sandbox.callbacks.CallbackFaults` (duplicates, delays, reordering, missing, and
"bad checksum", here a copy with an unknown status).

Faults: the sandbox's rates and :meth:`RestMinistrySimulator.inject` (``"timeout"``/``"drop"``
after applying, ``"timeout_unapplied"`` without, ``"unavailable"`` 503, ``"error"`` 500, or an
HTTP status like ``"422"``, with nothing applied). ``POST /_sandbox/advance`` moves the clock
and pushes what became due.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import httpx
import orjson

from gateway.sandbox.base import Answer, json_answer
from gateway.sandbox.callbacks import FLUSH_PATH, Callback, CallbackFaults, CallbackQueue
from gateway.sandbox.faults import Faults
from gateway.sandbox.ministry_cases import (
    ADVANCE_PATH,
    UNAPPLIED_TIMEOUT,
    MinistrySimulator,
    SimCase,
    advance_answer,
)
from gateway.schemas.wire import VIETNAM_TZ

__all__ = ["REST_BASE_PATH", "RestMinistrySimulator"]

REST_BASE_PATH = "/api/v1"
_CASES = REST_BASE_PATH + "/cases"


class RestMinistrySimulator(MinistrySimulator):
    """The REST ministry, locally."""

    name = "rest_ministry"

    def __init__(
        self,
        *,
        client_id: str = "gateway",
        client_secret: str = "rest-sandbox-secret",  # noqa: S107 - the sandbox's test secret
        callback_url: str = "http://127.0.0.1:8080/v1/ministries/rest_ministry/callback",
        callback_secret: str = "rest-callback-secret",  # noqa: S107 - the sandbox's test secret
        faults: Faults | None = None,
        callback_faults: CallbackFaults | None = None,
        send: Callable[[dict[str, Any]], str] | None = None,
        clock: Callable[[], float] | None = None,
        repeat_status: int = 200,
    ) -> None:
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            prefix="RE",
            faults=faults,
            clock=clock,
        )
        self.callback_url, self.callback_secret = callback_url, callback_secret
        self.callbacks = CallbackQueue(callback_faults or CallbackFaults(), send or self._post)
        self.repeat_status = repeat_status
        self._pushed: dict[str, str] = {}

    def _post(self, payload: dict[str, Any]) -> str:
        reply = httpx.post(
            self.callback_url,
            json=payload,
            headers={"Authorization": f"Bearer {self.callback_secret}"},
            timeout=10,
        )
        return str(reply.status_code)

    # -- the API -----------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request; then push the callbacks that became due."""
        try:
            return self._handle(method, path, headers, body)
        finally:
            self.push_due()

    def _handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        if method == "POST" and path == ADVANCE_PATH:
            return advance_answer(self.clock, body)
        if method == "POST" and path == FLUSH_PATH:
            return json_answer({"sent": self.callbacks.flush()})
        if method == "POST" and path == "/token":
            return self.tokens.issue(headers, body)
        if not path.startswith(_CASES):
            return json_answer({"error": "not found"}, 404)
        if not self.tokens.valid(headers):
            return json_answer({"error": "invalid_token"}, 401)
        rest = path.removeprefix(_CASES).strip("/")
        if method == "POST" and rest == "":
            operation = "submit"
        elif method == "GET" and rest and "/" not in rest:
            operation = "status"
        elif method == "GET" and rest.endswith("/result") and rest.count("/") == 1:
            operation = "result"
        else:
            return json_answer({"error": "not found"}, 404)
        self.calls[operation] += 1
        fault = self.faults.draw(operation)
        if fault == "unavailable":
            return json_answer({"error": "unavailable"}, 503)
        if fault == "error":
            return json_answer({"error": "internal"}, 500)
        if fault is not None and str(fault).isdigit():
            return json_answer({"error": "simulated"}, int(str(fault)))
        if fault == UNAPPLIED_TIMEOUT:
            return Answer(200, b"", after="timeout")  # lost on the way: nothing applied
        if operation == "submit":
            reply = self._submit(headers, body)
        else:
            reply = self._read(operation, unquote(rest.removesuffix("/result")))
        if fault in ("timeout", "drop"):
            return Answer(200, b"", after=fault)  # type: ignore[arg-type]  # "timeout" | "drop"
        return reply

    def _submit(self, headers: Mapping[str, str], body: bytes) -> Answer:
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            return json_answer({"error": "body must be JSON"}, 400)
        if not isinstance(message, dict):
            return json_answer({"error": "body must be an object"}, 400)
        key = headers.get("idempotency-key") or message.get("receiptKey")
        if not isinstance(key, str) or not key:
            return json_answer({"error": "receiptKey is required"}, 422)
        case, opened = self.book.open(key, message)
        return json_answer(self._view(case), 201 if opened else self.repeat_status)

    def _read(self, operation: str, key: str) -> Answer:
        case = self.book.find(key)
        if case is None:
            return json_answer({"error": "no such case"}, 404)
        view = self._view(case)
        if operation == "status":
            return json_answer(view)
        if view["status"] != "completed":
            return json_answer({"error": "no result yet", "status": view["status"]}, 409)
        return json_answer(view)

    def _view(self, case: SimCase) -> dict[str, Any]:
        now = self.clock()
        at = datetime.fromtimestamp(case.changed_at(now), VIETNAM_TZ)
        view: dict[str, Any] = {
            "receiptKey": case.key,
            "caseId": case.case_id,
            "status": case.stage(now),
            "updatedAt": at.isoformat(),
        }
        if view["status"] == "supplement":
            view["note"] = "Bổ sung bản sao giấy tờ"
        if view["status"] == "completed":
            view["result"] = {
                "number": case.result_no,
                "issuedAt": view["updatedAt"],
                "url": f"https://rest.sandbox/results/{case.case_id}.pdf",
            }
        return view

    # -- callbacks ---------------------------------------------------------------------------

    def push_due(self) -> int:
        """Queue a callback for every stage reached since the last push, then send them."""
        queued = 0
        with self.book.lock:  # one pusher at a time: a stage is queued once
            for case in [c for held in self.book.cases.values() for c in held]:
                view = self._view(case)
                if self._pushed.get(case.case_id) == view["status"]:
                    continue
                self._pushed[case.case_id] = view["status"]
                self.callbacks.push(Callback(case.key, view, {**view, "status": "???"}))
                queued += 1
        if queued:
            self.callbacks.flush()
        return queued

    def ledger(self) -> dict[str, Any]:
        """Cases per key, submissions, calls, tokens, and every callback's fate."""
        return {**super().ledger(), "callbacks": self.callbacks.ledger()}

    def reset(self) -> None:
        """Forget cases, counts and callbacks."""
        super().reset()
        self._pushed.clear()
        self.callbacks.pending.clear()
        self.callbacks.log.clear()
