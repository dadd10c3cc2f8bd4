"""The national code tables (national-formats.md §2.4) as enums, and how records use them."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import pytest

import gateway.schemas.codes as codes
from gateway.schemas import (
    ApplicantType,
    Channel,
    DossierRecord,
    DossierStatus,
    FeeCollection,
    FeeType,
    Flag,
    IdentifierType,
    OnlinePayment,
    ProgressRecord,
    ResultDelivery,
    TextBool,
)

from .samples import OLD_ID_CARD, PERSONAL_ID, Loc, Refuse

# Written out from §2.2 / §2.4, not from the enums: wire value -> member name.
TABLES: dict[type[Enum], dict[str, str]] = {
    DossierStatus: {
        "1": "REGISTERED",
        "2": "RECEIVED",
        "3": "REJECTED",
        "4": "PROCESSING",
        "5": "SUPPLEMENT_REQUESTED",
        "6": "PAYMENT_REQUESTED",
        "7": "WITHDRAWN",
        "8": "STOPPED",
        "9": "FINISHED",
        "10": "RETURNED",
    },
    Channel: {"1": "IN_PERSON", "2": "ONLINE", "3": "POSTAL"},
    ApplicantType: {
        "1": "CITIZEN",
        "2": "ENTERPRISE",
        "3": "STATE_AGENCY",
        "4": "OTHER_ORGANISATION",
    },
    ResultDelivery: {"0": "AT_COUNTER", "1": "BY_POST"},
    FeeCollection: {"1": "ON_RECEPTION", "2": "ON_SUPPLEMENT", "4": "ON_RESULT"},
    FeeType: {"1": "ORDINARY", "2": "APPRAISAL", "3": "RENEWAL"},
    IdentifierType: {"1": "PERSONAL_ID", "2": "OLD_ID_CARD"},
    OnlinePayment: {"0": "NO", "1": "NATIONAL_PLATFORM", "2": "OTHER_GATEWAY"},
    Flag: {"0": "NO", "1": "YES"},
    TextBool: {"True": "TRUE", "False": "FALSE"},
}

ENTRIES = [
    pytest.param(enum, value, name, id=f"{enum.__name__}-{value}")
    for enum, table in TABLES.items()
    for value, name in table.items()
]

# Where each table travels in a dossier record, and the attribute it becomes.
PLACES: dict[type[Enum], tuple[Loc, Callable[[DossierRecord], Any]]] = {
    DossierStatus: (("TrangThaiHoSo",), lambda r: r.status),
    Channel: (("KenhThucHien",), lambda r: r.channel),
    ApplicantType: (("LoaiDoiTuong",), lambda r: r.applicant_type),
    ResultDelivery: (("HinhThuc",), lambda r: r.result_delivery),
    FeeCollection: (("DanhSachLePhi", 0, "HinhThucThu"), lambda r: r.fees[0].collection),
    FeeType: (("DanhSachLePhi", 0, "LoaiPhiLePhi"), lambda r: r.fees[0].kind),
    IdentifierType: (("DinhDanhCHS", 0, "LoaiDinhDanh"), lambda r: r.owner_identifiers[0].kind),
    OnlinePayment: (("DuocThanhToanTrucTuyen",), lambda r: r.online_payment),
    Flag: (("HoSoCoThanhPhanSoHoa",), lambda r: r.has_digitised_components),
    TextBool: (("TaiLieuNop", 0, "IsDeleted"), lambda r: r.documents[0].deleted),
}

TERMINAL_CODES = {"3", "7", "8", "10"}


def _get(data: Any, path: Loc) -> Any:
    for key in path:
        data = data[key]
    return data


def _set(data: Any, path: Loc, value: str) -> None:
    _get(data, path[:-1])[path[-1]] = value


@pytest.fixture
def coded_record(full_record_data: dict[str, Any]) -> dict[str, Any]:
    """The full record with one owner identifier, so each list path names one entry."""
    full_record_data["DinhDanhCHS"] = full_record_data["DinhDanhCHS"][:1]
    return full_record_data


def test_every_code_table_is_written_out_here() -> None:
    """Each enum the codes module exports has an independent table in this file."""
    assert {getattr(codes, name) for name in codes.__all__} == set(TABLES)


@pytest.mark.parametrize("enum", list(TABLES), ids=lambda e: e.__name__)
def test_enum_has_exactly_the_table_values(enum: type[Enum]) -> None:
    """Each enum holds exactly the codes of its national table, no more and no fewer."""
    assert sorted(member.value for member in enum) == sorted(TABLES[enum])


@pytest.mark.parametrize(("enum", "value", "name"), ENTRIES)
def test_wire_value_maps_to_member(enum: type[Enum], value: str, name: str) -> None:
    """The wire code reads as the member that carries its meaning."""
    assert enum(value) is enum[name]


@pytest.mark.parametrize(("enum", "value", "name"), ENTRIES)
def test_wire_value_round_trips_through_record(
    coded_record: dict[str, Any], enum: type[Enum], value: str, name: str
) -> None:
    """A code in a record validates to its member and is dumped back as the same string."""
    path, attribute = PLACES[enum]
    _set(coded_record, path, value)
    if enum is IdentifierType:
        coded_record["DinhDanhCHS"][0]["SoDinhDanh"] = PERSONAL_ID if value == "1" else OLD_ID_CARD
    record = DossierRecord.model_validate(coded_record)
    assert attribute(record) is enum[name]
    dumped = _get(record.to_wire(), path)
    assert type(dumped) is str
    assert dumped == value


@pytest.mark.parametrize(("value", "name"), TABLES[DossierStatus].items())
def test_progress_status_round_trips(progress_data: dict[str, Any], value: str, name: str) -> None:
    """A step's ``TrangThai`` uses the dossier status table and dumps back unchanged."""
    progress_data["TrangThai"] = value
    step = ProgressRecord.model_validate(progress_data)
    assert step.status is DossierStatus[name]
    assert step.to_wire()["TrangThai"] == value


