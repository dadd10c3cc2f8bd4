"""The native API: provincial records, Idempotency-Key semantics, delivery status."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from gateway.api.idempotency import fingerprint
from gateway.connectors.dvcqg import Service
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal

AGENCY = "000.00.01.H22"
DOSSIER_NO = "000.00.01.H22-250310-0007"
PROV = {"Authorization": "Bearer prov-key"}
OTHER = {"Authorization": "Bearer other-key"}
OPS = {"Authorization": "Bearer ops-key"}
Make = Callable[..., dict[str, Any]]


def headers(key: str, auth: dict[str, str] = PROV) -> dict[str, str]:
    return {**auth, "Idempotency-Key": key, "content-type": "application/json"}


def test_missing_api_key_is_401_problem(api: Any, make_provincial: Make) -> None:
    """No or a wrong bearer key answers a 401 problem with WWW-Authenticate."""
    for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
        answer = api.post(
            "/v1/dossiers", json=make_provincial(), headers={**auth, "Idempotency-Key": "k"}
        )
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "Bearer" in answer.headers["www-authenticate"]


def test_missing_idempotency_key_is_400(api: Any, make_provincial: Make) -> None:
    """A write without Idempotency-Key is a 400 problem and nothing is queued."""
    answer = api.post("/v1/dossiers", json=make_provincial(), headers=PROV)
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("idempotency-key-missing")


def test_post_dossier_maps_queues_and_delivers(
    api: Any, service: GatewayService, portal: FakePortal, make_provincial: Make
) -> None:
    """A provincial dossier is mapped, answered 202 with a delivery id, then delivered."""
    answer = api.post("/v1/dossiers", json=make_provincial(), headers=headers("k1"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["dossier_no"] == DOSSIER_NO
    assert body["duplicate"] is False
    assert answer.headers["location"] == f"/v1/deliveries/{body['delivery_id']}"
    service.flush(Service.DOSSIER, AGENCY)
    held = portal.dossier(DOSSIER_NO)
    assert held is not None
    assert held["NgayTiepNhan"] == "20250310091500"


def test_same_key_same_body_replays_first_response(
    api: Any, service: GatewayService, make_provincial: Make
) -> None:
    """A retry with the same key and body gets the stored response, marked as replayed."""
    body = orjson.dumps(make_provincial())
    first = api.post("/v1/dossiers", content=body, headers=headers("k2"))
    again = api.post("/v1/dossiers", content=body, headers=headers("k2"))
    assert again.status_code == first.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["location"] == first.headers["location"]
    assert service.client.ttl("gw:idem:prov:k2") > 23 * 3600


def test_same_key_different_body_is_422(api: Any, make_provincial: Make) -> None:
    """Reusing a key for another body is a 422 problem."""
    api.post("/v1/dossiers", json=make_provincial(), headers=headers("k3"))
    other = make_provincial(no=f"{AGENCY}-250310-0008")
    answer = api.post("/v1/dossiers", json=other, headers=headers("k3"))
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("idempotency-key-reused")


def test_key_is_scoped_per_client(api: Any, settings: Any, make_provincial: Make) -> None:
    """Two clients may use the same key string independently."""
    first = api.post("/v1/dossiers", json=make_provincial(), headers=headers("shared"))
    other = make_provincial(no="000.00.02.H22-250310-0001")
    second = api.post("/v1/dossiers", json=other, headers=headers("shared", OTHER))
    assert first.status_code == second.status_code == 202


def test_key_in_flight_is_409(api: Any, service: GatewayService, make_provincial: Make) -> None:
    """While the first request with a key is still processed, a second one gets 409."""
    body = orjson.dumps(make_provincial())
    marker = {"state": "in_flight", "fp": fingerprint("POST", "/v1/dossiers", body)}
    service.client.set("gw:idem:prov:k4", json.dumps(marker))
    answer = api.post("/v1/dossiers", content=body, headers=headers("k4"))
    assert answer.status_code == 409
    assert answer.json()["type"].endswith("idempotency-in-flight")


def test_failed_processing_releases_the_key(api: Any, make_provincial: Make) -> None:
    """A request refused as invalid stores nothing: the key may be used again."""
    bad = make_provincial()
    bad["status"] = "99"
    refused = api.post("/v1/dossiers", json=bad, headers=headers("k5"))
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert any(e["path"] == "status" for e in refused.json()["errors"])
    ok = api.post("/v1/dossiers", json=make_provincial(), headers=headers("k5"))
    assert ok.status_code == 202


def test_dossier_of_other_agency_is_403(api: Any, make_provincial: Make) -> None:
    """A dossier whose number names an agency outside the client's scope is refused."""
    other = make_provincial(no="000.00.02.H22-250310-0001")
    answer = api.post("/v1/dossiers", json=other, headers=headers("k6"))
    assert answer.status_code == 403
    assert answer.json()["rule"] == "agency_not_allowed"


