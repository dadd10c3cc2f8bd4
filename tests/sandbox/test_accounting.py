"""The accounting checker on hand-made ledgers: each count can go up, and a clean run is zero."""

from __future__ import annotations

from typing import Any

from gateway.sandbox import AcceptedDossier, DeadItem, check_portal, check_webhooks


def state(no: str, status: str, summary: str = "x") -> dict[str, Any]:
    return {"MaHoSo": no, "TrangThaiHoSo": status, "TrichYeuHoSo": summary}


def step(no: str, at: str, who: str = "A") -> dict[str, Any]:
    return {
        "MaHoSo": no,
        "ThoiDiemXuLy": at,
        "TrangThai": "4",
        "NoiDungXuLy": "c",
        "NguoiXuLy": who,
    }


def ledger(**dossiers: tuple[dict[str, Any] | None, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"dossiers": {no: {"state": s, "steps": st} for no, (s, st) in dossiers.items()}}


ACCEPTED = [
    AcceptedDossier("D1", [state("D1", "2"), state("D1", "4")], [step("D1", "1"), step("D1", "2")]),
    AcceptedDossier("D2", [state("D2", "2")], [step("D2", "1")]),
]


def test_a_correct_portal_counts_zero() -> None:
    """Everything there once, newest states: all zero, every record delivered."""
    report = check_portal(
        ACCEPTED,
        ledger(
            D1=(state("D1", "4"), [step("D1", "1"), step("D1", "2")]),
            D2=(state("D2", "2"), [step("D2", "1")]),
        ),
    )
    assert report.ok, str(report)
    assert report.delivered == 5


def test_lost_duplicated_stale_and_unexpected_are_each_counted() -> None:
    """A missing dossier, an older state, a step twice and a foreign step."""
    report = check_portal(
        ACCEPTED,
        ledger(
            D1=(state("D1", "2"), [step("D1", "1"), step("D1", "1"), step("D1", "2", who="B")]),
        ),
    )
    assert report.stale == 1  # D1 holds status 2, newest is 4
    assert report.lost == 3  # D1's second step (who=A), D2's state and its step
    assert report.duplicated == 1
    assert report.unexpected == 1  # the step by B was never accepted
    assert not report.ok


def test_steps_differing_only_in_handler_are_different_steps() -> None:
    """Identity includes NguoiXuLy: the portal's echo may lack it, the checker does not."""
    accepted = [
        AcceptedDossier("D3", [state("D3", "2")], [step("D3", "1", "A"), step("D3", "1", "B")])
    ]
    report = check_portal(accepted, ledger(D3=(state("D3", "2"), [step("D3", "1", "A")])))
    assert report.lost == 1


def test_dead_letters_count_once_and_are_not_lost() -> None:
    """A dead-lettered newest state or step is dead-lettered, not lost."""
    report = check_portal(
        ACCEPTED,
        ledger(D1=(state("D1", "2"), [step("D1", "1"), step("D1", "2")])),
        [
            DeadItem("state", "D1", state("D1", "4")),
            DeadItem("state", "D2", state("D2", "2")),
            DeadItem("step", "D2", step("D2", "1")),
        ],
    )
    assert (report.lost, report.stale, report.dead_lettered) == (0, 0, 3)
    assert not report.ok


def test_webhooks_lost_and_duplicated_under_a_new_id() -> None:
    """A redelivery of one id is fine; the same event under two ids is a duplicate."""
    events = [
        {"id": "m1", "type": "delivery.delivered", "data": {"delivery_id": "a"}},
        {"id": "m1", "type": "delivery.delivered", "data": {"delivery_id": "a"}},
        {"id": "m2", "type": "delivery.delivered", "data": {"delivery_id": "b"}},
        {"id": "m3", "type": "delivery.delivered", "data": {"delivery_id": "b"}},
    ]
    expected = [("delivery.delivered", x) for x in ("a", "b", "c")]
    report = check_webhooks(expected, {"events": events})
    assert (report.lost, report.duplicated, report.redelivered) == (1, 1, 1)
    clean = check_webhooks(expected[:1], {"events": events[:2]})
    assert clean.ok
    assert clean.redelivered == 1
    gone = check_webhooks(expected[2:], {"events": []}, dead_lettered=expected[2:])
    assert gone.ok
