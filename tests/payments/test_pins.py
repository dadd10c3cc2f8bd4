"""Once a dossier is paid, province states accepted afterwards keep DuocThanhToanTrucTuyen,
atomically with the accept (the pin guard), unless the province sends another non-zero code."""

from __future__ import annotations

import threading

import orjson
import pytest

from gateway.connectors.dvcqg import Service, entries
from gateway.pipeline.keys import Keys
from gateway.pipeline.outbox import PinsChanged
from gateway.schemas.codes import OnlinePayment
from gateway.testing.records import AGENCY, national_dossier
from tests._redis import hget

from .conftest import VNPAY_AGENCY, Rig, request

D1 = f"{AGENCY}-250101-0001"
D2 = f"{VNPAY_AGENCY}-250101-0002"


def _latest_body(rig: Rig, no: str) -> dict[str, object]:
    keys = Keys(rig.gateway.settings.namespace)
    last = hget(rig.gateway.client, keys.sub(Service.DOSSIER.value, no), "last")
    assert last is not None
    body = rig.gateway.client.hget(keys.rec(last.decode()), "body")
    assert body is not None
    return dict(orjson.loads(body))


def _paid(rig: Rig, no: str, agency: str = AGENCY) -> None:
    p = rig.payments.create("prov", f"k-{no}", request(no, agency))
    if p.provider == "paygov":
        rig.pay_paygov(p.pay_url or "")
        rig.paygov.callbacks.flush()
    else:
        rig.pay_vnpay(p.pay_url or "")
        rig.vnpay.callbacks.flush()


def test_a_later_state_without_the_flag_keeps_it(rig: Rig) -> None:
    """Paid through PayGov, then the province moves the dossier on, saying "0": the new state
    is accepted with "1", and that is what the portal ends up holding."""
    rig.dossier(D1, DuocThanhToanTrucTuyen="0", TrichYeuHoSo="v1")
    _paid(rig, D1)
    rig.deliver_all()
    rig.dossier(D1, status="4", DuocThanhToanTrucTuyen="0", TrichYeuHoSo="v2")
    assert _latest_body(rig, D1)["DuocThanhToanTrucTuyen"] == "1"
    rig.dossier(D1, status="4", TrichYeuHoSo="v3")  # the field left out altogether
    assert _latest_body(rig, D1)["DuocThanhToanTrucTuyen"] == "1"
    rig.deliver_all()
    state = rig.portal.dossier(D1)
    assert state is not None
    assert (state["TrichYeuHoSo"], state["DuocThanhToanTrucTuyen"]) == ("v3", "1")


def test_a_vnpay_dossier_keeps_2(rig: Rig) -> None:
    rig.dossier(D2, agency=VNPAY_AGENCY)
    _paid(rig, D2, VNPAY_AGENCY)
    rig.dossier(D2, agency=VNPAY_AGENCY, status="4", DuocThanhToanTrucTuyen="0")
    assert _latest_body(rig, D2)["DuocThanhToanTrucTuyen"] == "2"


def test_the_province_resending_its_old_state_is_a_duplicate(rig: Rig) -> None:
    """The pre-payment state sent again equals the patched one: nothing new to deliver."""
    rig.dossier(D1, DuocThanhToanTrucTuyen="0")
    _paid(rig, D1)
    [out] = rig.gateway.accept(
        Service.DOSSIER, AGENCY, [national_dossier(D1, DuocThanhToanTrucTuyen="0")], client="prov"
    )
    assert out.duplicate


def test_another_non_zero_code_from_the_province_is_kept_as_sent(rig: Rig) -> None:
    """The province says "2" (its own gateway) after a PayGov payment: its word, kept."""
    rig.dossier(D1)
    _paid(rig, D1)
    rig.dossier(D1, status="4", DuocThanhToanTrucTuyen="2")
    assert _latest_body(rig, D1)["DuocThanhToanTrucTuyen"] == "2"


def test_an_accept_built_from_pins_that_changed_stores_nothing(rig: Rig) -> None:
    """The guard itself: pins read, a payment pinned in between, the accept conflicts."""
    rig.dossier(D1, TrichYeuHoSo="v1")
    outbox = rig.gateway.outbox
    channel = Service.DOSSIER.value
    seen = outbox.pins(channel, [D1])
    assert seen == {D1: ""}
    rig.gateway.pin_payment_flag(D1, OnlinePayment.NATIONAL_PLATFORM)
    items = entries(Service.DOSSIER, [national_dossier(D1, status="4", TrichYeuHoSo="v2")])
    before = _latest_body(rig, D1)
    with pytest.raises(PinsChanged):
        outbox.accept(channel, AGENCY, items, client="prov", pins=seen)
    assert _latest_body(rig, D1) == before
    # Read again, the pin is applied and the accept goes through.
    rig.dossier(D1, status="4", TrichYeuHoSo="v2")
    assert _latest_body(rig, D1)["DuocThanhToanTrucTuyen"] == "1"


def test_a_payment_racing_a_stream_of_province_states(rig: Rig) -> None:
    """The province pushes 60 states without the flag while the payment is confirmed and
    reflected: every state accepted after the pin carries "1", the latest state does, and so
    does the portal; none before the payment does."""
    rig.dossier(D1, TrichYeuHoSo="v0", DuocThanhToanTrucTuyen="0")
    p = rig.payments.create("prov", "k", request(D1))
    rig.pay_paygov(p.pay_url or "")
    go = threading.Event()
    errors: list[BaseException] = []

    def province() -> None:
        go.wait()
        try:
            for i in range(1, 61):
                rig.dossier(D1, TrichYeuHoSo=f"v{i}", DuocThanhToanTrucTuyen="0")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    t = threading.Thread(target=province)
    t.start()
    go.set()
    rig.paygov.callbacks.flush()  # confirm -> settle -> pin -> reflect, racing the province
    t.join()
    assert errors == []
    keys = Keys(rig.gateway.settings.namespace)
    last = hget(rig.gateway.client, keys.sub(Service.DOSSIER.value, D1), "last")
    assert last is not None
    flags = []
    for i in range(1, int(last.decode()) + 1):
        raw = rig.gateway.client.hmget(keys.rec(f"{i:012d}"), "ch", "body")
        if raw[0] == Service.DOSSIER.value.encode() and raw[1] is not None:
            flags.append(orjson.loads(raw[1]).get("DuocThanhToanTrucTuyen"))
    # Unflagged states, then flagged ones: once a state carries the flag, every later one does.
    first = flags.index("1")
    assert set(flags[:first]) == {"0"}
    assert set(flags[first:]) == {"1"}
    assert _latest_body(rig, D1)["TrichYeuHoSo"] == "v60"
    rig.deliver_all()
    state = rig.portal.dossier(D1)
    assert state is not None
    assert (state["TrichYeuHoSo"], state["DuocThanhToanTrucTuyen"]) == ("v60", "1")
