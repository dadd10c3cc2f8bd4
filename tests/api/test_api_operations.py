"""Operations: dead letters (list, show, replay, discard) and the audit, operators only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.connectors.dvcqg import Service
from gateway.pipeline.broker import OPERATIONS_QUEUE, delivery_queue
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal

QUEUE_NAME = delivery_queue("dvcqg")

AGENCY = "000.00.01.H22"
DOSSIER_NO = "000.00.01.H22-250310-0007"
PROV = {"Authorization": "Bearer prov-key"}
OPS = {"Authorization": "Bearer ops-key"}
Make = Callable[..., dict[str, Any]]


@pytest.fixture(autouse=True)
def _no_pacing_waits(service: GatewayService) -> None:
    """Bulk replays here never wait for their rate limit (it is tested in the pipeline)."""
    service.replayjobs.sleep = lambda seconds: None


@pytest.fixture
def dead(api: Any, service: GatewayService, portal: FakePortal, make_provincial: Make) -> list[str]:
    """Two dossiers the portal refused as invalid, now dead letters; their delivery ids."""
    ids = []
    for n, no in enumerate((DOSSIER_NO, f"{AGENCY}-250310-0008")):
        portal.reject(no)
        answer = api.post(
            "/v1/dossiers",
            json=make_provincial(no=no),
            headers={**PROV, "Idempotency-Key": f"dl-{n}"},
        )
        ids.append(answer.json()["delivery_id"])
    service.flush(Service.DOSSIER, AGENCY)
    portal.clear_faults()
    return ids


def test_non_operator_is_403(api: Any) -> None:
    """A client without the operator flag is refused every operation with a 403 problem."""
    for method, url in (
        ("GET", "/v1/dead-letters"),
        ("GET", "/v1/dead-letters/1"),
        ("POST", "/v1/dead-letters/1/replay"),
        ("POST", "/v1/dead-letters:replay"),
        ("GET", "/v1/dead-letters:replay/1"),
        ("GET", "/v1/audit"),
    ):
        answer = api.request(method, url, headers=PROV)
        assert answer.status_code == 403, url
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_list_with_filters_and_pages(api: Any, dead: list[str]) -> None:
    """Dead letters are listed newest first, filtered, and paginated with next_offset."""
    everything = api.get("/v1/dead-letters", headers=OPS).json()
    assert {d["id"] for d in everything["items"]} == set(dead)
    assert everything["next_offset"] is None
    first = api.get("/v1/dead-letters?limit=1", headers=OPS).json()
    assert len(first["items"]) == 1
    assert first["next_offset"] == 1
    second = api.get("/v1/dead-letters?limit=1&offset=1", headers=OPS).json()
    assert {first["items"][0]["id"], second["items"][0]["id"]} == set(dead)
    query = f"partition={AGENCY}&channel=dvcqg.DongBoHoSoMC&peer=dvcqg"
    assert len(api.get(f"/v1/dead-letters?{query}", headers=OPS).json()["items"]) == 2
    assert api.get("/v1/dead-letters?partition=000.00.09.H22", headers=OPS).json()["items"] == []
    assert api.get("/v1/dead-letters?until=2000-01-01T00:00:00Z", headers=OPS).json()["items"] == []
    reason = everything["items"][0]["reason"]
    assert len(api.get(f"/v1/dead-letters?reason={reason}", headers=OPS).json()["items"]) >= 1


def test_bad_filter_is_422_problem(api: Any) -> None:
    """An unparseable filter (a bad date, a malformed channel) is a 422 problem with paths."""
    answer = api.get("/v1/dead-letters?since=yesterday&channel=Nope", headers=OPS)
    assert answer.status_code == 422
    paths = {e["path"] for e in answer.json()["errors"]}
    assert paths == {"query.since", "query.channel"}


def test_show_one_dead_letter(api: Any, dead: list[str]) -> None:
    """One dead letter shows its record, peer and reason; an unknown id is 404."""
    letter = api.get(f"/v1/dead-letters/{dead[0]}", headers=OPS).json()
    assert letter["subject"] == DOSSIER_NO
    assert letter["record"]["MaHoSo"] == DOSSIER_NO
    assert api.get("/v1/dead-letters/424242", headers=OPS).status_code == 404


def test_replay_delivers_once_second_reports_already(
    api: Any, service: GatewayService, portal: FakePortal, dead: list[str]
) -> None:
    """Replay queues the record again and it is delivered; replaying again says already."""
    first = api.post(f"/v1/dead-letters/{dead[0]}/replay", headers=OPS).json()
    assert first["outcome"] == "queued"
    service.flush(Service.DOSSIER, AGENCY)
    assert DOSSIER_NO in portal.dossiers
    again = api.post(f"/v1/dead-letters/{dead[0]}/replay", headers=OPS).json()
    assert again["outcome"] == "already"
    service.flush(Service.DOSSIER, AGENCY)
    writes = [
        c
        for c in portal.calls
        if c.service == "DongBoHoSoMC" and c.error_code == "0" and DOSSIER_NO in c.dossiers
    ]
    assert len(writes) == 1


def successful_writes(portal: FakePortal, no: str) -> int:
    """How many DongBoHoSoMC calls the portal accepted carrying dossier ``no``."""
    return sum(
        1
        for c in portal.calls
        if c.service == "DongBoHoSoMC" and c.error_code == "0" and no in c.dossiers
    )


def test_bulk_replay_starts_a_job(api: Any, service: GatewayService, dead: list[str]) -> None:
    """A bulk replay answers 202 at once with the job's id and where to poll it; nothing is
    replayed until a worker runs the job."""
    answer = api.post("/v1/dead-letters:replay", json={"partition": AGENCY, "rate": 5}, headers=OPS)
    assert answer.status_code == 202
    body = answer.json()
    assert body["status_url"] == f"/v1/dead-letters:replay/{body['job_id']}"
    assert answer.headers["location"] == body["status_url"]
    job = api.get(body["status_url"], headers=OPS).json()
    assert job["state"] == "queued"
    assert (job["actor"], job["rate"], job["done"], job["outcomes"]) == ("ops", 5.0, 0, None)
    assert job["filter"] == {"partition": AGENCY}
    assert job["created_at"] is not None
    assert service.deadletters.audit() == []


def test_bulk_replay_job_counts_by_outcome(
    api: Any, service: GatewayService, portal: FakePortal, dead: list[str]
) -> None:
    """A finished bulk replay job shows its counts by outcome; each letter is replayed once."""
    api.post(f"/v1/dead-letters/{dead[0]}/replay", headers=OPS)
    answer = api.post(
        "/v1/dead-letters:replay", json={"partition": AGENCY, "rate": 1000}, headers=OPS
    )
    job_id = answer.json()["job_id"]
    assert service.replayjobs.run(job_id) is True
    assert service.replayjobs.run(job_id) is False
    job = api.get(f"/v1/dead-letters:replay/{job_id}", headers=OPS).json()
    assert job["state"] == "finished"
    assert (job["done"], job["total"]) == (1, 1)
    assert job["outcomes"] == {"queued": 1}
    assert job["started_at"] is not None
    assert job["finished_at"] is not None
    assert [a["action"] for a in service.deadletters.audit()] == ["replay", "replay"]
    service.flush(Service.DOSSIER, AGENCY)
    assert successful_writes(portal, DOSSIER_NO) == 1
    assert successful_writes(portal, f"{AGENCY}-250310-0008") == 1


def test_bulk_replay_job_runs_on_workers(
    api: Any, service: GatewayService, portal: FakePortal, dead: list[str]
) -> None:
    """Worker threads run the job from the operations queue, then deliver what it replayed."""
    workers = service.start_workers()
    answer = api.post("/v1/dead-letters:replay", json={"rate": 1000}, headers=OPS)
    service.broker.join(OPERATIONS_QUEUE)
    workers.join()
    service.broker.join(QUEUE_NAME)
    workers.join()
    job = api.get(answer.headers["location"], headers=OPS).json()
    assert (job["state"], job["outcomes"]) == ("finished", {"queued": 2})
    assert successful_writes(portal, DOSSIER_NO) == 1
    assert successful_writes(portal, f"{AGENCY}-250310-0008") == 1


def test_unknown_replay_job_is_404_problem(api: Any) -> None:
    """Polling a job that does not exist (or has expired) is a 404 problem."""
    answer = api.get("/v1/dead-letters:replay/0123abcd", headers=OPS)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "0123abcd" in answer.json()["detail"]


def test_discard_needs_reason_and_is_audited(api: Any, dead: list[str]) -> None:
    """Discard requires a reason; the action and the operator appear in the audit."""
    missing = api.post(f"/v1/dead-letters/{dead[1]}/discard", json={}, headers=OPS)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["path"] == "body.reason"
    done = api.post(
        f"/v1/dead-letters/{dead[1]}/discard",
        json={"reason": "duplicate of a paper dossier"},
        headers=OPS,
    )
    assert done.json()["outcome"] == "discarded"
    api.post(f"/v1/dead-letters/{dead[0]}/replay", headers=OPS)
    audit = api.get("/v1/audit", headers=OPS).json()["items"]
    text = repr(audit)
    assert "ops" in text
    assert "duplicate of a paper dossier" in text
    assert len(audit) == 2


@pytest.mark.parametrize(
    "path", ["/v1/dead-letters:replay", "/v1/dead-letters/000000000001/discard"]
)
@pytest.mark.parametrize("body", [b"{not json", b"[" * 5000 + b"]" * 5000, b'{"reason": 1}'])
def test_operator_body_is_not_parsed_before_authentication(
    api: Any, path: str, body: bytes
) -> None:
    """Without credentials the answer is 401, whatever the body: nothing is parsed first."""
    answer = api.request("POST", path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 401


def test_metrics_carry_no_data_from_a_peer_code(
    api: Any, service: GatewayService, portal: FakePortal, make_provincial: Make
) -> None:
    """A portal error code quoting an ID becomes "other" in dead letters and metric labels."""
    portal.reject(DOSSIER_NO, code="CCCD=079203001234")
    api.post(
        "/v1/dossiers",
        json=make_provincial(no=DOSSIER_NO),
        headers={**PROV, "Idempotency-Key": "pii-code"},
    )
    service.flush(Service.DOSSIER, AGENCY)
    metrics = api.get("/metrics").text
    assert 'reason="peer_code:other"' in metrics
    assert "079203001234" not in metrics
    listed = api.get("/v1/dead-letters", headers=OPS).text
    assert "079203001234" not in listed
