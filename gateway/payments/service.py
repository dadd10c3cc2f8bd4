"""Payments: create (one Idempotency-Key, one payment), settle from callbacks and queries, then
tell the national record and the provincial system.

- **Create.** The key is claimed in Redis (``claim.lua``) before anything calls out, with a
  lease longer than one provider call. A provider timeout leaves the payment ``creating``; the
  next request with the key (or the stale sweep) queries the provider by our reference before
  creating anything again, and references are never reused, so the provider can always tell.
- **Settle.** Only a verified callback (PayGov confirm, VNPay IPN) or a query settles, once
  (``settle.lua``): a duplicate answers "already confirmed", a wrong amount or a bad checksum
  changes nothing and is audited. VNPay's browser return never settles.
- **After.** A paid payment is queued in ``pay:after`` in the same step; then the dossier's
  latest national state gets ``DuocThanhToanTrucTuyen`` (:mod:`.national`) and the client a
  ``payment.paid`` webhook event. Both are idempotent, so the sweep may redo them after a crash.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx
import orjson

from gateway.connectors.base import Entry
from gateway.connectors.paygov import AnswerKind, PayGovClient
from gateway.connectors.vnpay import VnpayClient
from gateway.connectors.webhook import EVENT_CHANNEL
from gateway.errors import (
    ContractError,
    IdempotencyError,
    NotFoundError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.payment_settings import PaymentSettings
from gateway.payments.national import Reflected, reflect_payment
from gateway.payments.providers import Guarded
from gateway.payments.store import PaymentStore
from gateway.pipeline.breaker import CircuitBreaker
from gateway.schemas.codes import OnlinePayment
from gateway.schemas.payments import Payment, PaymentRequest, PaymentStatus, Provider
from gateway.service import GatewayService

__all__ = ["SWEEP_TASK", "VNPAY_ANSWERS", "PaymentService", "SweepReport"]

log = logging.getLogger("gateway.payments")

VNPAY_ANSWERS: dict[AnswerKind, tuple[str, str]] = {
    "paid": ("00", "Confirm Success"),
    "not_found": ("01", "Order not found"),
    "already_confirmed": ("02", "Order already confirmed"),
    "wrong_amount": ("04", "Invalid amount"),
    "bad_checksum": ("97", "Invalid signature"),
    "other": ("99", "Unknown error"),
}
_NATIONAL_VALUE: dict[Provider, OnlinePayment] = {
    "paygov": OnlinePayment.NATIONAL_PLATFORM,
    "vnpay": OnlinePayment.OTHER_GATEWAY,
}
_LEASE_MARGIN_MS = 5_000
SWEEP_TASK = "payments-sweep"
_C = TypeVar("_C")  # a provider's client class


@dataclass
class SweepReport:
    """What one sweep did."""

    queried: int = 0
    settled: int = 0
    failed: int = 0
    reflected: int = 0
    errors: int = 0


class PaymentService:
    """Payments of one gateway. Build with :meth:`build`."""

    def __init__(
        self,
        settings: PaymentSettings,
        gateway: GatewayService,
        providers: Mapping[str, Guarded],
        store: PaymentStore,
    ) -> None:
        self.settings = settings
        self.gateway = gateway
        self.providers = dict(providers)
        self.store = store
        # Set by close(): a sweep in progress stops at the next payment, so shutting down does
        # not wait for hundreds of provider queries.
        self._closing = threading.Event()

    @classmethod
    def build(
        cls,
        settings: PaymentSettings,
        gateway: GatewayService,
        *,
        transports: Mapping[str, httpx.BaseTransport] | None = None,
        breaker_clock: Callable[[], float] = time.monotonic,
    ) -> PaymentService:
        """The configured providers, each with its breaker; ``transports`` replace the network."""
        t = transports or {}
        providers: dict[str, Guarded] = {}
        clients: list[PayGovClient | VnpayClient] = []
        if settings.paygov is not None:
            clients.append(
                PayGovClient(settings.paygov, transport=t.get("paygov"), clock=gateway.clock)
            )
        if settings.vnpay is not None:
            clients.append(
                VnpayClient(settings.vnpay, transport=t.get("vnpay"), clock=gateway.clock)
            )
        for c in clients:
            providers[c.name] = Guarded(
                c, CircuitBreaker(c.name, settings.breaker, clock=breaker_clock)
            )
        store = PaymentStore(
            gateway.client,
            namespace=gateway.settings.namespace,
            clock=gateway.clock,
            audit_max_len=settings.audit_max_len,
        )
        return cls(settings, gateway, providers, store)

    def _lease_ms(self, provider: Provider) -> int:
        config = self.settings.paygov if provider == "paygov" else self.settings.vnpay
        assert config is not None  # noqa: S101 - PaymentSettings checks routed providers exist
        return int(config.max_call_seconds * 1000) + _LEASE_MARGIN_MS

    # -- create --------------------------------------------------------------------------------

    def create(self, client_id: str, key: str, request: PaymentRequest) -> Payment:
        """The payment of ``key``: created once, found again on every repeat.

        Raises :class:`ContractError` (no provider for the agency and procedure),
        :class:`IdempotencyError` (422: the key was used for another request; 409: its first
        request is still calling the provider), :class:`TransientPeerError` (try again with the
        same key: nothing is created twice) or :class:`PermanentPeerError` (the provider refused;
        the payment is failed, use a new key).
        """
        provider = self.settings.provider_for(request.agency, request.procedure)
        if provider is None:
            raise ContractError.single(
                "agency",
                "payment_provider",
                f"no payment provider is configured for agency {request.agency}"
                f" and procedure {request.procedure}",
            )
        fingerprint = hashlib.sha256(request.model_dump_json(by_alias=True).encode()).hexdigest()
        claim = self.store.claim(
            client_id, key, fingerprint, provider, request, lease_ms=self._lease_ms(provider)
        )
        payment = claim.payment
        if claim.code == "mismatch":
            raise IdempotencyError(
                "this Idempotency-Key was already used for another payment request", status=422
            )
        if claim.code == "busy":
            raise IdempotencyError(
                "a request with this Idempotency-Key is still creating the payment", status=409
            )
        if claim.code == "existing":
            return payment
        guarded = self.providers[payment.provider]
        try:
            if claim.code == "resume" and self._resolved_by_query(guarded, payment):
                return self._get(payment.id)
            url = guarded.create(payment, request)
        except TransientPeerError:
            # Outcome unknown (or not sent): stays "creating"; the next try queries first.
            self.store.release(payment.id)
            raise
        except PermanentPeerError as exc:
            self.store.settle(payment.id, "failed", payment.amount, None, by="query")
            self.store.audit("create_refused", payment=payment.id, reason=exc.reason)
            raise
        self.store.created(payment.id, url)
        self.store.audit("created", payment=payment.id, provider=payment.provider)
        return self._get(payment.id)

    def _resolved_by_query(self, guarded: Guarded, payment: Payment) -> bool:
        """After an unknown creation outcome: True when the provider already holds it."""
        state = guarded.query(payment)
        if not state.found:
            return False
        self.store.created(payment.id, state.pay_url)
        self.store.audit("create_resolved", payment=payment.id, status=str(state.status))
        if state.status in (PaymentStatus.PAID, PaymentStatus.FAILED):
            self._settle_from_query(payment, state.status, state.amount, state.provider_txn)
        return True

    def _get(self, payment_id: str) -> Payment:
        payment = self.store.get(payment_id)
        if payment is None:
            raise NotFoundError(f"no payment {payment_id}")
        return payment

    def get(self, payment_id: str) -> Payment | None:
        """One payment, ``None`` if unknown."""
        return self.store.get(payment_id)

    # -- callbacks -----------------------------------------------------------------------------

    def _client(self, name: str, label: str, kind: type[_C]) -> _C:
        """The client of provider ``name``; NotFoundError (404) when it is not configured."""
        guarded = self.providers.get(name)
        if guarded is None:
            raise NotFoundError(f"{label} is not configured")
        client = guarded.client
        assert isinstance(client, kind)  # noqa: S101 - registered under its own name
        return client

    def paygov_confirm(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Handle PayGov's confirm callback; the signed answer in the platform's codes."""
        client = self._client("paygov", "PayGov", PayGovClient)
        confirm = client.verify_confirm(body)
        if confirm is None:
            self._refused("paygov", "bad_checksum", body.get("MaThamChieu"))
            return client.answer("bad_checksum")
        kind = self._notice(
            "paygov", confirm.reference, confirm.amount, confirm.paid, confirm.provider_txn
        )
        return client.answer(kind)

    def vnpay_ipn(self, params: Mapping[str, str]) -> dict[str, str]:
        """Handle VNPay's IPN; ``{"RspCode", "Message"}``."""
        client = self._client("vnpay", "VNPay", VnpayClient)
        notice = client.verify(params)
        if notice is None:
            self._refused("vnpay", "bad_checksum", params.get("vnp_TxnRef"))
            kind: AnswerKind = "bad_checksum"
        else:
            kind = self._notice(
                "vnpay", notice.reference, notice.amount, notice.paid, notice.provider_txn
            )
        code, message = VNPAY_ANSWERS[kind]
        return {"RspCode": code, "Message": message}

    def vnpay_return(self, params: Mapping[str, str]) -> dict[str, Any]:
        """What the browser coming back from VNPay is shown. Never settles anything."""
        client = self._client("vnpay", "VNPay", VnpayClient)
        notice = client.verify(params)
        if notice is None:
            return {"verified": False, "outcome": "unknown"}
        payment = self.store.by_reference(notice.reference)
        return {
            "verified": True,
            "outcome": "paid" if notice.paid else "not_paid",
            "payment_id": payment.id if payment else None,
            # The gateway's own state: "pending" until the IPN or a query confirms.
            "status": payment.status.value if payment else None,
        }

    def _refused(self, provider: str, reason: str, reference: object) -> None:
        ref = str(reference)[:40] if isinstance(reference, str | int) else ""
        self.store.audit("callback_refused", provider=provider, reason=reason, reference=ref)
        log.warning("payment callback refused provider=%s reason=%s", provider, reason)

    def _notice(
        self, provider: Provider, reference: str, amount: int | None, paid: bool, txn: str
    ) -> AnswerKind:
        payment = self.store.by_reference(reference)
        if payment is None or payment.provider != provider:
            self._refused(provider, "not_found", reference)
            return "not_found"
        if amount is None or amount != payment.amount:
            self._refused(provider, "wrong_amount", reference)
            return "wrong_amount"
        result = self.store.settle(
            payment.id, "paid" if paid else "failed", amount, txn or None, by="callback"
        )
        if result == "already":
            return "already_confirmed"
        if result != "settled":
            self._refused(provider, result, reference)
            return "wrong_amount" if result == "amount" else "not_found"
        self.store.audit("settled", payment=payment.id, by="callback", paid=paid)
        if paid:
            self.after_paid(payment.id)
        return "paid"

    # -- after a payment -----------------------------------------------------------------------

    def after_paid(self, payment_id: str) -> Reflected:
        """Reflect a paid payment in the national record and tell the client (idempotent)."""
        payment = self._get(payment_id)
        value = _NATIONAL_VALUE[payment.provider]
        # Pinned first: a province state accepted from now on keeps the flag, and one being
        # accepted right now conflicts and is built again with it; the patch below then
        # covers every state accepted before the pin.
        self.gateway.pin_payment_flag(payment.dossier_no, value)
        reflected = reflect_payment(self.gateway, payment.dossier_no, value)
        self._notify(payment)
        if reflected in ("new", "dup", "refused"):
            self.store.done_after(payment.id)
        if reflected != "new":
            self.store.audit("national", payment=payment.id, result=reflected)
        return reflected

    def _notify(self, payment: Payment) -> None:
        client = next((c for c in self.gateway.settings.clients if c.id == payment.client), None)
        if client is None or client.webhook_url is None:
            return
        if EVENT_CHANNEL not in self.gateway.channels:
            return
        event_id = f"msg_pay{payment.id}"
        body = orjson.dumps(
            {
                "type": "payment.paid",
                "at": payment.paid_at or self.store.now_ms(),
                "payment_id": payment.id,
                "reference": payment.reference,
                "provider": payment.provider,
                "dossier_no": payment.dossier_no,
                "amount": payment.amount,
            }
        )
        self.gateway.accept_entries(
            EVENT_CHANNEL,
            client.id,
            [Entry(subject=event_id, fingerprint=event_id, body=body, order=payment.paid_at or 0)],
            client=client.id,
        )

    # -- stale payments and receipts -----------------------------------------------------------

    def _settle_from_query(
        self, payment: Payment, status: PaymentStatus, amount: int | None, txn: str | None
    ) -> bool:
        if status is PaymentStatus.PAID and amount != payment.amount:
            self._refused(payment.provider, "query_wrong_amount", payment.reference)
            return False
        outcome: Literal["paid", "failed"] = "paid" if status is PaymentStatus.PAID else "failed"
        result = self.store.settle(payment.id, outcome, payment.amount, txn, by="query")
        if result == "settled":
            self.store.audit("settled", payment=payment.id, by="query", paid=outcome == "paid")
            if outcome == "paid":
                self.after_paid(payment.id)
            return True
        return False

    def sweep(self) -> SweepReport:
        """Query payments with no callback after ``stale_after_seconds`` and settle them; finish
        any national record or webhook still due."""
        report = SweepReport()
        now = self.store.now_ms()
        stale_ms = self.settings.stale_after_seconds * 1000
        for pid in self.store.open_before(now - stale_ms):
            if self._closing.is_set():
                return report
            payment = self.store.get(pid)
            guarded = self.providers.get(payment.provider) if payment else None
            if payment is None or guarded is None:
                continue
            try:
                state = guarded.query(payment)
            except (TransientPeerError, PermanentPeerError):
                report.errors += 1
                continue
            report.queried += 1
            if not state.found:
                if now - payment.created_at > 2 * stale_ms:
                    # Never reached the provider, or the payer never opened the page: expired.
                    self.store.settle(payment.id, "failed", payment.amount, None, by="query")
                    report.failed += 1
                continue
            if payment.status is PaymentStatus.CREATING:
                self.store.created(payment.id, state.pay_url)
            if state.status in (PaymentStatus.PAID, PaymentStatus.FAILED) and (
                self._settle_from_query(payment, state.status, state.amount, state.provider_txn)
            ):
                report.settled += state.status is PaymentStatus.PAID
                report.failed += state.status is PaymentStatus.FAILED
        for pid in self.store.due_after():
            if self.after_paid(pid) in ("new", "dup"):
                report.reflected += 1
        return report

    def attach(self) -> None:
        """Have the gateway's workers run :meth:`periodic_sweep` every
        ``sweep_interval_seconds`` (idempotent; :meth:`close` detaches)."""
        self.gateway.periodic.add(
            SWEEP_TASK, self.periodic_sweep, self.settings.sweep_interval_seconds
        )

    def periodic_sweep(self) -> SweepReport | None:
        """The workers' stale sweep: :meth:`sweep`, unless another process already swept in
        this interval (``None`` then)."""
        if not self.store.claim_sweep(int(self.settings.sweep_interval_seconds * 1000)):
            return None
        report = self.sweep()
        if report.queried or report.reflected or report.errors:
            log.info(
                "payments sweep queried=%d settled=%d failed=%d reflected=%d errors=%d",
                report.queried,
                report.settled,
                report.failed,
                report.reflected,
                report.errors,
            )
        return report

    def bill(self, payment_id: str) -> bytes:
        """The receipt of a paid PayGov payment (``GET_BILL``)."""
        payment = self._get(payment_id)
        guarded = self.providers.get(payment.provider)
        if payment.provider != "paygov" or guarded is None:
            raise NotFoundError("receipts exist for PayGov payments only")
        if payment.status is not PaymentStatus.PAID:
            raise NotFoundError("the payment is not paid")
        client = guarded.client
        assert isinstance(client, PayGovClient)  # noqa: S101 - registered under its own name
        return guarded.call("GET_BILL", lambda: client.get_bill(payment.reference))

    def close(self) -> None:
        """Stop the periodic sweep (waiting for one in progress), then close the provider
        clients."""
        self._closing.set()
        self.gateway.periodic.remove(SWEEP_TASK)
        for guarded in self.providers.values():
            guarded.client.close()
