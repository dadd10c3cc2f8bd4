"""Reconciliation finds every kind of mismatch, and none on agreeing books."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ContractError
from gateway.payments import StatementRow, read_statement, reconcile
from gateway.schemas.payments import PaymentStatus
from gateway.testing.records import AGENCY

from .conftest import Rig, request

DAY = "20251201"  # the rig's clock: 2025-12-01 11:00 in Vietnam


def _paid(rig: Rig, n: int) -> str:
    p = rig.payments.create("prov", f"k{n}", request(f"{AGENCY}-250101-000{n}"))
    rig.pay_paygov(p.pay_url or "")
    rig.paygov.callbacks.flush()
    return p.reference


def test_agreeing_books_have_no_mismatch(rig: Rig) -> None:
    """Two paid, one pending: the provider agrees on each, by query."""
    _paid(rig, 1)
    _paid(rig, 2)
    rig.payments.create("prov", "k3", request(f"{AGENCY}-250101-0003"))
    assert reconcile(rig.payments, DAY) == []
    assert reconcile(rig.payments, DAY, provider="vnpay") == []


def test_every_kind_of_mismatch_is_reported_by_query(rig: Rig) -> None:
    """Status differs (paid at the provider, no callback), amount differs, missing at provider."""
    lost = rig.payments.create("prov", "k1", request(f"{AGENCY}-250101-0001"))
    rig.pay_paygov(lost.pay_url or "")
    rig.paygov.callbacks.pending.clear()  # its callback is lost
    amount_ref = _paid(rig, 2)
    rig.paygov.book.orders[amount_ref].amount = 1  # the provider's books say otherwise
    gone = _paid(rig, 3)
    del rig.paygov.book.orders[gone]
    found = {(m.kind, m.reference) for m in reconcile(rig.payments, DAY)}
    assert found == {
        ("status_differs", lost.reference),
        ("amount_differs", amount_ref),
        ("missing_at_provider", gone),
    }


def test_a_statement_adds_missing_at_gateway(rig: Rig, tmp_path: Path) -> None:
    """A CSV statement with an unknown reference, a wrong amount and a wrong status."""
    a, b, c = _paid(rig, 1), _paid(rig, 2), _paid(rig, 3)
    csv = tmp_path / "statement.csv"
    csv.write_text(
        "reference,amount,status\n"
        f"{a},150000,paid\n{b},150001,paid\n{c},150000,failed\n999,5000,paid\n",
        encoding="utf-8",
    )
    rows = read_statement(csv)
    assert rows[0] == StatementRow(a, 150_000, PaymentStatus.PAID)
    found = [str(m) for m in reconcile(rig.payments, DAY, statement=rows)]
    assert found == [
        f"amount_differs paygov {b} gateway=paid/150000 provider=paid/150001",
        f"status_differs paygov {c} gateway=paid/150000 provider=failed/150000",
        "missing_at_gateway - 999 gateway=- provider=paid/5000",
    ]


def test_a_bad_statement_names_the_line_and_field(tmp_path: Path) -> None:
    """An amount with a decimal point and an unknown status, each named."""
    csv = tmp_path / "bad.csv"
    csv.write_text("reference,amount,status\nR1,1500.5,paid\nR2,10,done\n", encoding="utf-8")
    with pytest.raises(ContractError) as err:
        read_statement(csv)
    assert [(v.path, v.rule) for v in err.value.violations] == [
        ("line 2.amount", "vnd_integer"),
        ("line 3.status", "status"),
    ]
