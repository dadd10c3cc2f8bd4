"""Payments through PayGov and VNPay: create, settle, reflect, reconcile."""

from gateway.payments.reconcile import Mismatch, StatementRow, read_statement, reconcile
from gateway.payments.service import PaymentService, SweepReport

__all__ = [
    "Mismatch",
    "PaymentService",
    "StatementRow",
    "SweepReport",
    "read_statement",
    "reconcile",
]
