"""Delivery: exactly one effect, newest state wins, steps in time order, lifecycle enforced."""

from __future__ import annotations

from typing import Any

from gateway.connectors.dvcqg import Service
from gateway.pipeline.outbox import DeliveryState
from gateway.testing.records import AGENCY
from gateway.testing.records import national_dossier as dossier
from gateway.testing.records import national_step as step

Harness = Any


def test_accepted_dossier_is_delivered_and_marked(harness: Harness) -> None:
    """An accepted dossier reaches the portal on flush and its delivery reads delivered."""
    [out] = harness.accept(Service.DOSSIER, dossier())
    assert out.accepted
    assert not out.duplicate
    assert out.delivery_id
    assert harness.outbox.status(out.delivery_id).state is DeliveryState.QUEUED
    assert harness.drain() == 1
    assert harness.portal.dossier("000.00.01.H22-250101-0001") is not None
    status = harness.outbox.status(out.delivery_id)
    assert status.state is DeliveryState.DELIVERED
    assert status.delivered_at is not None


def test_duplicate_push_is_counted_once(harness: Harness) -> None:
    """The same record pushed twice gets the same delivery id and is sent once."""
    [first] = harness.accept(Service.DOSSIER, dossier())
    harness.drain()
    [again] = harness.accept(Service.DOSSIER, dossier())
    assert again.duplicate
    assert again.delivery_id == first.delivery_id
    assert harness.drain() == 0
    sends = [c for c in harness.portal.calls if c.service == "DongBoHoSoMC"]
    assert len(sends) == 1
    assert harness.outbox.metrics()["accepted|dvcqg.DongBoHoSoMC"] == 1


def test_newer_state_supersedes_unsent_older(harness: Harness) -> None:
    """Two states accepted before a flush: only the newest is sent, the older is superseded."""
    [old] = harness.accept(Service.DOSSIER, dossier(status="2"))
    [new] = harness.accept(Service.DOSSIER, dossier(status="4"))
    harness.drain()
    assert harness.portal.dossier("000.00.01.H22-250101-0001")["TrangThaiHoSo"] == "4"
    assert harness.outbox.status(old.delivery_id or "").state is DeliveryState.SUPERSEDED
    assert harness.outbox.status(new.delivery_id or "").state is DeliveryState.DELIVERED


def test_second_state_is_sent_as_update(harness: Harness) -> None:
    """After a dossier was created, its next state goes with isUpdating True."""
    harness.accept(Service.DOSSIER, dossier(status="2"))
    harness.drain()
    harness.accept(Service.DOSSIER, dossier(status="4"))
    harness.drain()
    flags = [c.is_updating for c in harness.portal.calls if c.service == "DongBoHoSoMC"]
    assert flags == ["False", "True"]
    assert harness.portal.dossier("000.00.01.H22-250101-0001")["TrangThaiHoSo"] == "4"


def test_forbidden_transition_is_refused_at_intake(harness: Harness) -> None:
    """A "4" after "10" is refused with the rule, and nothing is queued for it."""
    for s in ("2", "4", "9", "10"):
        harness.accept(Service.DOSSIER, dossier(status=s))
    [stale] = harness.accept(Service.DOSSIER, dossier(status="4", GhiChu="reopened"))
    assert not stale.accepted
    assert stale.refused_rule == "status_transition"
    assert "terminal" in (stale.refused_message or "")
    harness.drain()
    assert harness.portal.dossier("000.00.01.H22-250101-0001")["TrangThaiHoSo"] == "10"


def test_steps_wait_for_their_dossier_then_go_in_time_order(harness: Harness) -> None:
    """Steps pushed out of order in one request reach the portal sorted, after the dossier."""
    harness.accept(Service.DOSSIER, dossier())
    outs = harness.accept(
        Service.PROGRESS, step("20250103090000", "4"), step("20250102090000", "4", content="Nhận")
    )
    assert all(o.accepted for o in outs)
    assert harness.engine.flush(Service.PROGRESS, AGENCY) == 0  # dossier not at the portal yet
    harness.drain()
    assert harness.engine.flush(Service.PROGRESS, AGENCY) == 2
    times = [s["ThoiDiemXuLy"] for s in harness.portal.steps("000.00.01.H22-250101-0001")]
    assert times == ["20250102090000", "20250103090000"]


def test_step_older_than_an_accepted_one_is_refused(harness: Harness) -> None:
    """A step earlier than one already accepted for the dossier cannot keep time order."""
    harness.accept(Service.PROGRESS, step("20250103090000"))
    [late] = harness.accept(Service.PROGRESS, step("20250102090000", content="Muộn"))
    assert late.refused_rule == "step_out_of_order"


def test_duplicate_step_is_not_appended_twice(harness: Harness) -> None:
    """The same step pushed twice is one delivery and one entry at the portal."""
    harness.accept(Service.DOSSIER, dossier())
    harness.drain()
    [a] = harness.accept(Service.PROGRESS, step("20250102090000"))
    [b] = harness.accept(Service.PROGRESS, step("20250102090000"))
    assert b.duplicate
    assert b.delivery_id == a.delivery_id
    harness.engine.flush(Service.PROGRESS, AGENCY)
    assert len(harness.portal.steps("000.00.01.H22-250101-0001")) == 1
