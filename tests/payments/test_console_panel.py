"""The console's panel of payments awaiting confirmation (count, oldest, by provider)."""

from __future__ import annotations

from gateway.testing.records import AGENCY
from tests.api.conftest import ApiClient
from tests.api.test_console import Browser

from .conftest import VNPAY_AGENCY, Rig, app_of, request


def test_awaiting_payments_by_provider_and_the_oldest(rig: Rig) -> None:
    """Three created, none confirmed: 3 awaiting (2 PayGov, 1 VNPay), the oldest's time;
    one confirmed by its callback: 2."""
    app = app_of(rig)
    first = rig.payments.create("prov", "a", request(f"{AGENCY}-250101-0001"))
    rig.clock.advance(60)
    rig.payments.create("prov", "b", request(f"{AGENCY}-250101-0002"))
    rig.payments.create("prov", "c", request(f"{VNPAY_AGENCY}-250101-0003", VNPAY_AGENCY))
    browser = Browser(ApiClient(app))
    assert browser.login("k2").status_code == 303
    page = browser.get("/console").text
    assert 'id="payments-awaiting">3<' in page
    assert 'id="payments-oldest">2025-12-01 04:00:00 UTC<' in page
    assert "<tr><td>paygov</td><td>2</td></tr>" in page
    assert "<tr><td>vnpay</td><td>1</td></tr>" in page
    rig.pay_paygov(first.pay_url or "")
    rig.paygov.callbacks.flush()
    response = browser.get("/console")
    assert 'id="payments-awaiting">2<' in response.text
    assert "<tr><td>paygov</td><td>1</td></tr>" in response.text
    assert len(response.content) < 1024 * 1024


def test_no_panel_without_payments(rig: Rig) -> None:
    """The payments panel appears only where payments are configured."""
    app = app_of(rig)
    app.state.payments = None
    browser = Browser(ApiClient(app))
    browser.login("k2")
    assert 'id="payments"' not in browser.get("/console").text
