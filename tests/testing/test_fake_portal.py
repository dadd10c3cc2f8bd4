"""The shipped fake DVCQG portal, driven through the real connector."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import respx

from gateway.connectors import DvcqgConnector, PeerReply
from gateway.errors import PeerAuthError, PermanentPeerError, TransientPeerError
from gateway.testing import FakePortal, FakePortalServer

AGENCY = "000.00.01.H22"


def dossier(n: int, **fields: Any) -> dict[str, Any]:
    return {"MaHoSo": f"{AGENCY}-250101-{n:04d}", "TrangThaiHoSo": "2", **fields}


def step(n: int, status: str) -> dict[str, Any]:
    return {"MaHoSo": f"{AGENCY}-250101-{n:04d}", "TrangThai": status, "NguoiXuLy": "Cán bộ"}


@pytest.fixture
def portal() -> FakePortal:
    return FakePortal()


@pytest.fixture
def server(portal: FakePortal) -> Iterator[FakePortalServer]:
    with FakePortalServer(portal) as running:
        yield running


@pytest.fixture
def connector(server: FakePortalServer) -> Iterator[DvcqgConnector]:
    with DvcqgConnector(server.config(batch_size=10)) as built:
        yield built


# -- over loopback -------------------------------------------------------------------------------


@pytest.mark.network
def test_create_stores_dossiers_in_batches(portal: FakePortal, connector: DvcqgConnector) -> None:
    """Created dossiers are stored by MaHoSo and each batch is one logged call."""
    reply = connector.push("DongBoHoSoMC", AGENCY, [dossier(n) for n in range(25)])
    assert len(portal.dossiers) == 25
    assert [len(c.dossiers) for c in portal.calls] == [10, 10, 5]
    assert {c.is_updating for c in portal.calls} == {"False"}
    assert len(reply.result) == 25
    assert portal.logins == 1


@pytest.mark.network
def test_create_of_existing_dossier_becomes_an_update(
    portal: FakePortal, connector: DvcqgConnector
) -> None:
    """The portal's "Hồ sơ đã tồn tại" makes the connector resend as an update."""
    portal.seed([dossier(1)])
    reply = connector.push("DongBoHoSoMC", AGENCY, [dossier(1, TrangThaiHoSo="4")])
    assert reply.resent_as_update
    assert portal.dossier(dossier(1)["MaHoSo"]) == dossier(1, TrangThaiHoSo="4")
    assert [(c.is_updating, c.error_code) for c in portal.calls] == [("False", "1"), ("True", "0")]


@pytest.mark.network
def test_progress_steps_are_appended_and_looked_up(
    portal: FakePortal, connector: DvcqgConnector
) -> None:
    """Steps accumulate per dossier and TraCuuHoSo answers the dossier with its steps."""
    connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])
    connector.push("CapNhatTienDoHoSoMC", AGENCY, [step(1, "2")])
    connector.push("CapNhatTienDoHoSoMC", AGENCY, [step(1, "4")])
    assert portal.steps(dossier(1)["MaHoSo"]) == [step(1, "2"), step(1, "4")]
    held = connector.lookup(AGENCY, dossier(1)["MaHoSo"])
    assert held is not None
    assert held["QuaTrinhXuLy"] == [step(1, "2"), step(1, "4")]


@pytest.mark.network
def test_lookup_of_unknown_dossier_is_none(connector: DvcqgConnector) -> None:
    """The portal's "Không tìm thấy hồ sơ" reads as nothing held."""
    assert connector.lookup(AGENCY, dossier(404)["MaHoSo"]) is None


@pytest.mark.network
def test_progress_for_unknown_dossier_is_refused(
    portal: FakePortal, connector: DvcqgConnector
) -> None:
    """With strict_steps, steps before their dossier are a permanent rejection."""
    with pytest.raises(PermanentPeerError) as caught:
        connector.push("CapNhatTienDoHoSoMC", AGENCY, [step(7, "2")])
    assert caught.value.peer_code == "3"
    assert portal.steps(dossier(7)["MaHoSo"]) == []


@pytest.mark.network
def test_injected_503_fails_then_recovers(portal: FakePortal, connector: DvcqgConnector) -> None:
    """fail_next answers 503 to the next call only."""
    portal.fail_next(1, status=503)
    with pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])
    assert (caught.value.status, caught.value.ambiguous) == (503, False)
    assert portal.dossiers == {}
    connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])
    assert dossier(1)["MaHoSo"] in portal.dossiers


