"""A VNPay simulator (2.1.0): the signed payment page, IPN callbacks with faults, ``querydr``,
and a ledger of orders and charges.

The payer lands on ``/paymentv2/vpcpay.html?<vnp_* query>``; a wrong ``vnp_SecureHash`` or
terminal is refused there. Landing twice on the same ``vnp_TxnRef`` is one order (its
``creations`` counts the landings). Paying queues
the IPN (a GET to ``ipn_url`` with signed ``vnp_*`` parameters) and redirects the browser to the
order's ``vnp_ReturnUrl``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson

from gateway.connectors.vnpay import (
    QUERY_FIELDS,
    QUERY_REPLY_FIELDS,
    from_wire,
    secure_hash,
    to_wire,
)
from gateway.sandbox.base import QUERY_HEADER, Answer, json_answer
from gateway.sandbox.callbacks import FLUSH_PATH, Callback, CallbackFaults, CallbackQueue
from gateway.sandbox.faults import FaultDice, Faults
from gateway.sandbox.payorders import OrderBook, fault_answer, form_action, page

__all__ = ["VnpaySimulator"]

PAY_PATH = "/paymentv2/vpcpay.html"
API_PATH = "/merchant_webapi/api/transaction"


def _pipe(values: Mapping[str, Any], fields: tuple[str, ...], secret: str) -> str:
    data = "|".join("" if values.get(f) is None else str(values[f]) for f in fields)
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


class VnpaySimulator:
    """VNPay, locally. ``send`` delivers IPNs (default: a GET to ``ipn_url``)."""

    name = "vnpay"

    def __init__(
        self,
        *,
        tmn_code: str = "SANDBOX1",
        secret: str = "vnpay-sandbox-secret",  # noqa: S107 - the sandbox's published test secret
        base_url: str = "http://127.0.0.1:9500",
        ipn_url: str = "http://127.0.0.1:8080/payments/vnpay/ipn",
        faults: Faults | None = None,
        callback_faults: CallbackFaults | None = None,
        send: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        self.tmn_code, self.secret, self.base_url, self.ipn_url = (
            tmn_code,
            secret,
            base_url,
            ipn_url,
        )
        self._dice = FaultDice(faults or Faults())
        self.book = OrderBook()
        self.callbacks = CallbackQueue(callback_faults or CallbackFaults(), send or self._get)
        self.returns: dict[str, str] = {}
        self.calls: dict[str, int] = {}

    def _get(self, params: dict[str, Any]) -> str:
        reply = httpx.get(self.ipn_url, params=params, timeout=10)
        return str(reply.json().get("RspCode", reply.status_code))

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request: the payment page, a payer's choice, or ``querydr``."""
        if path == FLUSH_PATH and method == "POST":
            # Delayed callbacks wait for the next payment, or for this call.
            return json_answer({"sent": self.callbacks.flush()})
        if path == PAY_PATH and method == "GET":
            return self.land(parse_qs(headers.get(QUERY_HEADER, ""), keep_blank_values=True))
        if path.startswith("/paymentv2/pay/") and method == "POST":
            reference = path.removeprefix("/paymentv2/pay/")
            paid = self.act(reference, form_action(body))
            self.callbacks.flush()
            target = self.returns.get(reference)
            if paid and target:
                return Answer(302, b"", (("Location", target),))
            with self.book.lock:
                return page("VNPay sandbox", self.book.orders.get(reference), path)
        if path == API_PATH and method == "POST":
            return self._querydr(body)
        return Answer(404, b"{}")

    def land(self, query: Mapping[str, list[str]]) -> Answer:
        """The payer opens a payment URL: check it, open the order, show the page."""
        self.calls["pay"] = self.calls.get("pay", 0) + 1
        params = {k: v[0] for k, v in query.items()}
        given = params.get("vnp_SecureHash", "")
        if not hmac.compare_digest(secure_hash(params, self.secret), given):
            return Answer(400, b"<p>invalid signature (vnp_SecureHash)</p>")
        amount = from_wire(params.get("vnp_Amount", ""))
        if params.get("vnp_TmnCode") != self.tmn_code or amount is None or amount <= 0:
            return Answer(400, b"<p>invalid terminal or amount</p>")
        reference = params.get("vnp_TxnRef", "")
        order = self.book.open(reference, amount, "")
        self.returns[reference] = params.get("vnp_ReturnUrl", "")
        return page("VNPay sandbox", order, f"/paymentv2/pay/{reference}")

    def open_url(self, url: str) -> str:
        """A script's payer opening ``url``: the order reference."""
        self.land(parse_qs(url.partition("?")[2], keep_blank_values=True))
        return parse_qs(url.partition("?")[2])["vnp_TxnRef"][0]

    def act(self, reference: str, action: str) -> bool:
        """The payer pays or cancels; queues the IPN."""
        order = self.book.pay(reference) if action == "pay" else self.book.cancel(reference)
        if order is None:
            return False
        code = "00" if order.status == "paid" else "24"
        params = {
            "vnp_Amount": to_wire(order.amount),
            "vnp_BankCode": "NCB",
            "vnp_BankTranNo": f"VNP{order.txn}" if order.txn else "",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": f"sandbox {reference}",
            "vnp_PayDate": "20261201120000",
            "vnp_ResponseCode": code,
            "vnp_TmnCode": self.tmn_code,
            "vnp_TransactionNo": order.txn or "0",
            "vnp_TransactionStatus": "00" if code == "00" else "02",
            "vnp_TxnRef": reference,
        }
        signed = {**params, "vnp_SecureHash": secure_hash(params, self.secret)}
        tampered = {**signed, "vnp_Amount": to_wire(order.amount + 1)}
        self.callbacks.push(Callback(reference, signed, tampered))
        return code == "00"

    def _querydr(self, body: bytes) -> Answer:
        self.calls["querydr"] = self.calls.get("querydr", 0) + 1
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            return json_answer({"vnp_ResponseCode": "03"}, 400)
        if req.get("vnp_SecureHash") != _pipe(req, QUERY_FIELDS, self.secret):
            return self._reply({"vnp_ResponseCode": "97", "vnp_Message": "Invalid checksum"})
        after, early = fault_answer(self._dice)
        if early is not None:
            return early
        reference = str(req.get("vnp_TxnRef", ""))
        with self.book.lock:
            order = self.book.orders.get(reference)
            if order is None:
                reply = {
                    "vnp_ResponseCode": "91",
                    "vnp_Message": "Not found",
                    "vnp_TxnRef": reference,
                }
            else:
                reply = {
                    "vnp_ResponseCode": "00",
                    "vnp_Message": "OK",
                    "vnp_TxnRef": reference,
                    "vnp_Amount": to_wire(order.amount),
                    "vnp_TransactionNo": order.txn,
                    "vnp_TransactionType": "01",
                    "vnp_TransactionStatus": {"paid": "00", "pending": "01", "failed": "02"}[
                        order.status
                    ],
                }
        if after is not None:
            return Answer(200, b"", after=after)  # type: ignore[arg-type]  # "timeout" | "drop"
        return self._reply(reply)

    def _reply(self, reply: dict[str, Any]) -> Answer:
        reply = {
            "vnp_ResponseId": "sandbox",
            "vnp_Command": "querydr",
            "vnp_TmnCode": self.tmn_code,
            **reply,
        }
        reply["vnp_SecureHash"] = _pipe(reply, QUERY_REPLY_FIELDS, self.secret)
        return json_answer(reply)

    def ledger(self) -> dict[str, Any]:
        """Orders, charges, calls, and every IPN's fate."""
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
        self.returns.clear()
        self.callbacks.pending.clear()
        self.callbacks.log.clear()
