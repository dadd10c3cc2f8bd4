"""What both payment simulators share: orders, charges, the pay page and API-call faults."""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from gateway.sandbox.base import Answer
from gateway.sandbox.faults import FaultDice, Faults

__all__ = ["Order", "OrderBook", "fault_answer", "form_action", "page"]

HTML = (("Content-Type", "text/html; charset=utf-8"),)


@dataclass
class Order:
    """One order at the provider. ``charges`` counts the payer's money taken (must stay ≤ 1)."""

    reference: str
    amount: int
    status: str = "pending"
    charges: int = 0
    txn: str = ""
    pay_url: str = ""
    creations: int = 1


class OrderBook:
    """Orders by reference, thread-safe."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.lock = threading.RLock()
        self._txn = 0

    def open(self, reference: str, amount: int, pay_url: str) -> Order:
        """The order of ``reference``; a repeat creation returns the same order (counted)."""
        with self.lock:
            order = self.orders.get(reference)
            if order is not None:
                order.creations += 1
                return order
            order = Order(reference, amount, pay_url=pay_url)
            self.orders[reference] = order
            return order

    def pay(self, reference: str) -> Order | None:
        """Take the payer's money once; ``None`` if unknown or not payable."""
        with self.lock:
            order = self.orders.get(reference)
            if order is None or order.status != "pending":
                return None
            self._txn += 1
            order.status, order.charges, order.txn = "paid", order.charges + 1, f"{self._txn:010d}"
            return order

    def cancel(self, reference: str) -> Order | None:
        """The payer gave up; ``None`` if unknown or already final."""
        with self.lock:
            order = self.orders.get(reference)
            if order is None or order.status != "pending":
                return None
            order.status = "failed"
            return order

    def ledger(self) -> dict[str, Any]:
        """Orders and counts, JSON-ready."""
        with self.lock:
            return {
                "orders": {
                    r: {
                        "amount": o.amount,
                        "status": o.status,
                        "charges": o.charges,
                        "creations": o.creations,
                        "txn": o.txn,
                    }
                    for r, o in self.orders.items()
                },
                "charges": sum(o.charges for o in self.orders.values()),
                "double_charges": sum(1 for o in self.orders.values() if o.charges > 1),
            }


def fault_answer(dice: FaultDice) -> tuple[str | None, Answer | None]:
    """Roll one API call's fault: ``(after, None)`` to apply then time out or drop, or
    ``(None, answer)`` to answer with an error at once, or ``(None, None)`` for none."""
    roll = dice.roll()
    dice.wait(roll)
    if roll.fault == "error":
        return None, Answer(500, b'{"MaLoi":"99"}')
    if roll.fault == "unavailable":
        return None, Answer(503, b"{}")
    if roll.fault in ("timeout", "drop"):
        return roll.fault, None
    return None, None


def page(title: str, order: Order | None, action: str) -> Answer:
    """The payment page: pay or cancel (a form a browser or a script can post)."""
    if order is None:
        return Answer(404, b"<p>no such order</p>", HTML)
    ref, amount = html.escape(order.reference), f"{order.amount:,}".replace(",", ".")
    body = (
        f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
        f"<p>Order {ref}: {amount} VND, {html.escape(order.status)}</p>"
        f'<form method="post" action="{html.escape(action)}">'
        '<button name="action" value="pay">Pay</button> '
        '<button name="action" value="cancel">Cancel</button></form>'
    )
    return Answer(200, body.encode(), HTML)


def form_action(body: bytes) -> str:
    """``pay`` or ``cancel`` from a posted form."""
    values = parse_qs(body.decode("utf-8", "replace"))
    return (values.get("action") or [""])[0]


def no_faults() -> FaultDice:
    """Dice that never fault."""
    return FaultDice(Faults())


def first(values: Mapping[str, list[str]], name: str) -> str:
    """The first value of a parsed query parameter ('' if absent)."""
    return (values.get(name) or [""])[0]
