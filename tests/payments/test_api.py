"""The payment endpoints: Idempotency-Key required, problems for bad input, callbacks by HTTP."""

from __future__ import annotations

from typing import Any

from gateway.testing.asgi import asgi_call as call
from gateway.testing.records import AGENCY

from .conftest import Rig, app_of, request

D1 = f"{AGENCY}-250101-0001"
AUTH = {"Authorization": "Bearer k1"}


def _body(**changes: Any) -> dict[str, Any]:
    return {**request(D1).model_dump(mode="json", by_alias=True), **changes}


def test_create_needs_an_idempotency_key_and_replays_the_first_answer(rig: Rig) -> None:
    """No key: 400. With one: 201 with the pay URL; again: the same answer, replayed."""
    app = app_of(rig)
    assert call(app, "POST", "/v1/payments", headers=AUTH, json=_body()).status_code == 400
    headers = {**AUTH, "Idempotency-Key": "abc"}
    first = call(app, "POST", "/v1/payments", headers=headers, json=_body())
    assert first.status_code == 201, first.text
    assert first.json()["pay_url"].startswith("http://paygov.test/pay/")
    assert first.json()["amount"] == 150_000
    again = call(app, "POST", "/v1/payments", headers=headers, json=_body())
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert rig.paygov.calls["INIT"] == 1
    shown = call(app, "GET", f"/v1/payments/{first.json()['id']}", headers=AUTH)
    assert shown.json()["status"] == "pending"


def test_bad_input_is_a_problem_naming_the_field(rig: Rig) -> None:
    """A float amount: 422 problem+json naming fees.0.SoTien; an unknown client: 401."""
    app = app_of(rig)
    body = _body()
    body["fees"][0]["SoTien"] = 100000.5
    answer = call(app, "POST", "/v1/payments", headers={**AUTH, "Idempotency-Key": "f"}, json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert any(e["path"] == "fees.0.SoTien" for e in answer.json()["errors"])
    bad_auth = call(app, "POST", "/v1/payments", headers={"Idempotency-Key": "g"}, json=_body())
    assert bad_auth.status_code == 401


def test_a_provider_timeout_is_503_and_the_retry_creates_nothing_twice(rig: Rig) -> None:
    """INIT times out: 503 with Retry-After; the same key again: 201, one order at PayGov."""
    from gateway.sandbox.faults import Faults

    app = app_of(rig)
    headers = {**AUTH, "Idempotency-Key": "t"}
    rig.paygov.set_faults(Faults(timeout_rate=1.0))
    first = call(app, "POST", "/v1/payments", headers=headers, json=_body())
    assert first.status_code == 503
    assert "Retry-After" in first.headers
    rig.paygov.set_faults(Faults())
    second = call(app, "POST", "/v1/payments", headers=headers, json=_body())
    assert second.status_code == 201
    assert rig.paygov.calls["INIT"] == 1
    assert len(rig.paygov.book.orders) == 1


def test_callbacks_over_http_and_the_receipt(rig: Rig) -> None:
    """Pay on the sandbox page; the confirm reaches the gateway by HTTP; the bill is a PDF."""
    app = app_of(rig)
    made = call(app, "POST", "/v1/payments", headers={**AUTH, "Idempotency-Key": "c"}, json=_body())
    ref = made.json()["reference"]
    page = rig.paygov.handle("POST", f"/pay/{ref}", {}, b"action=pay")
    assert page.status == 200
    assert rig.paygov.callbacks.ledger() == [{"reference": ref, "fate": "sent", "answer": "00"}]
    pid = made.json()["id"]
    assert call(app, "GET", f"/v1/payments/{pid}", headers=AUTH).json()["status"] == "paid"
    bill = call(app, "GET", f"/v1/payments/{pid}/bill", headers=AUTH)
    assert bill.status_code == 200
    assert bill.content.startswith(b"%PDF-")
    assert call(app, "POST", "/payments/paygov/confirm", content=b"[1]").status_code == 400


def test_payments_not_configured_answer_404(rig: Rig) -> None:
    """An app without [payments]: the endpoints say so."""
    app = app_of(rig)
    app.state.payments = None
    answer = call(app, "GET", "/payments/vnpay/ipn")
    assert answer.status_code == 404
    assert "payments are not configured" in answer.json()["detail"]
