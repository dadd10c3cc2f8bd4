"""DVCQG adapter-style connector, with respx standing in for the portal."""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pydantic
import pytest
import respx

from gateway.connectors import Connector, DvcqgConfig, DvcqgConnector, PeerReply
from gateway.connectors._http import parse_retry_after
from gateway.errors import ContractError, PeerAuthError, PermanentPeerError, TransientPeerError

BASE = "https://dvcqg.test"
AGENCY = "000.00.01.H22"
PASSWORD = "s3cret-pass"
PERSONAL_ID = "001099012345"


def record(n: int) -> dict[str, Any]:
    return {"MaHoSo": f"{AGENCY}-250101-{n:04d}", "SoGiayToChuHoSo": PERSONAL_ID}


def ok(result: list[Any] | None = None, code: Any = "0") -> httpx.Response:
    return httpx.Response(200, json={"error_code": code, "message": "OK", "result": result or []})


def refused(code: Any, message: str) -> httpx.Response:
    return httpx.Response(200, json={"error_code": code, "message": message, "result": []})


def body(call: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(call.request.content)
    return parsed


@pytest.fixture
def config() -> DvcqgConfig:
    return DvcqgConfig(base_url=BASE, username="gw", password=PASSWORD, dstcode="H22-ROUTE")


@pytest.fixture
def portal() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        tokens = iter(f"token-{n}" for n in range(1, 100))
        router.post("/api/auth", name="login").mock(
            side_effect=lambda request: httpx.Response(
                200, json={"error_code": 0, "message": "OK", "session": next(tokens)}
            )
        )
        yield router


@pytest.fixture
def integration(portal: respx.MockRouter) -> respx.Route:
    return portal.post("/api/integration", name="integration").mock(return_value=ok())


@pytest.fixture
def connector(config: DvcqgConfig) -> Iterator[DvcqgConnector]:
    with DvcqgConnector(config) as built:
        yield built


# -- interface and config ------------------------------------------------------------------------


def test_connector_satisfies_the_pipeline_interface(connector: DvcqgConnector) -> None:
    """DvcqgConnector is a Connector named "dvcqg"."""
    assert isinstance(connector, Connector)
    assert connector.system == "dvcqg"


def test_config_reads_codes_written_as_numbers() -> None:
    """Codes given as numbers in a settings file are compared as strings."""
    config = DvcqgConfig(
        base_url=BASE + "/",
        username="gw",
        password="p",
        dstcode="H22",
        success_codes=[0, "00"],
    )
    assert config.success_codes == ("0", "00")
    assert config.base_url == BASE


def test_config_refuses_a_base_url_without_scheme() -> None:
    """A base URL must be http(s)."""
    with pytest.raises(pydantic.ValidationError):
        DvcqgConfig(base_url="dvcqg.test", username="gw", password="p", dstcode="H22")


# -- login and session ---------------------------------------------------------------------------


def test_logs_in_once_and_reuses_the_session(
    connector: DvcqgConnector, portal: respx.MockRouter, integration: respx.Route
) -> None:
    """The session from one login serves every later call."""
    connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    connector.push("CapNhatTienDoHoSoMC", AGENCY, [record(1)])
    assert portal["login"].call_count == 1
    assert body(portal["login"].calls[0]) == {"username": "gw", "password": PASSWORD}
    assert [body(c)["session"] for c in integration.calls] == ["token-1", "token-1"]


def test_dstcode_header_on_login_and_calls(
    connector: DvcqgConnector, portal: respx.MockRouter, integration: respx.Route
) -> None:
    """Login and service calls both carry the dstcode routing header."""
    connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert portal["login"].calls[0].request.headers["dstcode"] == "H22-ROUTE"
    assert integration.calls[0].request.headers["dstcode"] == "H22-ROUTE"


def test_envelope_carries_session_agency_service_and_params(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """A dossier create is {session, madonvi, service, isUpdating "False", data}."""
    connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert body(integration.calls[0]) == {
        "session": "token-1",
        "madonvi": AGENCY,
        "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": [record(1)],
    }


def test_progress_call_has_no_is_updating(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """CapNhatTienDoHoSoMC sends only data, even when updating is asked."""
    connector.push("CapNhatTienDoHoSoMC", AGENCY, [record(1)], updating=True)
    assert "isUpdating" not in body(integration.calls[0])


@pytest.fixture
def by_code(config: DvcqgConfig) -> Iterator[DvcqgConnector]:
    """A connector configured to read error_code "401" and "-1" as an expired session."""
    cfg = config.model_copy(update={"session_rejected_codes": ("401", "-1")})
    with DvcqgConnector(cfg) as built:
        yield built


def test_session_rejected_by_code_logs_in_again_and_repeats(
    by_code: DvcqgConnector, portal: respx.MockRouter, integration: respx.Route
) -> None:
    """An error_code in session_rejected_codes triggers one new login and one repeat."""
    integration.mock(side_effect=[refused("401", "Session hết hạn"), ok()])
    reply = by_code.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert reply.peer_code == "0"
    assert portal["login"].call_count == 2
    assert [body(c)["session"] for c in integration.calls] == ["token-1", "token-2"]


def test_http_401_logs_in_again_and_repeats(
    connector: DvcqgConnector, portal: respx.MockRouter, integration: respx.Route
) -> None:
    """HTTP 401 on a call is a lost session, not a refusal."""
    integration.mock(side_effect=[httpx.Response(401), ok()])
    connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert portal["login"].call_count == 2


def test_second_session_rejection_is_an_auth_error(
    by_code: DvcqgConnector, portal: respx.MockRouter, integration: respx.Route
) -> None:
    """A session refused right after a fresh login is the gateway's credentials, no third try."""
    integration.mock(return_value=refused("-1", "Session không hợp lệ"))
    with pytest.raises(PeerAuthError) as caught:
        by_code.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert caught.value.peer_code == "-1"
    assert integration.call_count == 2
    assert portal["login"].call_count == 2


def test_login_refused_by_code_is_an_auth_error(
    connector: DvcqgConnector, portal: respx.MockRouter, integration: respx.Route
) -> None:
    """Wrong credentials: an auth error (retry later, never the records' fault), no service call."""
    portal["login"].mock(return_value=refused("1", "Sai mật khẩu"))
    with pytest.raises(PeerAuthError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert not caught.value.ambiguous
    assert caught.value.reason == "auth_refused"
    assert caught.value.peer_code == "1"
    assert "login refused" in caught.value.message
    assert integration.call_count == 0


def test_login_timeout_is_never_ambiguous(
    connector: DvcqgConnector, portal: respx.MockRouter
) -> None:
    """A failed login sent no data, so even a write is not ambiguous."""
    portal["login"].mock(side_effect=httpx.ReadTimeout)
    with pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert caught.value.ambiguous is False


def test_concurrent_first_calls_share_one_login(
    connector: DvcqgConnector, portal: respx.MockRouter, integration: respx.Route
) -> None:
    """Threads that start together wait for one login instead of each logging in."""
    start = threading.Barrier(8)

    def send(n: int) -> PeerReply:
        start.wait()
        return connector.push("DongBoHoSoMC", AGENCY, [record(n)])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(send, range(8)))
    assert portal["login"].call_count == 1
    assert integration.call_count == 8


# -- batching and replies ------------------------------------------------------------------------


def test_records_go_in_batches_of_batch_size(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """120 records with batch_size 50 make three calls of 50, 50 and 20."""
    integration.mock(
        side_effect=lambda request: ok([{"n": len(orjson.loads(request.content)["data"])}])
    )
    reply = connector.push("DongBoHoSoMC", AGENCY, [record(n) for n in range(120)])
    assert [len(body(c)["data"]) for c in integration.calls] == [50, 50, 20]
    assert reply.result == ({"n": 50}, {"n": 50}, {"n": 20})


def test_no_records_make_no_call(connector: DvcqgConnector, portal: respx.MockRouter) -> None:
    """An empty send neither logs in nor calls the portal."""
    assert connector.push("DongBoHoSoMC", AGENCY, []) == PeerReply("", "")
    assert portal["login"].call_count == 0


@pytest.mark.parametrize("code", [0, "0", "00"])
def test_every_spelling_of_zero_is_success(
    connector: DvcqgConnector, integration: respx.Route, code: Any
) -> None:
    """error_code 0, "0" and "00" all mean success."""
    integration.mock(return_value=ok([{"MaHoSo": "x"}], code=code))
    reply = connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert reply == PeerReply(str(code), "OK", ({"MaHoSo": "x"},), resent_as_update=False)


def test_already_exists_is_resent_as_update(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """A create answered "đã tồn tại" is sent again as an update, and that is success."""
    integration.mock(side_effect=[refused("1", "Hồ sơ đã tồn tại"), ok()])
    reply = connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert reply.resent_as_update is True
    first, second = (body(c) for c in integration.calls)
    assert (first["isUpdating"], second["isUpdating"]) == ("False", "True")
    assert second["data"] == first["data"]


def test_already_exists_matches_decomposed_unicode(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """The marker is found whatever Unicode normalisation or case the portal uses."""
    message = unicodedata.normalize("NFD", "HỒ SƠ ĐÃ TỒN TẠI")
    integration.mock(side_effect=[refused("1", message), ok()])
    assert connector.push("DongBoHoSoMC", AGENCY, [record(1)]).resent_as_update


def test_already_exists_on_an_update_is_permanent(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """Only a create is resent; an update answered "đã tồn tại" is a rejection."""
    integration.mock(return_value=refused("1", "Hồ sơ đã tồn tại"))
    with pytest.raises(PermanentPeerError):
        connector.push("DongBoHoSoMC", AGENCY, [record(1)], updating=True)
    assert integration.call_count == 1


# -- classification ------------------------------------------------------------------------------


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_failure_before_sending_is_transient_not_ambiguous(
    connector: DvcqgConnector, integration: respx.Route, exc: type[Exception]
) -> None:
    """Connection failures mean the portal never saw the request."""
    integration.mock(side_effect=exc)
    with pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert caught.value.ambiguous is False
    assert (caught.value.system, caught.value.operation) == ("dvcqg", "DongBoHoSoMC")


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError]
)
def test_failure_after_sending_a_write_is_ambiguous(
    connector: DvcqgConnector, integration: respx.Route, exc: type[Exception]
) -> None:
    """A write that may have reached the portal is transient and ambiguous."""
    integration.mock(side_effect=exc)
    with pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert caught.value.ambiguous is True
    assert isinstance(caught.value.__cause__, exc)


def test_read_timeout_on_a_lookup_is_not_ambiguous(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """A read can simply be asked again, so its timeout is not ambiguous."""
    integration.mock(side_effect=httpx.ReadTimeout)
    with pytest.raises(TransientPeerError) as caught:
        connector.lookup(AGENCY, "x")
    assert caught.value.ambiguous is False


def test_429_is_transient_with_retry_after_seconds(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """429 carries the Retry-After delay in seconds."""
    integration.mock(return_value=httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert (caught.value.status, caught.value.retry_after) == (429, 120.0)
    assert caught.value.ambiguous is False


def test_retry_after_as_http_date() -> None:
    """An HTTP-date Retry-After becomes seconds from now, never negative."""
    now = datetime(2025, 1, 1, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 08:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Wed, 01 Jan 2025 07:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None


def test_503_is_transient_and_not_ambiguous(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """503 means the portal refused the work: retry without asking first."""
    integration.mock(return_value=httpx.Response(503, text="<html>bảo trì</html>"))
    with pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert (caught.value.status, caught.value.ambiguous) == (503, False)


def test_504_on_a_write_is_ambiguous(connector: DvcqgConnector, integration: respx.Route) -> None:
    """A gateway timeout may hide a stored write."""
    integration.mock(return_value=httpx.Response(504))
    with pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert (caught.value.status, caught.value.ambiguous) == (504, True)


def test_408_is_transient(connector: DvcqgConnector, integration: respx.Route) -> None:
    """408 Request Timeout is worth retrying."""
    integration.mock(return_value=httpx.Response(408))
    with pytest.raises(TransientPeerError):
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])


def test_400_is_permanent(connector: DvcqgConnector, integration: respx.Route) -> None:
    """A 4xx other than 401/403/408/429 cannot succeed on retry."""
    integration.mock(return_value=httpx.Response(400, json={"message": "bad"}))
    with pytest.raises(PermanentPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert caught.value.status == 400


def test_reply_that_is_not_json_is_permanent(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """A 200 with an HTML page is not a portal reply."""
    integration.mock(return_value=httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(PermanentPeerError, match="not JSON"):
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])


def test_non_success_code_is_permanent_with_peer_code(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """The portal rejecting the record is permanent and carries its code and message."""
    integration.mock(return_value=refused(2, "Trường NgayHenTra không hợp lệ"))
    with pytest.raises(PermanentPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    error = caught.value
    assert (error.system, error.operation, error.status, error.peer_code) == (
        "dvcqg",
        "DongBoHoSoMC",
        200,
        "2",
    )
    assert "NgayHenTra không hợp lệ" in error.message
    assert error.reason == "peer_code:2"


def test_configured_transient_code_is_transient(
    config: DvcqgConfig, integration: respx.Route
) -> None:
    """A code listed in transient_codes is retried instead of dead-lettered."""
    integration.mock(return_value=refused("99", "Hệ thống bận"))
    tolerant = config.model_copy(update={"transient_codes": ("99",)})
    with DvcqgConnector(tolerant) as connector, pytest.raises(TransientPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert caught.value.peer_code == "99"


def test_record_that_is_not_json_is_a_contract_error(connector: DvcqgConnector) -> None:
    """A value JSON cannot carry is the caller's mistake, reported before any call."""
    with pytest.raises(ContractError):
        connector.push("DongBoHoSoMC", AGENCY, [{"MaHoSo": object()}])


def test_no_secrets_or_personal_ids_in_logs_or_errors(
    connector: DvcqgConnector, integration: respx.Route, caplog: pytest.LogCaptureFixture
) -> None:
    """Password, session token and id numbers stay out of logs and error messages."""
    integration.mock(
        side_effect=[ok(), refused("2", f"SoGiayToChuHoSo {PERSONAL_ID} không hợp lệ")]
    )
    caplog.set_level(logging.DEBUG)
    connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    with pytest.raises(PermanentPeerError) as caught:
        connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert caplog.records
    for text in (caplog.text, str(caught.value)):
        assert PASSWORD not in text
        assert "token-1" not in text
        assert PERSONAL_ID not in text


# -- lookup and reads ----------------------------------------------------------------------------


def test_lookup_returns_the_held_dossier(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """TraCuuHoSo sends the number as lowercase mahoso and answers the matching record."""
    held = {"MaHoSo": "000.00.01.H22-250101-0001", "TrangThaiHoSo": "4"}
    integration.mock(return_value=ok([held]))
    assert connector.lookup(AGENCY, held["MaHoSo"]) == held
    sent = body(integration.calls[0])
    assert (sent["service"], sent["mahoso"], sent["madonvi"]) == (
        "TraCuuHoSo",
        held["MaHoSo"],
        AGENCY,
    )


@pytest.mark.parametrize(
    "reply",
    [ok([]), refused("3", "Không tìm thấy hồ sơ")],
    ids=["empty-result", "not-found-message"],
)
def test_lookup_of_unknown_dossier_is_none(
    connector: DvcqgConnector, integration: respx.Route, reply: httpx.Response
) -> None:
    """An empty result or a "not found" error means the portal holds nothing."""
    integration.mock(return_value=reply)
    assert connector.lookup(AGENCY, "000.00.01.H22-250101-0009") is None


def test_fetch_catalogue_uses_the_share_path(
    connector: DvcqgConnector, portal: respx.MockRouter
) -> None:
    """Catalogue reads go to share_path with their params."""
    share = portal.post("/api/share").mock(return_value=ok([{"MaCoQuan": "H22"}]))
    reply = connector.fetch("LayDanhMucCoQuan", AGENCY, {"MaTinh": "22"}, catalogue=True)
    assert reply.result == ({"MaCoQuan": "H22"},)
    assert body(share.calls[0])["MaTinh"] == "22"


# -- portal behaviours (issue 6) -----------------------------------------------------------------


def test_generic_failure_minus_one_is_a_refusal_not_an_expired_session(
    connector: DvcqgConnector, portal: respx.MockRouter, integration: respx.Route
) -> None:
    """error_code -1 is the portal's generic failure: no login storm, a permanent refusal."""
    integration.mock(return_value=refused("-1", "Dữ liệu không hợp lệ"))
    for _ in range(5):
        with pytest.raises(PermanentPeerError):
            connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert portal["login"].call_count == 1
    assert integration.call_count == 5


def test_session_expiry_by_configured_wording(
    config: DvcqgConfig, portal: respx.MockRouter, integration: respx.Route
) -> None:
    """A configured message marker means an expired session: one new login, one repeat."""
    cfg = config.model_copy(update={"session_expired_markers": ("phiên làm việc hết hạn",)})
    integration.mock(side_effect=[refused("-1", "Phiên làm việc hết hạn"), ok()])
    with DvcqgConnector(cfg) as built:
        assert built.push("DongBoHoSoMC", AGENCY, [record(1)]).peer_code == "0"
    assert portal["login"].call_count == 2


@pytest.mark.parametrize("code", ["0", "3", "-3"])
def test_create_answered_already_exists_is_resent_as_update_whatever_the_code(
    connector: DvcqgConnector, integration: respx.Route, code: str
) -> None:
    """A create of a dossier the portal holds may answer "0" and apply nothing: resent as update."""
    integration.mock(side_effect=[refused(code, "Hồ sơ đã tồn tại trên hệ thống"), ok()])
    reply = connector.push("DongBoHoSoMC", AGENCY, [record(1)])
    assert reply.resent_as_update
    assert [body(c)["isUpdating"] for c in integration.calls] == ["False", "True"]


def test_update_of_a_dossier_the_portal_lacks_is_resent_as_create(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """An update refused with "not found" goes again as a create."""
    integration.mock(side_effect=[refused("-1", "Hồ sơ không tồn tại"), ok()])
    connector.push("DongBoHoSoMC", AGENCY, [record(1)], updating=True)
    assert [body(c)["isUpdating"] for c in integration.calls] == ["True", "False"]


def test_batch_answered_already_exists_is_refused_so_each_goes_alone(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """Several creates answered "exists": refused, so the engine isolates each dossier."""
    integration.mock(return_value=refused("0", "Hồ sơ đã tồn tại"))
    with pytest.raises(PermanentPeerError):
        connector.push("DongBoHoSoMC", AGENCY, [record(1), record(2)])
    assert integration.call_count == 1


def _step(when: str, handler: str, content: str = "Xử lý") -> bytes:
    return orjson.dumps(
        {
            "MaHoSo": "000.00.01.H22-250101-0001",
            "ThoiDiemXuLy": when,
            "TrangThai": "4",
            "NoiDungXuLy": content,
            "NguoiXuLy": handler,
        }
    )


def test_reconcile_matches_only_fields_the_echo_carries_and_counts_copies(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """The echo lacks NguoiXuLy: two steps equal but for it are told apart by counting, after
    the steps already delivered take their own matches."""
    from gateway.connectors.base import Item

    no = "000.00.01.H22-250101-0001"
    echo = [
        {"MaHoSo": no, "ThoiDiemXuLy": t, "TrangThai": "4", "NoiDungXuLy": "Xử lý"}
        for t in ("20250102090000", "20250102090000", "20250103090000")
    ]
    integration.mock(return_value=ok([{"MaHoSo": no, "QuaTrinhXuLy": echo}]))
    old = Item(no, "1", _step("20250102090000", "A"))
    candidates = [
        Item(no, "2", _step("20250102090000", "B")),  # held: the second copy
        Item(no, "3", _step("20250103090000", "A")),  # held
        Item(no, "4", _step("20250104090000", "A")),  # lacking
    ]
    progress = connector.channels[1]
    assert connector.reconcile(progress, AGENCY, no, candidates, delivered=[old]) == [2]


def test_reconcile_resends_dossier_states_without_asking(
    connector: DvcqgConnector, integration: respx.Route
) -> None:
    """A full-state upsert sent twice has one effect: no look-up."""
    from gateway.connectors.base import Item

    items = [Item("x", "1", b"{}")]
    assert connector.reconcile(connector.channels[0], AGENCY, "x", items) == [0]
    assert integration.call_count == 0
