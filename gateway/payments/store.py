"""Payments in Redis: every state change that must be atomic is one Lua call (``lua/``).

Key layout (``ns`` is the gateway's namespace)::

    ns:pay:<id>                  hash: one payment (the :class:`Payment` fields, the request
                                 JSON, its fingerprint, the creation lease)
    ns:pay:key:<client>:<key>    string: the payment id an Idempotency-Key was claimed for
    ns:pay:ref:<reference>       string: the payment id of an order reference
    ns:pay:seq                   counter of payment ids (references embed it: unique)
    ns:pay:open                  zset: payments not final, score = created (ms): stale sweep
    ns:pay:after                 set: paid payments whose national record or webhook is due
    ns:pay:day:<yyyymmdd>        set: payments created that day (Vietnam time): reconciliation
    ns:pay:audit                 stream: refused callbacks and every settlement
    ns:pay:sweep:next            string: when (ms) the next periodic stale sweep is due, across
                                 every gateway process of the namespace

Payments are financial records: nothing here expires.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, cast

import redis

from gateway.mappers.paytime import format_pay_time
from gateway.schemas.payments import Payment, PaymentRequest, Provider

__all__ = ["Awaiting", "ClaimResult", "PaymentStore", "SettleResult"]

ClaimCode = Literal["new", "resume", "busy", "existing", "mismatch"]
SettleResult = Literal["settled", "already", "amount", "missing"]


# KEYS[1]: the next due time (ms). ARGV: now (ms), interval (ms). 1 when the caller may sweep.
_CLAIM_SWEEP = """
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if due > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]))
return 1
"""


@cache
def _source(name: str) -> str:
    return resources.files("gateway.payments").joinpath("lua", f"{name}.lua").read_text("utf-8")


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """What claiming a key gave: ``code`` (see ``claim.lua``) and the payment."""

    code: ClaimCode
    payment: Payment


@dataclass(frozen=True, slots=True)
class Awaiting:
    """Payments not yet confirmed (``creating`` or ``pending``), for the console."""

    count: int
    oldest_ms: int | None
    by_provider: dict[str, int]
    """Over the ``sampled`` oldest of them (all, unless there are more than the limit)."""
    sampled: int


class PaymentStore:
    """Typed access to the payment keys of one namespace."""

    def __init__(
        self, client: redis.Redis, *, namespace: str, clock: Callable[[], float], audit_max_len: int
    ) -> None:
        self.client = client
        self.ns = namespace
        self.clock = clock
        self._audit_max = audit_max_len
        self._scripts = {
            n: client.register_script(_source(n)) for n in ("claim", "created", "settle")
        }

    def claim_sweep(self, every_ms: int) -> bool:
        """True for the one caller (of any process) whose periodic sweep is due now.

        The due time is kept in Redis on the injected clock, not as a key's TTL: N worker
        processes then query the providers once per interval, not N times, and tests that
        advance the clock see the same rule.
        """
        return bool(
            self.client.eval(_CLAIM_SWEEP, 1, self._key("sweep", "next"), self.now_ms(), every_ms)
        )

    def now_ms(self) -> int:
        """Now, in ms since the epoch."""
        return int(self.clock() * 1000)

    def _key(self, *parts: str) -> str:
        return ":".join((self.ns, "pay", *parts))

    def claim(
        self,
        client_id: str,
        key: str,
        fingerprint: str,
        provider: Provider,
        request: PaymentRequest,
        *,
        lease_ms: int,
    ) -> ClaimResult:
        """Claim ``key`` for one payment of ``request`` (one atomic call)."""
        now = self.now_ms()
        day = format_pay_time(now / 1000)[:8]
        raw = self._scripts["claim"](
            args=[
                self.ns,
                now,
                client_id,
                key,
                fingerprint,
                lease_ms,
                day,
                provider,
                request.dossier_no,
                request.agency,
                request.procedure,
                request.amount,
                request.model_dump_json(by_alias=True),
            ]
        )
        code, pid = (_text(x) or "" for x in raw)
        payment = self.get(pid)
        assert payment is not None  # noqa: S101 - the script just created or found it
        return ClaimResult(code, payment)  # type: ignore[arg-type]  # the script's codes are ClaimCode

    def created(self, payment_id: str, pay_url: str | None) -> None:
        """The provider holds the payment (its URL, when known)."""
        self._scripts["created"](args=[self.ns, payment_id, pay_url or ""])

    def release(self, payment_id: str) -> None:
        """Give up the creation lease (the outcome stays unknown: the next try queries first)."""
        self.client.hdel(self._key(payment_id), "lease")

    def settle(
        self,
        payment_id: str,
        outcome: Literal["paid", "failed"],
        amount: int,
        provider_txn: str | None,
        *,
        by: Literal["callback", "query"],
    ) -> SettleResult:
        """Settle once (see ``settle.lua``)."""
        result = self._scripts["settle"](
            args=[self.ns, self.now_ms(), payment_id, outcome, amount, provider_txn or "", by]
        )
        return _text(result)  # type: ignore[return-value]  # the script's codes are SettleResult

    def get(self, payment_id: str) -> Payment | None:
        """One payment, ``None`` if unknown."""
        raw: dict[bytes, bytes] = self.client.hgetall(self._key(payment_id))  # type: ignore[assignment]  # sync client
        if not raw:
            return None
        h = {k.decode(): v.decode() for k, v in raw.items()}
        return Payment(
            id=h["id"],
            reference=h["reference"],
            provider=h["provider"],
            client=h["client"],
            dossier_no=h["dossier_no"],
            agency=h["agency"],
            procedure=h["procedure"],
            amount=int(h["amount"]),
            status=h["status"],
            pay_url=h.get("pay_url"),
            created_at=int(h["created_at"]),
            paid_at=int(h["paid_at"]) if "paid_at" in h else None,
            provider_txn=h.get("provider_txn"),
            settled_by=h.get("settled_by"),
        )

    def request_of(self, payment_id: str) -> PaymentRequest:
        """The request a payment was created for."""
        raw = self.client.hget(self._key(payment_id), "request")
        return PaymentRequest.model_validate_json(raw or b"{}")

    def by_reference(self, reference: str) -> Payment | None:
        """The payment of an order reference, ``None`` if unknown."""
        if not reference or ":" in reference:
            return None
        pid = _text(self.client.get(self._key("ref", reference)))
        return self.get(pid) if pid else None

    def open_before(self, created_before_ms: int, limit: int = 500) -> list[str]:
        """Ids of payments not final and created before ``created_before_ms``."""
        raw = self.client.zrangebyscore(
            self._key("open"), "-inf", created_before_ms, start=0, num=limit
        )
        return [_text(x) or "" for x in raw]  # type: ignore[arg-type]  # sync client: bytes members

    def awaiting(self, limit: int = 5000) -> Awaiting:
        """How many payments await confirmation, the oldest's creation time, and the
        ``limit`` oldest by provider (one pipelined read: the console stays fast)."""
        key = self._key("open")
        count = int(self.client.zcard(key))
        rows = cast(
            "list[tuple[bytes, float]]", self.client.zrange(key, 0, limit - 1, withscores=True)
        )
        pipe = self.client.pipeline(transaction=False)
        for pid, _ in rows:
            pipe.hget(self._key(_text(pid) or ""), "provider")
        providers = Counter(_text(p) or "unknown" for p in pipe.execute()) if rows else Counter()
        return Awaiting(
            count=count,
            oldest_ms=int(rows[0][1]) if rows else None,
            by_provider=dict(sorted(providers.items())),
            sampled=len(rows),
        )

    def due_after(self) -> list[str]:
        """Paid payments whose national record or webhook is still due."""
        return sorted(_text(x) or "" for x in self.client.smembers(self._key("after")))

    def done_after(self, payment_id: str) -> None:
        """The national record and the webhook were told."""
        self.client.srem(self._key("after"), payment_id)

    def of_day(self, day: str) -> Iterator[Payment]:
        """Payments created on ``day`` (``yyyymmdd``, Vietnam time)."""
        for pid in sorted(_text(x) or "" for x in self.client.smembers(self._key("day", day))):
            payment = self.get(pid)
            if payment is not None:
                yield payment

    def audit(self, event: str, **fields: Any) -> None:
        """Append to the payment audit stream (never secrets or personal data)."""
        entry = {"event": event, "at": self.now_ms(), **{k: str(v) for k, v in fields.items()}}
        self.client.xadd(self._key("audit"), entry, maxlen=self._audit_max, approximate=True)  # type: ignore[arg-type]  # str values are valid stream fields

    def audit_log(self, count: int = 100) -> list[dict[str, str]]:
        """The newest audit entries, newest first."""
        raw = self.client.xrevrange(self._key("audit"), count=count)
        return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in raw]  # type: ignore[union-attr]  # sync client
