"""Failures: retries with backoff, dead letters, ambiguous sends and dead workers."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.connectors.dvcqg import Service
from gateway.pipeline.outbox import DeliveryState
from gateway.testing.records import AGENCY
from gateway.testing.records import national_dossier as dossier
from gateway.testing.records import national_step as step

Harness = Any


def test_503_is_retried_after_backoff_then_delivered(harness: Harness) -> None:
    """A 503 reschedules with the backoff, records the error, and the retry delivers."""
    harness.portal.fail_next(1, status=503)
    [out] = harness.accept(Service.DOSSIER, dossier())
    assert harness.drain() == 0
    status = harness.outbox.status(out.delivery_id or "")
    assert status.state is DeliveryState.RETRYING
    assert status.attempts == 1
    assert status.next_attempt_at is not None
    assert "503" in (status.last_error or "")
    assert harness.triggers[-1] == (Service.DOSSIER, AGENCY, 1000)  # rng → ceiling = initial
    assert harness.drain() == 0  # not due yet
    harness.clock.advance(1.0)
    assert harness.drain() == 1
    assert harness.outbox.status(out.delivery_id or "").state is DeliveryState.DELIVERED


def test_retry_after_is_honoured(harness: Harness) -> None:
    """A 429 with Retry-After waits at least that long."""
    harness.portal.throttle_next(1, retry_after="30")
    harness.accept(Service.DOSSIER, dossier())
    harness.drain()
    assert harness.triggers[-1][2] == 30_000
    harness.clock.advance(29)
    assert harness.drain() == 0
    harness.clock.advance(1)
    assert harness.drain() == 1


def test_permanent_rejection_goes_to_dead_letters_at_once(harness: Harness) -> None:
    """A record the portal calls invalid is dead-lettered with the peer and the reason."""
    harness.portal.reject("000.00.01.H22-250101-0001")
    [out] = harness.accept(Service.DOSSIER, dossier())
    harness.drain()
    assert harness.outbox.status(out.delivery_id or "").state is DeliveryState.DEAD
    raw = harness.outbox.client.hgetall(f"t:dl:{out.delivery_id}")
    assert raw[b"peer"] == b"dvcqg"
    assert raw[b"reason"].startswith(b"peer_code:")


def test_one_bad_record_does_not_sink_its_batch(harness: Harness) -> None:
    """A rejected batch is split: the good dossiers are delivered, the bad one dead-lettered."""
    harness.portal.reject("000.00.01.H22-250101-0002")
    outs = harness.accept(
        Service.DOSSIER,
        dossier("000.00.01.H22-250101-0001"),
        dossier("000.00.01.H22-250101-0002"),
        dossier("000.00.01.H22-250101-0003"),
    )
    harness.drain()
    states = [harness.outbox.status(o.delivery_id or "").state for o in outs]
    assert states == [DeliveryState.DELIVERED, DeliveryState.DEAD, DeliveryState.DELIVERED]


def test_budget_spent_dead_letters_with_every_attempt(harness: Harness) -> None:
    """After max_attempts transient failures the record is dead with each attempt's time."""
    harness.portal.fail_next(10, status=503)
    [out] = harness.accept(Service.DOSSIER, dossier())
    for _ in range(5):
        harness.drain()
        harness.clock.advance(120)
    assert harness.outbox.status(out.delivery_id or "").state is DeliveryState.DEAD
    log = harness.outbox.attempt_log(out.delivery_id or "")
    assert len(log) == 5
    assert all("503" in err for _, err in log)
    raw = harness.outbox.client.hgetall(f"t:dl:{out.delivery_id}")
    assert raw[b"reason"] == b"retry_budget_exhausted"


