"""The LLTP profile: every reply and transport failure classified, forms mapped both ways."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.connectors.ministry import CaseRef, CaseState, HandOver, SystemConfig, system_client
from gateway.connectors.ministry.lltp import LltpOptions, LltpProfile
from gateway.connectors.ministry.profile import SystemContext
from gateway.errors import (
    ContractError,
    PeerAuthError,
    PeerError,
    PeerReplyError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.mappers import format_lltp_birth_date, format_lltp_date, parse_lltp_birth_date
from gateway.mappers.dates import PartialDate
from gateway.mappers.lltp import lltp_application, lltp_body
from gateway.schemas import DeclareType, Gender, IdType
from gateway.testing.ministry import lltp_forms
from gateway.testing.records import DOSSIER_NO, national_dossier

Handler = Callable[[httpx.Request], httpx.Response]


def _profile(handler: Handler) -> LltpProfile:
    config = SystemConfig(base_url="https://lgsp.test/apiLyLichTuPhap")
    http = system_client("lltp", config, transport=httpx.MockTransport(handler))
    return LltpProfile(SystemContext("lltp", config, http, clock=lambda: 0.0))


def _handover(**extra: Any) -> HandOver:
    extra.setdefault("ThongTinKhac", lltp_forms())
    record = national_dossier(DOSSIER_NO, ChuHoSo="Nguyễn Văn A", **extra)
    from gateway.connectors.ministry.connector import forms_of

    return HandOver(
        DOSSIER_NO,
        record.procedure_code,
        "A",
        "lltp",
        record,
        LltpOptions(office="STP"),
        forms=forms_of(record, "lltp"),
    )


def _json(payload: object, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, content=orjson.dumps(payload))


def test_handover_success_returns_the_case_id() -> None:
    """STATUS 1 with ID: the case reference; the body carries the natural key and the forms."""
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content))
        assert request.url.path == "/apiLyLichTuPhap/nhanHoSoDangKy"
        return httpx.Response(200, json={"STATUS": 1, "DESCRIPTION": "ok", "ID": 77})

    ref = _profile(handler).hand_over(_handover())
    assert ref.case_id == "77"
    body = seen[0]
    assert body["idReceivedDec"] == DOSSIER_NO
    assert body["idMinistryJustice"] == "STP"
    assert body["dateReceivedDec"] == "01/01/2025"
    assert body["declarationWSForm"]["genderId"] == 1  # type: ignore[index]  # JSON object


@pytest.mark.parametrize(
    ("reply", "expected", "peer_code"),
    [
        ({"STATUS": 0, "DESCRIPTION": "ho so khong hop le"}, PermanentPeerError, "0"),
        ({"STATUS": "0", "DESCRIPTION": "x"}, PermanentPeerError, "0"),
        ({"STATUS": -1, "DESCRIPTION": "loi he thong"}, TransientPeerError, "-1"),
        ({"STATUS": 2}, TransientPeerError, "2"),
        ({"DESCRIPTION": "no status"}, TransientPeerError, None),
    ],
)
def test_status_classes(
    reply: dict[str, object], expected: type[PeerError], peer_code: str | None
) -> None:
    """STATUS 0 is permanent, any other non-1 STATUS (or none) transient, with the peer code."""
    with pytest.raises(expected) as info:
        _profile(_json(reply)).hand_over(_handover())
    assert info.value.peer_code == peer_code
    if expected is TransientPeerError:
        assert isinstance(info.value, TransientPeerError)  # raises(expected) caught one
        assert not info.value.ambiguous


def test_success_without_an_id_is_a_refused_reply() -> None:
    """STATUS 1 but no ID: the reply is unreadable (permanent, named by rule)."""
    with pytest.raises(PeerReplyError) as info:
        _profile(_json({"STATUS": 1})).hand_over(_handover())
    assert info.value.rule == "lltp_reply_without_id"


@pytest.mark.parametrize(
    ("body", "rule"), [(b"<html>busy</html>", "reply_not_json"), (b"[1]", "reply_not_object")]
)
def test_unreadable_bodies(body: bytes, rule: str) -> None:
    """A body that is not a JSON object is refused by rule."""
    with pytest.raises(PeerReplyError) as info:
        _profile(lambda r: httpx.Response(200, content=body)).hand_over(_handover())
    assert info.value.rule == rule


@pytest.mark.parametrize(
    ("status", "expected", "ambiguous"),
    [
        (503, TransientPeerError, False),
        (500, TransientPeerError, True),
        (504, TransientPeerError, True),
        (429, TransientPeerError, False),
        (400, PermanentPeerError, False),
        (404, PermanentPeerError, False),
    ],
)
def test_http_statuses(status: int, expected: type[PeerError], ambiguous: bool) -> None:
    """503 refused the work (not ambiguous); other 5xx may follow a stored hand-over."""
    with pytest.raises(expected) as info:
        _profile(lambda r: httpx.Response(status)).hand_over(_handover())
    assert getattr(info.value, "ambiguous", False) is ambiguous
    assert info.value.status == status


def test_http_401_twice_is_an_auth_error() -> None:
    """A 401 that survives the token refresh is our credentials' problem (PeerAuthError)."""
    with pytest.raises(PeerAuthError):
        _profile(lambda r: httpx.Response(401)).hand_over(_handover())


