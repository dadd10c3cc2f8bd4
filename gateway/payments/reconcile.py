"""Reconciliation: the gateway's payments of one day against what the provider says.

The provider's side is either its statement (a CSV file: ``reference,amount,status``, amounts in
đồng, status ``paid|pending|failed``) or, without one, a query of every payment of the day. Every
difference is a :class:`Mismatch`: missing on either side, amount differs, status differs (and a
query that could not be answered, which is not a match either).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gateway.errors import ContractError, PermanentPeerError, TransientPeerError, Violation
from gateway.schemas.payments import MAX_VND, Payment, PaymentStatus, Provider

if TYPE_CHECKING:
    from gateway.payments.service import PaymentService

__all__ = ["Mismatch", "StatementRow", "read_statement", "reconcile"]

MismatchKind = Literal[
    "missing_at_provider", "missing_at_gateway", "amount_differs", "status_differs", "query_failed"
]
_STATUSES = {
    "paid": PaymentStatus.PAID,
    "pending": PaymentStatus.PENDING,
    "failed": PaymentStatus.FAILED,
}


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One transaction as the provider reports it."""

    reference: str
    amount: int
    status: PaymentStatus


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One difference between the gateway and the provider."""

    kind: MismatchKind
    provider: str
    reference: str
    gateway: str
    provider_side: str

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.provider} {self.reference}"
            f" gateway={self.gateway} provider={self.provider_side}"
        )


def read_statement(path: Path) -> list[StatementRow]:
    """A provider statement CSV; :class:`ContractError` naming each bad line and field."""
    rows: list[StatementRow] = []
    problems: list[Violation] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"reference", "amount", "status"} - set(reader.fieldnames or ())
        if missing:
            raise ContractError.single(
                "header", "csv_columns", f"missing column(s): {', '.join(sorted(missing))}"
            )
        for line, row in enumerate(reader, start=2):
            ref, amount, status = row["reference"] or "", row["amount"] or "", row["status"] or ""
            if not ref.strip():
                problems.append(Violation(f"line {line}.reference", "required", "empty"))
            if not amount.isdigit() or int(amount) > MAX_VND:
                problems.append(
                    Violation(f"line {line}.amount", "vnd_integer", "must be whole đồng (digits)")
                )
            if status not in _STATUSES:
                problems.append(
                    Violation(f"line {line}.status", "status", "must be paid, pending or failed")
                )
            if not problems:
                rows.append(StatementRow(ref.strip(), int(amount), _STATUSES[status]))
    if problems:
        raise ContractError(problems, source=str(path))
    return rows


def _show(status: PaymentStatus | None, amount: int | None) -> str:
    return f"{status.value if status else '-'}/{amount if amount is not None else '-'}"


def reconcile(
    payments: PaymentService,
    day: str,
    *,
    provider: Provider | None = None,
    statement: Sequence[StatementRow] | None = None,
) -> list[Mismatch]:
    """Every mismatch for payments created on ``day`` (``yyyymmdd``, Vietnam time)."""
    ours = [p for p in payments.store.of_day(day) if provider in (None, p.provider)]
    out: list[Mismatch] = []
    theirs: dict[str, StatementRow] = {}
    if statement is not None:
        theirs = {r.reference: r for r in statement}
    else:
        for p in ours:
            guarded = payments.providers.get(p.provider)
            if guarded is None:
                continue
            try:
                state = guarded.query(p)
            except (TransientPeerError, PermanentPeerError) as exc:
                out.append(Mismatch("query_failed", p.provider, p.reference, p.status, exc.reason))
                continue
            if state.found and state.status is not None:
                theirs[p.reference] = StatementRow(
                    p.reference, state.amount if state.amount is not None else -1, state.status
                )
    failed = {m.reference for m in out}
    out += _compare(ours, theirs, failed, live=statement is None)
    if statement is not None:
        known = {p.reference for p in ours}
        for row in statement:
            if row.reference not in known and payments.store.by_reference(row.reference) is None:
                out.append(
                    Mismatch(
                        "missing_at_gateway",
                        provider or "-",
                        row.reference,
                        "-",
                        _show(row.status, row.amount),
                    )
                )
    return out


def _compare(
    ours: Iterable[Payment], theirs: dict[str, StatementRow], failed: set[str], *, live: bool
) -> list[Mismatch]:
    out: list[Mismatch] = []
    for p in ours:
        if p.reference in failed:
            continue
        row = theirs.get(p.reference)
        mine = _show(p.status, p.amount)
        if row is None:
            # Never created at the provider (a refused or expired creation) is no mismatch;
            # money we count as paid, or an order we think the payer holds, is.
            expected = {PaymentStatus.PAID} | ({PaymentStatus.PENDING} if live else set())
            if p.status in expected:
                out.append(Mismatch("missing_at_provider", p.provider, p.reference, mine, "-"))
            continue
        theirs_shown = _show(row.status, row.amount)
        if row.amount != p.amount:
            out.append(Mismatch("amount_differs", p.provider, p.reference, mine, theirs_shown))
        if row.status is not p.status:
            out.append(Mismatch("status_differs", p.provider, p.reference, mine, theirs_shown))
    return out