@pytest.mark.network
def test_injected_429_carries_retry_after(portal: FakePortal, connector: DvcqgConnector) -> None:
    """throttle_next answers 429 with the given Retry-After."""
    portal.throttle_next(retry_after="7")
    with pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])
    assert (caught.value.status, caught.value.retry_after) == (429, 7.0)


@pytest.mark.network
def test_rejected_dossier_refuses_its_whole_batch(
    portal: FakePortal, connector: DvcqgConnector
) -> None:
    """reject() makes any batch naming that MaHoSo fail with the error code; nothing is stored."""
    portal.reject(dossier(2)["MaHoSo"], code="5")
    with pytest.raises(PermanentPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [dossier(1), dossier(2)])
    assert caught.value.peer_code == "5"
    assert portal.dossiers == {}


@pytest.mark.network
def test_expired_session_is_renewed_transparently(
    portal: FakePortal, connector: DvcqgConnector
) -> None:
    """After expire_sessions the connector logs in again and the call succeeds."""
    connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])
    portal.expire_sessions()
    connector.push("DongBoHoSoMC", AGENCY, [dossier(2)])
    assert portal.logins == 2
    assert [c.error_code for c in portal.calls] == ["0", "401", "0"]


@pytest.mark.network
def test_dropped_reply_is_ambiguous_and_lookup_shows_it_arrived(
    portal: FakePortal, connector: DvcqgConnector
) -> None:
    """drop_next stores the call but closes the connection; lookup then finds the dossier."""
    portal.drop_next()
    with pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])
    assert caught.value.ambiguous is True
    assert portal.calls[-1].dropped
    assert connector.lookup(AGENCY, dossier(1)["MaHoSo"]) is not None


@pytest.mark.network
def test_wrong_password_is_a_login_refusal(server: FakePortalServer) -> None:
    """Bad credentials fail at login as an auth error (the gateway's config, not the record)."""
    with (
        DvcqgConnector(server.config(password="wrong")) as connector,
        pytest.raises(PeerAuthError, match="login refused"),
    ):
        connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])


@pytest.mark.network
def test_wrong_dstcode_is_permanent(server: FakePortalServer) -> None:
    """A routing code the portal does not know is answered 400."""
    with (
        DvcqgConnector(server.config(dstcode="OTHER")) as connector,
        pytest.raises(PermanentPeerError) as caught,
    ):
        connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])
    assert caught.value.status == 400


@pytest.mark.network
def test_concurrent_senders_are_all_stored(portal: FakePortal, server: FakePortalServer) -> None:
    """Many threads sending at once lose nothing and share one login."""
    config = server.config(batch_size=5, max_connections=8)
    with DvcqgConnector(config) as connector, ThreadPoolExecutor(max_workers=8) as pool:
        chunks = [[dossier(n * 20 + i) for i in range(20)] for n in range(16)]
        replies = list(pool.map(lambda c: connector.push("DongBoHoSoMC", AGENCY, c), chunks))
    assert all(isinstance(r, PeerReply) for r in replies)
    assert len(portal.dossiers) == 320
    assert len(portal.calls) == 64
    assert portal.logins == 1


# -- in process, no sockets ----------------------------------------------------------------------


def test_mock_transport_runs_the_portal_without_sockets() -> None:
    """FakePortal.transport() serves the connector in-process."""
    portal = FakePortal()
    config = portal.connector_config("http://portal.test")
    with DvcqgConnector(config, transport=portal.transport()) as connector:
        connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])
        assert connector.lookup(AGENCY, dossier(1)["MaHoSo"]) is not None
    assert list(portal.dossiers) == [dossier(1)["MaHoSo"]]


def test_handle_request_works_as_a_respx_side_effect() -> None:
    """The same portal logic can back a respx route."""
    portal = FakePortal()
    with (
        respx.mock(assert_all_called=False) as router,
        DvcqgConnector(portal.connector_config("http://portal.test")) as connector,
    ):
        router.route(host="portal.test").mock(side_effect=portal.handle_request)
        portal.drop_next()
        with pytest.raises(TransientPeerError) as caught:
            connector.push("DongBoHoSoMC", AGENCY, [dossier(1)])
    assert caught.value.ambiguous
    assert list(portal.dossiers) == [dossier(1)["MaHoSo"]]