@pytest.mark.parametrize(
    ("exc", "ambiguous"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow"), False),
        (httpx.ReadTimeout("held"), True),
        (httpx.RemoteProtocolError("dropped"), True),
    ],
)
def test_transport_failures(exc: Exception, ambiguous: bool) -> None:
    """Failures after sending a hand-over are ambiguous; before sending they are not."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(TransientPeerError) as info:
        _profile(handler).hand_over(_handover())
    assert info.value.ambiguous is ambiguous


def test_read_timeout_of_a_lookup_is_not_ambiguous() -> None:
    """A status look-up changes nothing, so its timeout is plainly transient."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("held")

    with pytest.raises(TransientPeerError) as info:
        _profile(handler).find(CaseRef(DOSSIER_NO))
    assert not info.value.ambiguous


def test_invalid_form_is_permanent_and_names_the_field_not_the_value() -> None:
    """A form the ministry cannot take is refused before sending, by field, without values."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"STATUS": 1, "ID": 1})

    handover = _handover(ThongTinKhac=lltp_forms(identify_no="12", genderId=7))
    with pytest.raises(PermanentPeerError) as info:
        _profile(handler).hand_over(handover)
    assert info.value.peer_code == "form_invalid"
    assert "declarationWSForm" in str(info.value)
    assert "12" not in str(info.value).replace("declarationWSForm", "")
    assert calls == []


def test_find_reads_status_dates_and_absence() -> None:
    """traTrangThaiHs: 5 with dates is COMPLETED with a result; STATUS 0 is "no such case"."""
    found = _profile(
        _json({"STATUS": 1, "ID": 9, "DEC_STATUS_ID": 5, "ISSUE_DATE": "02/12/2025"})
    ).find(CaseRef(DOSSIER_NO))
    assert found is not None
    assert found.state is CaseState.COMPLETED
    assert found.result is not None
    assert found.result.issued_at is not None
    assert format_lltp_date(found.result.issued_at) == "02/12/2025"
    assert _profile(_json({"STATUS": 0})).find(CaseRef(DOSSIER_NO)) is None


def test_unknown_status_code_is_refused() -> None:
    """A DEC_STATUS_ID outside 3, 4, 5 is not guessed at."""
    with pytest.raises(PeerReplyError):
        _profile(_json({"STATUS": 1, "DEC_STATUS_ID": 9})).find(CaseRef(DOSSIER_NO))


def test_feed_and_acknowledgement() -> None:
    """traDsTrangThaiHs rows become changes carrying their ID; the ack joins them with ';'."""
    acks: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("traDsTrangThaiHs"):
            rows = [
                {"ID": "2", "idReceivedDec": "A-1", "DEC_STATUS_ID": 4},
                {"ID": "1", "idReceivedDec": "A-2", "DEC_STATUS_ID": 3},
            ]
            return httpx.Response(200, json={"STATUS": 1, "LISTCONTENT": rows})
        acks.append(orjson.loads(request.content))
        return httpx.Response(200, json={"STATUS": 1})

    profile = _profile(handler)
    changes = profile.changes()
    assert [(c.dossier_no, c.status, c.ack) for c in changes] == [
        ("A-1", "4", "2"),
        ("A-2", "3", "1"),
    ]
    profile.acknowledge(changes)
    assert acks == [{"declarationId": "1;2", "infoType": 1}]


def test_callback_body_is_read_or_refused_by_field() -> None:
    """A pushed row is a change; a row without DEC_STATUS_ID is a contract error naming it."""
    profile = _profile(_json({}))
    [change] = profile.parse_callback({}, b'{"ID":"5","idReceivedDec":"A-1","DEC_STATUS_ID":4}')
    assert change.state is CaseState.PROCESSING
    assert change.ack is None
    with pytest.raises(ContractError) as info:
        profile.parse_callback({}, b'{"LISTCONTENT":[{"idReceivedDec":"A-1"}]}')
    assert info.value.violations[0].path == "LISTCONTENT.0.DEC_STATUS_ID"


# --- mapping both ways ------------------------------------------------------------------------

_days = st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 12, 31))


@settings(max_examples=60)
@given(
    received=_days,
    birth=_days,
    precision=st.sampled_from(["day", "month", "year"]),
    gender=st.sampled_from(list(Gender)),
    id_type=st.sampled_from(list(IdType)),
    declare=st.sampled_from(list(DeclareType)),
)
def test_dossier_to_lltp_and_back(
    received: date,
    birth: date,
    precision: str,
    gender: Gender,
    id_type: IdType,
    declare: DeclareType,
) -> None:
    """The LLTP body keeps the receipt day, the birth date at its precision and every code."""
    partial = PartialDate(
        birth.year,
        birth.month if precision != "year" else None,
        birth.day if precision == "day" else None,
    )
    record = national_dossier(
        DOSSIER_NO,
        ChuHoSo="Trần Thị B",
        NgayTiepNhan=f"{received:%Y%m%d}093000",
        NgayHenTra=None,
    )
    forms = orjson.loads(
        lltp_forms(
            birthDateStr=format_lltp_birth_date(partial),
            genderId=int(gender),
            idTypeId=int(id_type),
            declareTypeId=int(declare),
        )
    )["lltp"]
    body = lltp_body(record, lltp_application(record, forms), "STP")
    form = body["declarationWSForm"]
    assert body["dateReceivedDec"] == format_lltp_date(received)
    assert parse_lltp_birth_date(form["birthDateStr"]) == partial
    assert (Gender(form["genderId"]), IdType(form["idTypeId"])) == (gender, id_type)
    assert DeclareType(form["declareTypeId"]) is declare
    assert form["fullName"] == "Trần Thị B"
    assert "datePromissoryDec" not in body


def test_catalogues_from_the_sandbox() -> None:
    """traDanhMuc kinds 1–5 answer rows; another kind is refused before any call."""
    from pydantic import SecretStr

    from gateway.sandbox.base import SimulatorTransport
    from gateway.sandbox.lltp import LltpSimulator

    sim = LltpSimulator()
    config = SystemConfig(
        base_url="http://lgsp.test/apiLyLichTuPhap/",
        token_url="http://lgsp.test/token",
        client_id=sim.client_id,
        client_secret=SecretStr(sim.client_secret),
    )
    http = system_client("lltp", config, transport=SimulatorTransport(sim))
    profile = LltpProfile(SystemContext("lltp", config, http, clock=lambda: 0.0))
    offices = profile.catalogue(4)
    assert offices[0]["ID"] == "STP-H22"
    with pytest.raises(ValueError, match="no LLTP catalogue 9"):
        profile.catalogue(9)
    assert sim.ledger()["calls"] == {"traDanhMuc": 1}
