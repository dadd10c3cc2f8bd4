"""Bulk-replay jobs: queued by start, run once by a worker, read back with progress and counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.connectors.dvcqg import Service
from gateway.errors import NotFoundError
from gateway.pipeline.deadletters import DeadLetterFilter, DeadLetters
from gateway.pipeline.outbox import DeliveryState
from gateway.pipeline.replayjobs import DEFAULT_JOB_TTL, ReplayJobs
from gateway.testing.records import AGENCY
from gateway.testing.records import national_dossier as dossier

Harness = Any
NUMBERS = [f"{AGENCY}-250101-{i:04d}" for i in (1, 2, 3)]


class Pacer:
    """The injected ``sleep``: records each wait, advances the fake clock, runs a hook."""

    def __init__(self, harness: Harness) -> None:
        self.clock = harness.clock
        self.waits: list[float] = []
        self.hook: Any = None

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)
        if self.hook is not None:
            self.hook()


@pytest.fixture
def dead(harness: Harness) -> list[str]:
    """Three dossiers the portal refused, now dead letters (the portal is fixed since)."""
    for no in NUMBERS:
        harness.portal.reject(no)
    outs = harness.accept(Service.DOSSIER, *(dossier(no) for no in NUMBERS))
    harness.drain()
    harness.portal.clear_faults()
    return [o.delivery_id for o in outs]


@pytest.fixture
def pacer(harness: Harness) -> Pacer:
    return Pacer(harness)


@pytest.fixture
def enqueued() -> list[str]:
    return []


@pytest.fixture
def jobs(harness: Harness, pacer: Pacer, enqueued: list[str]) -> ReplayJobs:
    """Jobs over the harness outbox: enqueue only records, time is the harness' fake clock."""
    return ReplayJobs(
        DeadLetters(harness.outbox),
        enqueue=enqueued.append,
        ttl=3600,
        clock=harness.clock,
        sleep=pacer,
        monotonic=harness.clock,
    )


def replays(harness: Harness) -> list[dict[bytes, bytes]]:
    entries = harness.outbox.client.xrange("t:audit")
    return [f for _, f in entries if f[b"action"] == b"replay"]


def test_start_stores_a_queued_job_and_enqueues_its_id(
    jobs: ReplayJobs, enqueued: list[str], harness: Harness
) -> None:
    """start stores the job as queued (filter, actor, rate, creation time) and enqueues its id."""
    flt = DeadLetterFilter(partition=AGENCY, channel=Service.DOSSIER.value)
    job_id = jobs.start(flt, actor="ops", rate=25)
    assert enqueued == [job_id]
    job = jobs.get(job_id)
    assert job["state"] == "queued"
    assert (job["actor"], job["rate"]) == ("ops", 25.0)
    assert job["filter"] == {"partition": AGENCY, "channel": Service.DOSSIER.value}
    assert (job["done"], job["total"], job["outcomes"], job["error"]) == (0, 0, None, None)
    assert job["created_at"] == datetime.fromtimestamp(harness.clock(), tz=UTC).isoformat()
    assert job["started_at"] is None
    assert job["finished_at"] is None


def test_run_replays_matching_letters_and_finishes_with_counts(
    jobs: ReplayJobs, dead: list[str], harness: Harness, pacer: Pacer
) -> None:
    """run replays every matching letter at the rate and finishes with counts by outcome."""
    job_id = jobs.start(DeadLetterFilter(partition=AGENCY), actor="ops", rate=2)
    started = harness.clock()
    assert jobs.run(job_id) is True
    job = jobs.get(job_id)
    assert job["state"] == "finished"
    assert job["outcomes"] == {"queued": 3}
    assert (job["done"], job["total"]) == (3, 3)
    assert pacer.waits == [0.5, 0.5]
    assert job["started_at"] == datetime.fromtimestamp(started, tz=UTC).isoformat()
    assert job["finished_at"] == datetime.fromtimestamp(started + 1.0, tz=UTC).isoformat()
    assert [f[b"actor"] for f in replays(harness)] == [b"ops"] * 3
    assert harness.drain() == 3
    assert set(harness.portal.dossiers) == set(NUMBERS)
    states = {harness.outbox.status(i).state for i in dead}
    assert states == {DeliveryState.DELIVERED}