def test_ambiguous_step_send_is_reconciled_not_repeated(harness: Harness) -> None:
    """A dropped connection after the portal stored the steps: the retry looks up, sends none."""
    harness.accept(Service.DOSSIER, dossier())
    harness.drain()
    harness.accept(Service.PROGRESS, step("20250102090000"), step("20250103090000"))
    harness.portal.drop_next(1)
    assert harness.engine.flush(Service.PROGRESS, AGENCY) == 0
    harness.clock.advance(60)
    assert harness.engine.flush(Service.PROGRESS, AGENCY) == 2
    assert len(harness.portal.steps("000.00.01.H22-250101-0001")) == 2
    lookups = [c for c in harness.portal.calls if c.service == "TraCuuHoSo"]
    assert len(lookups) == 1


def test_worker_killed_mid_send_is_recovered_without_duplicates(harness: Harness) -> None:
    """A claim whose worker died (sent, never settled) is swept after the lease and reconciled."""
    harness.accept(Service.DOSSIER, dossier())
    harness.drain()
    harness.accept(Service.PROGRESS, step("20250102090000"))
    claims = harness.outbox.claim(Service.PROGRESS, AGENCY, 10, 30_000, "dead-worker")
    body = harness.outbox.bodies(list(claims[0].ids))
    harness.engine.connector.push("CapNhatTienDoHoSoMC", AGENCY, body)  # …then the worker dies
    assert harness.engine.flush(Service.PROGRESS, AGENCY) == 0  # still leased
    harness.clock.advance(31)
    assert (Service.PROGRESS, AGENCY) in harness.engine.sweep()
    assert harness.engine.flush(Service.PROGRESS, AGENCY) == 1
    assert len(harness.portal.steps("000.00.01.H22-250101-0001")) == 1


def test_newer_state_accepted_during_a_send_is_sent_next(harness: Harness) -> None:
    """A state accepted while an older one is on the wire is delivered after it, not lost."""
    [a] = harness.accept(Service.DOSSIER, dossier(status="2"))
    claims = harness.outbox.claim(Service.DOSSIER, AGENCY, 10, 30_000, "w1")
    [b] = harness.accept(Service.DOSSIER, dossier(status="4"))
    harness.engine.connector.push(
        "DongBoHoSoMC", AGENCY, harness.outbox.bodies(list(claims[0].ids))
    )
    harness.outbox.complete(Service.DOSSIER, AGENCY, "w1", [(c.subject, c.ids) for c in claims])
    assert harness.outbox.status(a.delivery_id or "").state is DeliveryState.DELIVERED
    assert harness.drain() == 1
    assert harness.portal.dossier("000.00.01.H22-250101-0001")["TrangThaiHoSo"] == "4"
    assert harness.outbox.status(b.delivery_id or "").state is DeliveryState.DELIVERED


def test_wrong_portal_credentials_back_off_instead_of_burying_the_backlog(
    harness: Harness,
) -> None:
    """A refused login retries every dossier later (none dead-lettered); fixed, they go out."""
    from gateway.connectors.dvcqg import DvcqgConnector
    from gateway.testing.stub import StubPeer

    if isinstance(harness.portal, StubPeer):
        pytest.skip("logins are DVCQG's: the stub peer has none")

    good = harness.engine.connector
    wrong = DvcqgConnector(
        harness.portal.connector_config("http://portal.test", password="not-the-password"),
        transport=harness.portal.transport(),
    )
    harness.engine.connector = wrong
    outs = harness.accept(
        Service.DOSSIER,
        dossier("000.00.01.H22-250101-0001"),
        dossier("000.00.01.H22-250101-0002"),
        dossier("000.00.01.H22-250101-0003"),
    )
    assert harness.drain() == 0
    states = {harness.outbox.status(o.delivery_id or "").state for o in outs}
    assert states == {DeliveryState.RETRYING}
    assert harness.outbox.dead_letter_count() == 0
    assert "auth_refused" in (harness.outbox.status(outs[0].delivery_id or "").last_error or "")
    harness.engine.connector = good  # an operator fixed the configuration
    harness.clock.advance(60)
    assert harness.drain() == 3
    wrong.close()
