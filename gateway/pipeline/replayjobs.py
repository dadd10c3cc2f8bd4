"""Bulk dead-letter replays as background jobs: an operator starts one, a worker runs it.

A bulk replay is throttled (``rate`` letters per second, the portal has usually just recovered),
so it can last minutes; the HTTP API starts a job and answers at once, a worker runs it, and the
operator polls the job. Each job is one hash, ``<ns>:job:<id>``:

- ``state``: ``queued`` → ``running`` → ``finished`` | ``failed``;
- ``actor``, ``rate``, ``filter`` (the :class:`DeadLetterFilter` as JSON);
- ``created_at``, ``started_at``, ``finished_at``: ms since the epoch;
- ``done``/``total``: progress; ``outcomes``: counts by replay outcome (JSON); ``error``.

Only a ``queued`` job runs, and the claim is atomic, so a message delivered twice (dramatiq
delivers at least once) replays once. A failed job is not run again: start another. A job whose
worker died mid-run stays ``running`` until it expires; a new job over the same filter picks up
the letters it did not reach, since replayed letters no longer wait. Each replay is audited by the
outbox script under the job's actor. A job expires ``ttl`` seconds after its last change.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.commands.core import Script
from redis.typing import EncodableT, FieldT

from gateway.errors import ContractError, NotFoundError, Violation
from gateway.pipeline.deadletters import DeadLetterFilter, DeadLetters
from gateway.pipeline.outbox import text

__all__ = ["DEFAULT_JOB_TTL", "ReplayJobs"]

DEFAULT_JOB_TTL = 7 * 24 * 3600.0
"""Seconds a job stays readable after its last change."""

log = logging.getLogger("gateway.pipeline")

# KEYS[1] = the job; ARGV = now (ms), ttl (ms). Moves a queued job to running; returns the state
# it found (nil when there is no such job).
_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'running', 'started_at', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return state
"""


def _iso(ms: str | None) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).isoformat()


def _check_window(flt: DeadLetterFilter | None) -> None:
    """Refuse a filter time the job could not turn into a score (naive, or beyond years
    1–9999 once in UTC): found now, it is a ContractError; found by the worker, a failed job."""
    for name in ("since", "until"):
        value = getattr(flt, name, None)
        if value is None:
            continue
        try:
            if value.utcoffset() is None:
                raise ValueError
            value.timestamp()
        except (ValueError, OverflowError):
            raise ContractError(
                [Violation(name, "iso_datetime_range", "an aware time within the years 1–9999")]
            ) from None


@dataclass
class ReplayJobs:
    """Start, run and read bulk-replay jobs, kept in the outbox's Redis under its namespace.

    ``enqueue(job_id)`` must arrange for :meth:`run` to be called (the service sends it to the
    replay actor). ``clock`` gives wall time in seconds for the job's timestamps; ``sleep`` and
    ``monotonic`` pace the replays (inject both so tests never wait).
    """

    deadletters: DeadLetters
    enqueue: Callable[[str], None]
    ttl: float = DEFAULT_JOB_TTL
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    _claim: Script = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._claim = self.deadletters.outbox.client.register_script(_CLAIM)

    def _key(self, job_id: str) -> str:
        return f"{self.deadletters.outbox.ns}:job:{job_id}"

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _write(self, key: str, fields: dict[FieldT, EncodableT]) -> None:
        pipe = self.deadletters.outbox.client.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)
        pipe.pexpire(key, int(self.ttl * 1000))
        pipe.execute()

    def _read(self, key: str) -> dict[str, str]:
        raw: dict[bytes | str, bytes | str] = self.deadletters.outbox.client.hgetall(key)
        return {text(k) or "": text(v) or "" for k, v in raw.items()}

    def start(self, flt: DeadLetterFilter | None, *, actor: str, rate: float) -> str:
        """Store a queued job replaying what ``flt`` matches at ``rate`` per second; its id.

        The job is stored before it is enqueued, so a worker never sees an unknown id.
        """
        if rate <= 0:
            raise ValueError("rate must be positive")
        _check_window(flt)
        job_id = uuid.uuid4().hex
        self._write(
            self._key(job_id),
            {
                "state": "queued",
                "actor": actor,
                "rate": repr(float(rate)),
                "filter": orjson.dumps((flt or DeadLetterFilter()).to_json()).decode(),
                "created_at": self._now_ms(),
                "done": 0,
                "total": 0,
            },
        )
        self.enqueue(job_id)
        log.info("replay job %s queued by=%s rate=%s", job_id, actor, rate)
        return job_id

    def run(self, job_id: str) -> bool:
        """Run a queued job to ``finished`` (or ``failed``); False when it was not queued.

        A job that is unknown, expired, running, finished or failed is left as it is.
        """
        key = self._key(job_id)
        found = text(self._claim(keys=[key], args=[self._now_ms(), int(self.ttl * 1000)]))
        if found != "queued":
            log.info("replay job %s not run: %s", job_id, found or "unknown")
            return False
        job = self._read(key)
        flt = DeadLetterFilter.from_json(orjson.loads(job["filter"]))

        def progress(done: int, total: int) -> None:
            self._write(key, {"done": done, "total": total})

        try:
            results = self.deadletters.replay_many(
                flt,
                actor=job["actor"],
                rate=float(job["rate"]),
                sleep=self.sleep,
                clock=self.monotonic,
                progress=progress,
            )
        except BaseException as exc:
            # Interrupts too (dramatiq's time limit, a shutdown): the job must not stay "running".
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._write(key, {"state": "failed", "error": error, "finished_at": self._now_ms()})
            if not isinstance(exc, Exception):
                raise
            log.exception("replay job %s failed", job_id)
            return True
        counts = Counter(r.outcome for r in results)
        self._write(
            key,
            {
                "state": "finished",
                "outcomes": orjson.dumps(dict(counts)).decode(),
                "done": len(results),
                "total": len(results),
                "finished_at": self._now_ms(),
            },
        )
        log.info("replay job %s finished total=%d %s", job_id, len(results), dict(counts))
        return True

    def get(self, job_id: str) -> dict[str, Any]:
        """The job as JSON-ready data (times ISO 8601 UTC); NotFoundError if unknown or expired.

        ``outcomes`` (counts by replay outcome) is None until the job finishes; ``error`` is
        None unless it failed.
        """
        job = self._read(self._key(job_id))
        if not job:
            raise NotFoundError(f"no replay job {job_id}")
        return {
            "id": job_id,
            "state": job["state"],
            "actor": job["actor"],
            "rate": float(job["rate"]),
            "filter": orjson.loads(job["filter"]),
            "done": int(job.get("done") or 0),
            "total": int(job.get("total") or 0),
            "outcomes": orjson.loads(job["outcomes"]) if job.get("outcomes") else None,
            "error": job.get("error") or None,
            "created_at": _iso(job.get("created_at")),
            "started_at": _iso(job.get("started_at")),
            "finished_at": _iso(job.get("finished_at")),
        }
