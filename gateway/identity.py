"""Identity checks: offline rules → breaker → population connector → compare → audit.

:class:`IdentityService` is what the HTTP route calls. Every look-up that reaches it (once the
caller is entitled) leaves one audit entry in the ``<ns>:audit:identity`` stream: who asked,
for which dossier, when, which profile, the outcome, and the number masked; nothing else
personal. A look-up for a dossier is also appended to ``<ns>:idchecks:<MaHoSo>`` for the 766
evaluation (``{"at", "outcome", "profile", "client"}``). Records are cached only when
``cache_ttl_seconds`` is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import orjson
import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.audit.chain import AuditChain
from gateway.audit.exchanges import audit_http
from gateway.connectors.population import (
    LookupRequest,
    PopulationConnector,
    build_population_connector,
)
from gateway.errors import (
    ContractError,
    PeerError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.identity_settings import IdentitySettings
from gateway.logmask import sensitive
from gateway.mappers.citizen_xml import CitizenReply
from gateway.mappers.identity import compare_person, entitled_view, offline_violations
from gateway.observability.propagation import propagate_http
from gateway.observability.traces import Tracing
from gateway.pipeline.breaker import BreakerState, CircuitBreaker
from gateway.schemas.citizen import Citizen
from gateway.schemas.identifiers import mask_id
from gateway.schemas.identity import IdentityAnswer, IdentityOutcome, IdentityQuery

__all__ = ["BreakerOpenError", "IdentityCollector", "IdentityService"]

log = logging.getLogger("gateway.identity")


class BreakerOpenError(TransientPeerError):
    """The population database's breaker is open: not called; ask again after ``retry_after``."""


_VOLUME_KEEP_SECONDS = 48 * 3600