UNKNOWN_CODES = [
    (("TrangThaiHoSo",), "11"),
    (("TrangThaiHoSo",), "0"),
    (("TrangThaiHoSo",), "04"),
    (("KenhThucHien",), "4"),
    (("KenhThucHien",), "0"),
    (("LoaiDoiTuong",), "5"),
    (("HinhThuc",), "2"),
    (("DanhSachLePhi", 0, "HinhThucThu"), "3"),
    (("DanhSachLePhi", 0, "LoaiPhiLePhi"), "4"),
    (("DinhDanhCHS", 0, "LoaiDinhDanh"), "3"),
    (("HoSoCoThanhPhanSoHoa",), "2"),
    (("TaiKhoanDuocXacThucVoiVNeID",), "true"),
    (("TaiLieuNop", 0, "DuocSoHoa"), "2"),
    (("TaiLieuNop", 0, "IsDeleted"), "1"),
    (("TaiLieuNop", 0, "IsDeleted"), "true"),
]


@pytest.mark.parametrize(
    ("path", "value"), UNKNOWN_CODES, ids=[f"{p[-1]}={v}" for p, v in UNKNOWN_CODES]
)
def test_unknown_code_refused_with_field_path(
    coded_record: dict[str, Any], refuse: Refuse, path: Loc, value: str
) -> None:
    """A code outside its table is refused, and the error names the field's national path."""
    _set(coded_record, path, value)
    assert refuse(DossierRecord, coded_record) == [(path, "enum")]


OPEN_CODES = [(("DuocThanhToanTrucTuyen",), "3"), (("TaiLieuNop", 0, "DuocTaiSuDung"), "2")]


@pytest.mark.parametrize(("path", "value"), OPEN_CODES, ids=[p[-1] for p, _ in OPEN_CODES])
def test_forwarded_code_outside_table_is_kept_as_sent(
    coded_record: dict[str, Any], path: Loc, value: str
) -> None:
    """Codes the gateway only forwards keep a value outside today's table, unchanged."""
    _set(coded_record, path, value)
    wire: Any = DossierRecord.model_validate(coded_record).to_wire()
    for part in path:
        wire = wire[part]
    assert wire == value


@pytest.mark.parametrize("value", ["x", "123", " 3"])
def test_forwarded_code_must_still_be_a_digit_code(
    coded_record: dict[str, Any], refuse: Refuse, value: str
) -> None:
    """An open code is still one or two digits: anything else is refused."""
    coded_record["DuocThanhToanTrucTuyen"] = value
    assert refuse(DossierRecord, coded_record) == [(("DuocThanhToanTrucTuyen",), "enum")]


def test_numeric_status_refused(record_data: dict[str, Any], refuse: Refuse) -> None:
    """Codes travel as strings: a JSON number status is refused, not coerced."""
    record_data["TrangThaiHoSo"] = 4
    assert refuse(DossierRecord, record_data) == [(("TrangThaiHoSo",), "enum")]


def test_unknown_progress_status_refused(progress_data: dict[str, Any], refuse: Refuse) -> None:
    """A step whose ``TrangThai`` is outside the table is refused on that field."""
    progress_data["TrangThai"] = "11"
    assert refuse(ProgressRecord, progress_data) == [(("TrangThai",), "enum")]


@pytest.mark.parametrize("status", list(DossierStatus), ids=lambda s: s.value)
def test_terminal_exactly_for_3_7_8_10(status: DossierStatus) -> None:
    """``terminal`` is true for rejected, withdrawn, stopped and returned, and for no other."""
    assert status.terminal is (status.value in TERMINAL_CODES)


def test_flag_of_bool() -> None:
    """``Flag.of`` maps True to "1" and False to "0"."""
    assert (Flag.of(True), Flag.of(False)) == (Flag.YES, Flag.NO)
    assert (Flag.of(True).value, Flag.of(False).value) == ("1", "0")


def test_flag_truthiness_follows_meaning() -> None:
    """``Flag.NO`` is falsy although "0" is a non-empty string; ``Flag.YES`` is truthy."""
    assert bool(Flag.YES) is True
    assert bool(Flag.NO) is False


def test_text_bool_of_bool() -> None:
    """``TextBool.of`` maps True to "True" and False to "False"."""
    assert (TextBool.of(True).value, TextBool.of(False).value) == ("True", "False")


def test_text_bool_truthiness_follows_meaning() -> None:
    """``TextBool.FALSE`` is falsy like ``Flag.NO``, so ``if doc.deleted`` means what it says."""
    assert bool(TextBool.TRUE) is True
    assert bool(TextBool.FALSE) is False
