"""Ministry systems at run time: build their connectors, track their cases, flow results back.

Tracking, per system, all through the profile:

- **polling**: open cases whose poll is due (``[peers.<system>] poll_seconds``) are asked for
  (``find``); a settled case leaves the schedule;
- **the changed-cases feed** (profiles with ``has_feed``), every ``feed_seconds``: read the
  changes, *record* each (:meth:`CaseStore.observe`), then acknowledge what was recorded. A lost
  acknowledgement means the same changes come again and are recorded as duplicates; a change of
  a case we do not know (yet: an ambiguous hand-over not reconciled) is not acknowledged, so it
  comes again once we do;
- **callbacks** (``POST /v1/ministries/<system>/callback``): parsed by the profile and recorded
  the same way, so a duplicate callback is a duplicate.

:meth:`MinistryService.tick` does one round of all three plus the flow-back; the worker pool
runs it on its own thread every ``[worker] sweep_interval`` seconds (a Redis lock keeps two
processes from polling at once); tests call it directly.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.connectors.ministry.connector import MinistryConnector
from gateway.connectors.ministry.http import close_system_client, system_client
from gateway.connectors.ministry.profile import CaseStatus, SystemContext, profile_type
from gateway.connectors.ministry.settings import MinistrySettings, SystemConfig
from gateway.errors import PeerError
from gateway.ministry.flow import FlowBack
from gateway.ministry.store import CaseStore
from gateway.pipeline.breaker import CircuitBreaker
from gateway.schemas.wire import WireRules

if TYPE_CHECKING:
    import httpx
    import redis

    from gateway.service import GatewayService

__all__ = ["MinistryService", "Tick", "build_connectors"]

log = logging.getLogger("gateway.ministry")

_POLL_BATCH = 200
_LOCK_MS = 120_000
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RETRY_FAILED_POLL_SECONDS = 60.0


def build_connectors(
    settings: MinistrySettings,
    systems: Mapping[str, SystemConfig],
    store: CaseStore,
    *,
    transports: Mapping[str, httpx.BaseTransport] | None = None,
    clock: Callable[[], float],
    rules: WireRules | None = None,
) -> list[MinistryConnector]:
    """One connector per routed system, its profile built on the system's HTTP client."""
    out = []
    for name in sorted(settings.systems):
        config = systems[name]
        routes = [r for r in settings.routes if r.system == name]
        ptype = profile_type(routes[0].profile)
        http = system_client(name, config, transport=(transports or {}).get(name))
        profile = ptype.build(SystemContext(name=name, config=config, http=http, clock=clock))
        options = {r.name: ptype.options.model_validate(r.options) for r in routes}
        out.append(
            MinistryConnector(
                name,
                config,
                profile,
                routes,
                options,
                on_opened=store.opened,
                is_open=store.is_open,
                rules=rules,
                http=http,
                close=functools.partial(close_system_client, http),
            )
        )
    return out