def test_refused_transition_is_409_naming_rule(api: Any, make_provincial: Make) -> None:
    """Status 10 then 4 (same times) on one dossier answers 409 with rule status_transition."""
    returned = api.post("/v1/dossiers", json=make_provincial("returned"), headers=headers("a"))
    assert returned.status_code == 202
    back = {**make_provincial("returned"), "status": "4"}
    answer = api.post("/v1/dossiers", json=back, headers=headers("b"))
    assert answer.status_code == 409
    body = answer.json()
    assert body["rule"] == "status_transition"
    assert body["errors"][0]["path"] == "status"
    # The refusal is the processed outcome: the same request replays it.
    again = api.post("/v1/dossiers", json=back, headers=headers("b"))
    assert again.status_code == 409
    assert again.headers["idempotent-replayed"] == "true"


def test_older_state_is_409_state_out_of_order(api: Any, make_provincial: Make) -> None:
    """A state older (by its own times) than the stored one answers 409 state_out_of_order."""
    returned = api.post("/v1/dossiers", json=make_provincial("returned"), headers=headers("a"))
    assert returned.status_code == 202
    answer = api.post("/v1/dossiers", json=make_provincial("processing"), headers=headers("b"))
    assert answer.status_code == 409
    assert answer.json()["rule"] == "state_out_of_order"


def test_batch_lists_deliveries_and_refusals(
    api: Any, service: GatewayService, portal: FakePortal, make_provincial: Make
) -> None:
    """A batch answers 202 with accepted deliveries and refused items, by input index."""
    bad = make_provincial(no=f"{AGENCY}-250310-0009")
    del bad["summary"]
    items = [make_provincial(), bad, make_provincial(no="000.00.02.H22-250310-0001")]
    answer = api.post("/v1/dossiers:batch", json={"items": items}, headers=headers("b1"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert [d["index"] for d in body["deliveries"]] == [0]
    refused = {r["index"]: r for r in body["refused"]}
    assert refused[1]["errors"][0]["path"] == "items.1.summary"
    assert refused[2]["rule"] == "agency_not_allowed"
    service.flush(Service.DOSSIER, AGENCY)
    assert set(portal.dossiers) == {DOSSIER_NO}


def test_batch_body_must_have_items(api: Any) -> None:
    """A batch body without ``items`` is a 422 problem naming the path."""
    answer = api.post("/v1/dossiers:batch", json={"records": []}, headers=headers("b2"))
    assert answer.status_code == 422
    assert "items" in {e["path"] for e in answer.json()["errors"]}


def test_steps_single_and_batch(
    api: Any,
    service: GatewayService,
    portal: FakePortal,
    make_provincial: Make,
    provincial_steps: list[dict[str, Any]],
) -> None:
    """Steps are accepted one by one or in a batch and delivered after the dossier."""
    api.post("/v1/dossiers", json=make_provincial(), headers=headers("d"))
    service.flush(Service.DOSSIER, AGENCY)
    one = api.post("/v1/steps", json=provincial_steps[0], headers=headers("s1"))
    assert one.status_code == 202, one.text
    rest = api.post("/v1/steps:batch", json={"items": provincial_steps[1:3]}, headers=headers("s2"))
    assert rest.status_code == 202
    assert len(rest.json()["deliveries"]) == 2
    service.flush(Service.PROGRESS, AGENCY)
    assert len(portal.steps(DOSSIER_NO)) == 3


def test_delivery_status_queued_then_delivered(
    api: Any, service: GatewayService, make_provincial: Make
) -> None:
    """The status endpoint follows a record from queued to delivered."""
    accepted = api.post("/v1/dossiers", json=make_provincial(), headers=headers("st1")).json()
    url = f"/v1/deliveries/{accepted['delivery_id']}"
    queued = api.get(url, headers=PROV).json()
    assert queued["state"] == "queued"
    assert queued["delivered_at"] is None
    assert queued["subject"] == DOSSIER_NO
    assert queued["channel"] == Service.DOSSIER.value
    service.flush(Service.DOSSIER, AGENCY)
    delivered = api.get(url, headers=PROV).json()
    assert delivered["state"] == "delivered"
    assert delivered["delivered_at"] is not None


def test_delivery_status_retrying_after_portal_failure(
    api: Any, service: GatewayService, portal: FakePortal, make_provincial: Make
) -> None:
    """A transient portal failure shows as retrying, with the error and the next attempt."""
    accepted = api.post("/v1/dossiers", json=make_provincial(), headers=headers("st2")).json()
    portal.fail_next()
    service.flush(Service.DOSSIER, AGENCY)
    status = api.get(f"/v1/deliveries/{accepted['delivery_id']}", headers=PROV).json()
    assert status["state"] == "retrying"
    assert status["attempts"] == 1
    assert status["last_error"]
    assert status["next_attempt_at"] is not None


def test_delivery_status_only_for_its_client_or_operator(api: Any, make_provincial: Make) -> None:
    """Another client gets 404 for a delivery it did not push; an operator may read it."""
    accepted = api.post("/v1/dossiers", json=make_provincial(), headers=headers("st3")).json()
    url = f"/v1/deliveries/{accepted['delivery_id']}"
    assert api.get(url, headers=OTHER).status_code == 404
    assert api.get(url, headers=OPS).status_code == 200


def test_unknown_delivery_is_404_problem(api: Any) -> None:
    """An id the gateway never issued is a 404 problem; a malformed one a 422 problem."""
    missing = api.get("/v1/deliveries/999999999999", headers=PROV)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert api.get("/v1/deliveries/a:b", headers=PROV).status_code == 422
