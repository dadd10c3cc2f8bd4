"""A PayGov simulator (message version 1.0.6): INIT, QUERY, GET_BILL, a pay page, confirm
callbacks with faults, and a ledger of orders and charges.

Every message's ``MaXacThuc`` is checked (a wrong one answers ``MaLoi`` "97"). ``INIT`` with a
reference it already holds returns the same order and URL (counted in ``creations``): a repeat
never charges twice. API calls take the sandbox's :class:`Faults`; callbacks their own
:class:`CallbackFaults`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson

from gateway.connectors.paygov import CONFIRM_FIELDS, INIT_FIELDS, QUERY_FIELDS, checksum
from gateway.mappers.paytime import format_pay_time
from gateway.sandbox.base import Answer, json_answer
from gateway.sandbox.callbacks import FLUSH_PATH, Callback, CallbackFaults, CallbackQueue
from gateway.sandbox.faults import FaultDice, Faults
from gateway.sandbox.payorders import OrderBook, fault_answer, form_action, page

__all__ = ["PayGovSimulator"]

_PDF = b"%PDF-1.4\n% sandbox receipt\n%%EOF\n"


class PayGovSimulator:
    """The national payment platform, locally. ``send`` delivers confirm callbacks (default: a
    JSON POST to ``callback_url``)."""

    name = "paygov"

    def __init__(
        self,
        *,
        partner_code: str = "SANDBOX",
        secret: str = "paygov-sandbox-secret",  # noqa: S107 - the sandbox's published test secret
        path: str = "/api/v1/thanhtoan",
        base_url: str = "http://127.0.0.1:9400",
        callback_url: str = "http://127.0.0.1:8080/payments/paygov/confirm",
        faults: Faults | None = None,
        callback_faults: CallbackFaults | None = None,
        send: Callable[[dict[str, Any]], str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.partner_code, self.secret, self.path = partner_code, secret, path
        self.base_url, self.callback_url = base_url, callback_url
        self.faults = faults or Faults()
        self._dice = FaultDice(self.faults)
        self.book = OrderBook()
        self.callbacks = CallbackQueue(callback_faults or CallbackFaults(), send or self._post)
        self._clock = clock
        self.calls: dict[str, int] = {}

    def _now(self) -> str:
        return format_pay_time(self._clock() if self._clock else time.time())

    def _post(self, payload: dict[str, Any]) -> str:
        reply = httpx.post(self.callback_url, json=payload, timeout=10)
        return str(reply.json().get("MaLoi", reply.status_code))

    # -- the API -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request: the API, or the pay page."""
        if path == FLUSH_PATH and method == "POST":
            # Delayed callbacks wait for the next payment, or for this call.
            return json_answer({"sent": self.callbacks.flush()})
        if path.startswith("/pay/"):
            reference = path.removeprefix("/pay/")
            if method == "POST":
                self.act(reference, form_action(body))
                self.callbacks.flush()
            with self.book.lock:
                order = self.book.orders.get(reference)
            return page("PayGov sandbox", order, path)
        if method != "POST" or path != self.path:
            return Answer(404, b"{}")
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            return json_answer({"MaLoi": "96", "MoTaLoi": "not JSON"}, 400)
        kind = str(message.get("LoaiBanTin", ""))
        self.calls[kind] = self.calls.get(kind, 0) + 1
        fields = INIT_FIELDS if kind == "INIT" else QUERY_FIELDS
        if kind not in ("INIT", "QUERY", "GET_BILL") or message.get("MaXacThuc") != checksum(
            message, fields, self.secret
        ):
            return json_answer({"MaLoi": "97", "MoTaLoi": "bad MaXacThuc"})
        after, early = fault_answer(self._dice)
        if early is not None:
            return early
        # The pay page is on this simulator, at the address the gateway reached it by.
        host = headers.get("host")
        reply = self._apply(kind, message, f"http://{host}" if host else self.base_url)
        if after is not None:
            return Answer(200, b"", after=after)  # type: ignore[arg-type]  # "timeout" | "drop"
        return json_answer(reply)

    def _apply(self, kind: str, message: Mapping[str, Any], base_url: str) -> dict[str, Any]:
        reference = str(message.get("MaThamChieu", ""))
        if kind == "INIT":
            amount = message.get("SoTien")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                return {"MaLoi": "04", "MoTaLoi": "SoTien must be a positive integer"}
            opened = self.book.open(reference, amount, f"{base_url}/pay/{reference}")
            return {"MaLoi": "00", "MaThamChieu": reference, "UrlThanhToan": opened.pay_url}
        with self.book.lock:
            order = self.book.orders.get(reference)
            if order is None:
                return {"MaLoi": "01", "MoTaLoi": "not found"}
            state = {"pending": "0", "paid": "1", "failed": "2"}[order.status]
            reply: dict[str, Any] = {
                "MaLoi": "00",
                "MaThamChieu": reference,
                "TrangThaiGD": state,
                "SoTien": order.amount,
                "MaGiaoDich": order.txn,
                "UrlThanhToan": order.pay_url,
            }
        if kind == "GET_BILL":
            reply["FileBienLai"] = base64.b64encode(_PDF).decode()
        return reply

    # -- the payer -----------------------------------------------------------------------------

    def act(self, reference: str, action: str) -> bool:
        """The payer pays (``pay``) or gives up (``cancel``); queues the confirm callback."""
        order = self.book.pay(reference) if action == "pay" else self.book.cancel(reference)
        if order is None:
            return False
        message: dict[str, Any] = {
            "LoaiBanTin": "CONFIRM",
            "MaLoi": "00" if order.status == "paid" else "24",
            "MaDoiTac": self.partner_code,
            "MaThamChieu": reference,
            "SoTien": order.amount,
            "MaTienTe": "VND",
            "MaGiaoDich": order.txn,
            "MaNganHang": "SANDBOXBANK",
            "ThoiGianGD": self._now(),
            "ThongTinGiaoDich": f"sandbox {reference}",
        }
        message["MaXacThuc"] = checksum(message, CONFIRM_FIELDS, self.secret)
        tampered = {**message, "SoTien": order.amount + 1}
        self.callbacks.push(Callback(reference, message, tampered))
        return True

    def ledger(self) -> dict[str, Any]:
        """Orders, charges, API calls by type, and every callback's fate."""
        return {
            **self.book.ledger(),
            "calls": dict(self.calls),
            "callbacks": self.callbacks.ledger(),
        }

    def set_faults(self, faults: Faults) -> None:
        """Change the API-call faults from now on."""
        self._dice = FaultDice(faults)

    def reset(self) -> None:
        """Forget orders, calls and callbacks."""
        self.book = OrderBook()
        self.calls.clear()
        self.callbacks.pending.clear()
        self.callbacks.log.clear()