@dataclass
class IdentityService:
    """Identity checks for one gateway. ``clock`` is wall-clock seconds (audit times)."""

    settings: IdentitySettings
    client: redis.Redis
    namespace: str
    connector: PopulationConnector
    breaker: CircuitBreaker
    clock: Callable[[], float] = time.time
    on_dossier_check: Callable[[str], object] | None = None
    """Called with the ``MaHoSo`` after a look-up for it is recorded (the evaluations recount)."""
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    chain: AuditChain | None = None
    """The tamper-evident audit chain; each look-up appends an ``identity`` entry."""

    @classmethod
    def build(
        cls,
        settings: IdentitySettings,
        client: redis.Redis,
        namespace: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker_clock: Callable[[], float] = time.monotonic,
        on_dossier_check: Callable[[str], object] | None = None,
        chain: AuditChain | None = None,
        tracing: Tracing | None = None,
    ) -> IdentityService:
        """Build the connector of the configured profile and its breaker.

        ``transport`` replaces the network (tests, the sandbox's simulator); ``breaker_clock``
        is the breaker's monotonic clock; for ``on_dossier_check`` see the attribute; with
        ``chain`` every look-up and every exchange with the population database is appended to
        the audit chain; with ``tracing`` each call carries the look-up request's
        ``traceparent``.
        """
        connector = build_population_connector(settings.population, transport=transport)
        breaker = CircuitBreaker("population", settings.breaker, clock=breaker_clock)
        if chain is not None:
            audit_http(connector, chain, "population")
        if tracing is not None:
            propagate_http(connector, tracing)
        return cls(
            settings,
            client,
            namespace,
            connector,
            breaker,
            on_dossier_check=on_dossier_check,
            chain=chain,
        )

    @property
    def profile(self) -> str:
        """The configured connector profile (``lgsp`` or ``soap``)."""
        return self.connector.profile

    @property
    def audit_key(self) -> str:
        """The audit stream."""
        return f"{self.namespace}:audit:identity"

    def checks_key(self, dossier_no: str) -> str:
        """The list of look-ups made for ``dossier_no`` (read by the 766 evaluation)."""
        return f"{self.namespace}:idchecks:{dossier_no}"

    async def verify(self, query: IdentityQuery, *, client_id: str) -> IdentityAnswer:
        """Check ``query`` for ``client_id`` (whose entitlement the caller has checked).

        Raises ContractError (offline rules broken: outcome ``invalid``), BreakerOpenError or
        TransientPeerError (outcome ``unavailable``: answer 503), PermanentPeerError (the
        database refused or sent an unreadable reply: 502).
        """
        entitled = self.settings.entitlement(client_id)
        request_id = uuid.uuid4().hex
        with sensitive(query.id_number, query.full_name, query.old_id_number):
            violations = offline_violations(query)
            if violations:
                await self._record(
                    query, client_id, request_id, IdentityOutcome.INVALID, violations[0].rule
                )
                raise ContractError(violations)
            try:
                reply = await self._look_up(query, request_id)
            except PeerError as exc:
                await self._record(
                    query, client_id, request_id, IdentityOutcome.UNAVAILABLE, exc.reason
                )
                log.warning("identity look-up %s failed: %s", request_id, exc.reason)
                raise
            citizen = _the_one(reply, query.id_number)
            if citizen is None:
                mismatches: tuple[str, ...] = ("id_number",)
            else:
                mismatches = compare_person(query, citizen, sex_codes=self.settings.sex_codes)
            outcome = IdentityOutcome.MISMATCH if mismatches else IdentityOutcome.MATCH
            await self._record(query, client_id, request_id, outcome, None, mismatches)
        view = None
        # Only a caller who already knows the person gets the record: a mismatch shows nothing,
        # so a number cannot be used to fish for whoever holds it.
        if citizen is not None and not mismatches and entitled not in (None, "verify"):
            view = entitled_view(citizen, entitled)
        return IdentityAnswer(
            outcome="match" if outcome is IdentityOutcome.MATCH else "mismatch",
            mismatches=mismatches,
            found=citizen is not None,
            profile=self.profile,
            request_id=request_id,
            citizen=view,
        )

    async def _look_up(self, query: IdentityQuery, request_id: str) -> CitizenReply:
        caching = self.settings.cache_ttl_seconds > 0
        cached = await asyncio.to_thread(self._cached, query.id_number) if caching else None
        if cached is not None:
            return cached
        request = LookupRequest(
            id_number=query.id_number,
            full_name=query.full_name,
            birth_year=query.year,
            birth_date=query.birth_date.strftime("%Y%m%d") if query.birth_date else None,
            old_id_number=query.old_id_number,
            request_id=request_id,
        )
        # enter(), not allow(): a look-up let through while the breaker was closed holds no
        # half-open probe, so if it is cancelled it must not release one that another
        # look-up, still in flight, holds (as the delivery engine does).
        allowed, probe = self.breaker.enter()
        if not allowed:
            raise BreakerOpenError(
                "circuit open: the population database is not being called",
                system="population",
                operation="look_up",
                retry_after=self.breaker.retry_after(),
            )
        try:
            reply = await self.connector.look_up(request)
        except TransientPeerError:
            # Timeouts, 5xx, 429 and our own refused credentials count; the peer is not
            # answering usefully, so stop calling it for a while.
            self.breaker.record_failure()
            raise
        except PermanentPeerError:
            # The peer answered (a fault, an unreadable reply): it is up.
            self.breaker.record_success()
            raise
        except BaseException:
            if probe:
                self.breaker.release()  # our probe ended without a verdict (cancelled)
            raise
        self.breaker.record_success()
        if caching:
            await asyncio.to_thread(self._cache, query.id_number, reply)
        return reply

    # -- cache (only when configured) ------------------------------------------------------

    def _cache_key(self, number: str) -> str:
        digest = hashlib.sha256(f"{self.namespace}|{number}".encode()).hexdigest()
        return f"{self.namespace}:idcache:{digest}"

    def _cached(self, number: str) -> CitizenReply | None:
        if not self.settings.cache_ttl_seconds:
            return None
        raw = self.client.get(self._cache_key(number))
        if raw is None:
            return None
        return CitizenReply(citizens=tuple(Citizen.model_validate(c) for c in orjson.loads(raw)))

    def _cache(self, number: str, reply: CitizenReply) -> None:
        ttl = self.settings.cache_ttl_seconds
        if not ttl or not reply.citizens:
            return
        data = orjson.dumps(
            [c.model_dump(by_alias=True, exclude_none=True) for c in reply.citizens]
        )
        self.client.set(self._cache_key(number), data, ex=ttl)

    # -- audit and evaluation --------------------------------------------------------------

    async def _record(
        self,
        query: IdentityQuery,
        client_id: str,
        request_id: str,
        outcome: IdentityOutcome,
        reason: str | None,
        mismatches: tuple[str, ...] = (),
    ) -> None:
        """Count the look-up, then write its audit entry (and its 766 record, for a dossier)."""
        at = int(self.clock() * 1000)
        self.counts[(self.profile, outcome.value)] += 1
        entry = {
            "at": str(at),
            "client": client_id,
            "dossier": query.dossier_no or "",
            "profile": self.profile,
            "outcome": outcome.value,
            "reason": reason or "",
            "mismatches": ",".join(mismatches),
            "id_number": mask_id(query.id_number),
            "request_id": request_id,
        }
        record = None
        if query.dossier_no is not None:
            record = orjson.dumps(
                {"at": at, "outcome": outcome.value, "profile": self.profile, "client": client_id}
            )
        # Redis calls block: in a worker thread they leave the event loop to other look-ups,
        # and concurrent writes share Redis' fsyncs.
        await asyncio.to_thread(self._write, entry, query.dossier_no, record)

    def volume_key(self, hour: int) -> str:
        """Look-ups by outcome in one hour (hours since the epoch), for the console."""
        return f"{self.namespace}:idvol:{hour}"

    def volumes(self, hours: int = 24) -> list[tuple[int, dict[str, int]]]:
        """``(hour, {outcome: look-ups})`` for the last ``hours`` hours, oldest first (``hour``
        in hours since the epoch, UTC), from every gateway process."""
        now = int(self.clock()) // 3600
        pipe = self.client.pipeline(transaction=False)
        for h in range(now - hours + 1, now + 1):
            pipe.hgetall(self.volume_key(h))
        rows = cast("list[dict[bytes, bytes]]", pipe.execute())
        return [
            (now - hours + 1 + i, {_text(k): int(v) for k, v in sorted(row.items())})
            for i, row in enumerate(rows)
        ]

    def _write(self, entry: dict[str, str], dossier_no: str | None, record: bytes | None) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.audit_key, entry, maxlen=self.settings.audit_max_len, approximate=True)  # type: ignore[arg-type]
        # The audit stream is the record; these hourly counts are what the console charts
        # without reading it (kept two days).
        volume = self.volume_key(int(entry["at"]) // 3_600_000)
        pipe.hincrby(volume, entry["outcome"], 1)
        pipe.expire(volume, _VOLUME_KEEP_SECONDS)
        if dossier_no is not None and record is not None:
            pipe.rpush(self.checks_key(dossier_no), record)
        pipe.execute()
        if self.chain is not None:
            self.chain.append("identity", entry)
        if dossier_no is not None and self.on_dossier_check is not None:
            try:
                self.on_dossier_check(dossier_no)
            except Exception as exc:
                # The look-up is in the dossier's list: the next recount reads it, so the
                # answer need not fail for this.
                log.warning("evaluation recount after a look-up failed: %s", type(exc).__name__)

    def audit(self, *, count: int = 100) -> list[dict[str, str]]:
        """The newest ``count`` audit entries, newest first, each with its stream ``id``."""
        rows = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            self.client.xrevrange(self.audit_key, count=count),
        )
        return [
            {"id": _text(entry_id), **{_text(k): _text(v) for k, v in fields.items()}}
            for entry_id, fields in rows
        ]

    def health(self) -> dict[str, Any]:
        """The breaker as a health page shows it."""
        b = self.breaker
        return {
            "profile": self.profile,
            "breaker": b.state.value,
            "retry_after": round(b.retry_after(), 3),
            "consecutive_failures": b.consecutive_failures,
            "last_success": b.last_success,
            "last_failure": b.last_failure,
        }

    async def aclose(self) -> None:
        """Close the connector."""
        await self.connector.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _the_one(reply: CitizenReply, number: str) -> Citizen | None:
    """The record of ``number`` (a record without a number counts as the one asked for)."""
    for citizen in reply.citizens:
        if citizen.id_number in (None, number):
            return citizen
    return None


_BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class IdentityCollector(Collector):
    """Prometheus metrics of this process's look-ups and the population breaker.

    ``service`` is a callable giving the current service (the app may swap it, e.g. in tests).
    """

    def __init__(self, service: Callable[[], IdentityService | None]) -> None:
        self._current = service

    def collect(self) -> Iterator[Metric]:
        """Look-ups by profile and outcome; breaker state (0 closed, 1 half-open, 2 open)."""
        service = self._current()
        if service is None:
            return
        lookups = CounterMetricFamily(
            "gateway_identity_lookups",
            "Identity look-ups by outcome",
            labels=["profile", "outcome"],
        )
        for (profile, outcome), n in sorted(service.counts.items()):
            lookups.add_metric([profile, outcome], n)
        yield lookups
        state = GaugeMetricFamily(
            "gateway_identity_breaker_state",
            "Population-database breaker: 0 closed, 1 half-open, 2 open",
            labels=["peer"],
        )
        state.add_metric(["population"], _BREAKER_VALUES[service.breaker.state])
        yield state

    def describe(self) -> list[Metric]:
        """Nothing ahead of time (the registry is created with auto_describe off)."""
        return []
