"""The DVCQG adapter call envelope and reply (national-formats.md §2.1)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.schemas import CallEnvelope, LoginReply, LoginRequest, Reply, TextBool

from .samples import Refuse


@pytest.fixture
def envelope_data() -> dict[str, Any]:
    """A valid ``DongBoHoSoMC`` call body."""
    return {
        "session": "token-123",
        "madonvi": "000.00.01.H22",
        "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": [{"MaHoSo": "000.00.01.H22-250101-0001"}],
    }


@pytest.mark.parametrize("code", [0, "0", "00"], ids=["int-0", "str-0", "str-00"])
def test_reply_ok_for_every_success_spelling(code: object) -> None:
    """``error_code`` 0, "0" and "00" all mean success."""
    assert Reply.model_validate({"error_code": code, "message": ""}).ok


@pytest.mark.parametrize("code", ["1", 1, -1, "-1", "99", "", "0 "])
def test_reply_not_ok_otherwise(code: object) -> None:
    """Any other ``error_code`` is a failure."""
    assert not Reply.model_validate({"error_code": code, "message": "lỗi"}).ok


def test_reply_error_code_kept_as_text() -> None:
    """A numeric ``error_code`` is held as its string, one type for callers to compare."""
    assert Reply.model_validate({"error_code": -1}).error_code == "-1"


def test_reply_missing_error_code_is_success() -> None:
    """A reply without ``error_code`` defaults to success (0)."""
    assert Reply.model_validate({"result": []}).ok


def test_reply_keeps_unknown_fields() -> None:
    """Peer-specific extra reply fields are kept, not refused."""
    reply = Reply.model_validate({"error_code": 0, "total": 3})
    assert reply.model_extra == {"total": 3}


def test_reply_result_list() -> None:
    """``result`` carries the peer's list as given."""
    reply = Reply.model_validate({"error_code": "0", "result": [{"MaHoSo": "x"}]})
    assert reply.result == [{"MaHoSo": "x"}]


def test_envelope_valid(envelope_data: dict[str, Any]) -> None:
    """A full call body validates, ``isUpdating`` read as a TextBool."""
    envelope = CallEnvelope.model_validate(envelope_data)
    assert envelope.is_updating is TextBool.FALSE
    assert envelope.data == envelope_data["data"]


@pytest.mark.parametrize("name", ["session", "madonvi", "service"])
def test_envelope_requires_field(envelope_data: dict[str, Any], refuse: Refuse, name: str) -> None:
    """``session``, ``madonvi`` and ``service`` are required, each named when missing."""
    del envelope_data[name]
    assert refuse(CallEnvelope, envelope_data) == [((name,), "missing")]


@pytest.mark.parametrize("name", ["session", "madonvi", "service"])
def test_envelope_refuses_empty_field(
    envelope_data: dict[str, Any], refuse: Refuse, name: str
) -> None:
    """An empty ``session``, ``madonvi`` or ``service`` is refused."""
    envelope_data[name] = ""
    assert refuse(CallEnvelope, envelope_data) == [((name,), "string_too_short")]


def test_envelope_refuses_bad_is_updating(envelope_data: dict[str, Any], refuse: Refuse) -> None:
    """``isUpdating`` is "True" or "False", nothing else."""
    envelope_data["isUpdating"] = "1"
    assert refuse(CallEnvelope, envelope_data) == [(("isUpdating",), "enum")]


def test_envelope_keeps_service_params(envelope_data: dict[str, Any]) -> None:
    """Service-specific parameters (``maTTHC`` …) travel alongside the envelope fields."""
    envelope_data["maTTHC"] = "2.002492"
    assert CallEnvelope.model_validate(envelope_data).model_extra == {"maTTHC": "2.002492"}


def test_envelope_lookup_by_dossier_number() -> None:
    """A ``TraCuuHoSo`` call carries ``MaHoSo`` by its national name."""
    envelope = CallEnvelope.model_validate(
        {"session": "t", "madonvi": "000.00.01.H22", "service": "TraCuuHoSo", "MaHoSo": "x"}
    )
    assert envelope.dossier_no == "x"


def test_login_request_refuses_extra(refuse: Refuse) -> None:
    """The login body is exactly username and password."""
    data = {"username": "u", "password": "p", "dstcode": "H22"}
    assert refuse(LoginRequest, data) == [(("dstcode",), "extra_forbidden")]


def test_login_request_refuses_empty_password(refuse: Refuse) -> None:
    """An empty password is refused before any call is made."""
    assert refuse(LoginRequest, {"username": "u", "password": ""}) == [
        (("password",), "string_too_short")
    ]


def test_login_reply_session() -> None:
    """A successful login reply carries the session token."""
    assert LoginReply.model_validate({"error_code": 0, "session": "abc"}).session == "abc"