@dataclass
class Tick:
    """What one round did."""

    polled: int = 0
    fed: int = 0
    recorded: int = 0
    duplicates: int = 0
    acknowledged: int = 0
    flowed: int = 0
    errors: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Dossiers of pushed changes whose case is not recorded (yet): not taken."""


class MinistryService:
    """The ministry side of one gateway (built by :class:`~gateway.service.GatewayService`)."""

    def __init__(
        self,
        gateway: GatewayService,
        settings: MinistrySettings,
        store: CaseStore,
        connectors: Sequence[MinistryConnector],
        breakers: Mapping[str, CircuitBreaker],
        *,
        client: redis.Redis,
        namespace: str,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.store = store
        self.connectors = {c.system: c for c in connectors}
        self.breakers = dict(breakers)
        self.flow = FlowBack(gateway, store, {r.name: r for r in settings.routes})
        self._client = client
        self._lock_key = f"{namespace}:min:lock"
        self._feed_key = f"{namespace}:min:feedat"
        self._clock = clock
        self._unlock = client.register_script(_UNLOCK)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one round -----------------------------------------------------------------------------

    def tick(self, *, force_feed: bool = False) -> Tick:
        """Poll due cases, read due feeds, flow back what was recorded (one process at a time)."""
        report = Tick()
        token = uuid.uuid4().hex
        if not self._client.set(self._lock_key, token, nx=True, px=_LOCK_MS):
            return report
        try:
            for name, connector in self.connectors.items():
                breaker = self.breakers.get(name)
                if breaker is not None and not breaker.would_allow():
                    continue  # the hand-overs found the ministry down: leave it alone too
                try:
                    self.poll(name, report)
                    if connector.profile.has_feed:
                        self.read_feed(name, report, force=force_feed)
                except PeerError as exc:
                    report.errors.append(f"{name}: {exc.reason}")
                    log.warning("ministry %s tracking failed: %s", name, exc.reason)
            report.flowed += self.flow.drain()
        finally:
            # Only our own lock: a round that outlived it must not free another process's.
            self._unlock(keys=[self._lock_key], args=[token])
        return report

    def poll(self, name: str, report: Tick | None = None) -> int:
        """Ask the ministry about every open case of ``name`` whose poll is due."""
        report = report or Tick()
        connector = self.connectors[name]
        config = connector.config
        count = 0
        for dossier in self.store.due(name, _POLL_BATCH):
            case = self.store.get(name, dossier)
            if case is None:
                continue
            try:
                status = connector.profile.find(case.ref)
            except PeerError as exc:
                self.store.reschedule(
                    name,
                    dossier,
                    after_seconds=min(config.poll_seconds, _RETRY_FAILED_POLL_SECONDS),
                )
                report.errors.append(f"{name}: {exc.reason}")
                continue
            count += 1
            if status is None:
                self.store.reschedule(name, dossier, after_seconds=config.poll_seconds)
                continue
            self._record(name, [status], report)
            self.store.reschedule(name, dossier, after_seconds=config.poll_seconds)
        report.polled += count
        return count

    def read_feed(self, name: str, report: Tick | None = None, *, force: bool = False) -> int:
        """Read ``name``'s changed-cases feed if due; record, then acknowledge what was taken."""
        report = report or Tick()
        connector = self.connectors[name]
        now_ms = self.store.now_ms()
        due_at = self._client.hget(self._feed_key, name)
        if not force and due_at is not None and int(due_at) > now_ms:
            return 0
        self._client.hset(self._feed_key, name, now_ms + int(connector.config.feed_seconds * 1000))
        changes = connector.profile.changes()
        taken = [c for c in changes if self._record(name, [c], report)]
        report.fed += len(changes)
        if taken:
            # Recorded first: a lost acknowledgement only repeats what is recorded already.
            connector.profile.acknowledge(taken)
            report.acknowledged += len(taken)
        return len(changes)

    def _record(self, name: str, statuses: Sequence[CaseStatus], report: Tick) -> bool:
        """Record changes; True when every one is known (recorded now or before)."""
        known = True
        for status in statuses:
            observed = self.store.observe(name, status)
            if observed.code == "new":
                report.recorded += 1
            elif observed.code in ("dup", "stale"):
                report.duplicates += 1
            else:
                known = False
        return known

    # -- callbacks -----------------------------------------------------------------------------

    def callback(self, name: str, headers: Mapping[str, str], body: bytes) -> Tick:
        """Record a pushed change (the caller is authenticated), then flow it back at once.

        Raises ``KeyError`` for an unknown system and ``ContractError`` for a body the profile
        cannot read; ``unknown`` lists the changes not taken (no such case recorded yet).
        """
        connector = self.connectors[name]
        report = Tick()
        statuses = connector.profile.parse_callback(headers, body)
        for status in statuses:
            # A case not recorded yet (its hand-over's answer is still on the way, or it was
            # ambiguous) is reported, for the endpoint to ask for the push again, like the
            # feed leaves such a change unacknowledged: answering 200 would drop it for good.
            if not self._record(name, [status], report):
                report.unknown.append(status.dossier_no)
        report.flowed += self.flow.drain()
        return report

    def callback_secret(self, name: str) -> str | None:
        """The bearer token ``name``'s callbacks must carry (``None``: callbacks refused)."""
        connector = self.connectors.get(name)
        if connector is None or connector.config.callback_secret is None:
            return None
        return connector.config.callback_secret.get_secret_value()

    # -- thread --------------------------------------------------------------------------------

    def start(self, interval: float) -> None:
        """Run :meth:`tick` every ``interval`` seconds on a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # the tracker must outlive a Redis blip
                    log.exception("ministry tick failed; trying again in %.1fs", interval)
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="gateway-ministry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the tracking thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def case(self, name: str, dossier_no: str) -> dict[str, Any] | None:
        """One case as the operations API shows it (no personal data)."""
        case = self.store.get(name, dossier_no)
        if case is None:
            return None
        return {
            "system": name,
            "dossier_no": dossier_no,
            "route": case.route,
            "case_id": case.case_id,
            "status": case.status,
            "state": case.state,
            "changes": case.seq,
            "settled": case.terminal,
        }