def test_progress_is_written_while_the_job_runs(
    jobs: ReplayJobs, dead: list[str], pacer: Pacer
) -> None:
    """While it runs, the job shows state running and done/total after each replay."""
    job_id = jobs.start(None, actor="ops", rate=10)
    seen: list[tuple[str, int, int]] = []

    def look() -> None:
        job = jobs.get(job_id)
        seen.append((job["state"], job["done"], job["total"]))

    pacer.hook = look
    jobs.run(job_id)
    assert seen == [("running", 1, 3), ("running", 2, 3)]


def test_second_run_replays_nothing(jobs: ReplayJobs, dead: list[str], harness: Harness) -> None:
    """Running a finished job again (a redelivered message) does nothing."""
    job_id = jobs.start(None, actor="ops", rate=100)
    jobs.run(job_id)
    before = jobs.get(job_id)
    harness.clock.advance(60)
    assert jobs.run(job_id) is False
    assert jobs.get(job_id) == before
    assert len(replays(harness)) == 3


def test_run_while_running_is_skipped(
    jobs: ReplayJobs, dead: list[str], harness: Harness, pacer: Pacer
) -> None:
    """A second worker taking the same job while it runs leaves it to the first."""
    job_id = jobs.start(None, actor="ops", rate=100)
    again: list[bool] = []
    pacer.hook = lambda: again.append(jobs.run(job_id))
    jobs.run(job_id)
    assert again == [False, False]
    assert jobs.get(job_id)["outcomes"] == {"queued": 3}
    assert len(replays(harness)) == 3


def test_unknown_job_is_not_found(jobs: ReplayJobs) -> None:
    """get of an unknown (or expired) id raises NotFoundError; run of it does nothing."""
    with pytest.raises(NotFoundError, match="no replay job nope"):
        jobs.get("nope")
    assert jobs.run("nope") is False


def test_failure_is_recorded(
    jobs: ReplayJobs, dead: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error during the replay marks the job failed with the message, and it is not rerun."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("outbox unreachable")

    monkeypatch.setattr(jobs.deadletters, "replay_many", broken)
    job_id = jobs.start(None, actor="ops", rate=100)
    assert jobs.run(job_id) is True
    job = jobs.get(job_id)
    assert job["state"] == "failed"
    assert job["error"] == "RuntimeError: outbox unreachable"
    assert job["finished_at"] is not None
    assert job["outcomes"] is None
    assert jobs.run(job_id) is False


def test_interrupt_marks_failed_and_propagates(
    jobs: ReplayJobs, dead: list[str], pacer: Pacer, harness: Harness
) -> None:
    """An interrupt (a time limit, a shutdown) fails the job, keeps its progress and goes on up."""

    class Interrupted(BaseException):
        pass

    def interrupt() -> None:
        raise Interrupted

    pacer.hook = interrupt
    job_id = jobs.start(None, actor="ops", rate=100)
    with pytest.raises(Interrupted):
        jobs.run(job_id)
    job = jobs.get(job_id)
    assert (job["state"], job["error"]) == ("failed", "Interrupted")
    assert (job["done"], job["total"]) == (1, 3)
    assert len(replays(harness)) == 1


def test_filter_selects_what_is_replayed(jobs: ReplayJobs, dead: list[str]) -> None:
    """A filter matching nothing finishes at once with no replays."""
    job_id = jobs.start(DeadLetterFilter(until=datetime(2000, 1, 1, tzinfo=UTC)), actor="o", rate=1)
    jobs.run(job_id)
    job = jobs.get(job_id)
    assert (job["state"], job["outcomes"], job["total"]) == ("finished", {}, 0)
    assert job["filter"] == {"until": "2000-01-01T00:00:00+00:00"}


def test_jobs_expire_after_the_ttl(jobs: ReplayJobs, dead: list[str], harness: Harness) -> None:
    """The job's key expires ttl seconds after its last change; the default ttl is a week."""
    job_id = jobs.start(None, actor="ops", rate=100)
    key = f"t:job:{job_id}"
    assert 0 < harness.outbox.client.pttl(key) <= 3_600_000
    jobs.run(job_id)
    assert 0 < harness.outbox.client.pttl(key) <= 3_600_000
    assert DEFAULT_JOB_TTL == 7 * 24 * 3600


def test_rate_must_be_positive(jobs: ReplayJobs, enqueued: list[str]) -> None:
    """A job at rate zero could never finish: start refuses it and enqueues nothing."""
    with pytest.raises(ValueError, match="rate"):
        jobs.start(None, actor="ops", rate=0)
    assert enqueued == []
