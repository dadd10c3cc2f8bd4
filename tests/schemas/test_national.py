"""National records: ``DongBoHoSoMC`` dossiers and ``CapNhatTienDoHoSoMC`` steps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from gateway.schemas import (
    Channel,
    ConnectedDatabase,
    DossierRecord,
    DossierStatus,
    NationalDocument,
    NationalFee,
    NationalOtherAttachment,
    NationalResultDocument,
    NationalSupplement,
    OwnerIdentifier,
    ProgressRecord,
)

from .samples import Refuse

# The national field names of §2.2 / §2.3, written out independently of the models.
DOSSIER_FIELDS = {
    # core
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "KenhThucHien", "SoBienNhan",
    "ChuHoSo", "SoGiayToChuHoSo", "LoaiDoiTuong", "MaDoiTuong", "ThongTinKhac", "Email", "Fax",
    "SoDienThoai", "TrichYeuHoSo", "NgayTiepNhan", "NgayHenTra", "TrangThaiHoSo", "NgayTra",
    "ThongTinTra", "HinhThuc", "NgayKetThucXuLy", "DonViXuLy", "GhiChu",
    # read by the Decision 766 index
    "NoiNopHoSo", "HoSoCoThanhPhanSoHoa", "TaiKhoanDuocXacThucVoiVNeID",
    "DuocThanhToanTrucTuyen", "NgayTuChoi", "NgayNopHoSo", "DinhDanhCHS", "DSKetNoiCSDL",
    # lists
    "TaiLieuNop", "DanhSachLePhi", "DanhSachTepDinhKemKhac", "DanhSachHoSoBoSung",
    "DanhSachGiayToKetQua",
}  # fmt: skip
NESTED_FIELDS: dict[type[BaseModel], set[str]] = {
    OwnerIdentifier: {"LoaiDinhDanh", "SoDinhDanh"},
    ConnectedDatabase: {"MaCSDL"},
    NationalDocument: {
        "TepDinhKemId", "TenTepDinhKem", "IsDeleted", "MaThanhPhanHoSo", "DuongDanTaiTepTin",
        "DuocSoHoa", "DuocTaiSuDung", "DuocLayTuKhoDMQG", "MaKetQuaThayThe",
    },
    NationalFee: {"TenPhiLePhi", "MaPhiLePhi", "HinhThucThu", "Gia", "LoaiPhiLePhi"},
    NationalOtherAttachment: {"TenGiayTo", "SoLuong", "LoaiGiayTo"},
    NationalSupplement: {
        "HoSoBoSungId", "NguoiYeuCauBoSung", "NoiDungBoSung", "NgayBoSung",
        "NguoiTiepNhanBoSung", "ThongTinTiepNhan", "NgayTiepNhanBoSung", "TrangThaiBoSung",
        "DanhSachGiayToBoSung", "DanhSachLePhiBoSung", "NgayHenTraTruoc", "NgayHenTraMoi",
    },
    NationalResultDocument: {
        "TenGiayTo", "MaThanhPhanHoSo", "GiayToId", "DuongDanTepTinKetQua", "MaGiayToKetQua",
    },
    ProgressRecord: {
        "MaHoSo", "NguoiXuLy", "ChucDanh", "ThoiDiemXuLy", "PhongBanXuLy", "NoiDungXuLy",
        "TrangThai", "NgayBatDau", "NgayKetThucTheoQuyDinh",
    },
}  # fmt: skip

# §2.2 core fields not marked (opt), except KenhThucHien (missing counts as 1), Email /
# SoDienThoai (the model allows them absent, see test_contact_fields_may_be_absent), and
# SoGiayToChuHoSo / NgayHenTra, which real senders leave out (the intake flags them, issue 7).
REQUIRED_DOSSIER = [
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "LoaiDoiTuong",
    "TrichYeuHoSo", "NgayTiepNhan", "TrangThaiHoSo", "HinhThuc", "DonViXuLy",
]  # fmt: skip
REQUIRED_PROGRESS = ["MaHoSo", "NguoiXuLy", "ThoiDiemXuLy", "NoiDungXuLy", "TrangThai"]


def _aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


# --- field names ---------------------------------------------------------------------------------


def test_dossier_record_speaks_the_national_names() -> None:
    """``DossierRecord`` has exactly the national field names of §2.2."""
    assert _aliases(DossierRecord) == DOSSIER_FIELDS


@pytest.mark.parametrize("model", list(NESTED_FIELDS), ids=lambda m: m.__name__)
def test_nested_records_speak_the_national_names(model: type[BaseModel]) -> None:
    """Each list entry and the progress step have exactly their national field names."""
    assert _aliases(model) == NESTED_FIELDS[model]


def test_full_fixture_fills_every_field(full_record_data: dict[str, Any]) -> None:
    """The full record used below sets every top-level field, so it proves what it claims."""
    assert set(full_record_data) == DOSSIER_FIELDS


# --- a full record -------------------------------------------------------------------------------


def test_full_record_validates(full_record_data: dict[str, Any]) -> None:
    """A record with every field and every list filled is valid."""
    record = DossierRecord.model_validate(full_record_data)
    assert record.status is DossierStatus.RETURNED
    assert len(record.owner_identifiers) == 2


def test_full_record_dumps_back_byte_for_byte(full_record_data: dict[str, Any]) -> None:
    """``to_wire()`` gives back exactly the national packet that was validated."""
    assert DossierRecord.model_validate(full_record_data).to_wire() == full_record_data


def test_full_record_dumps_only_strings(full_record_data: dict[str, Any]) -> None:
    """Every scalar leaf of ``to_wire()`` is a string, codes and flags included."""
    wire = DossierRecord.model_validate(full_record_data).to_wire()
    leaves = list(_leaves(wire))
    assert len(leaves) > 60
    assert [(path, value) for path, value in leaves if type(value) is not str] == []


def test_int_amount_dumps_as_string(full_record_data: dict[str, Any]) -> None:
    """An amount given as an int still leaves as a string."""
    full_record_data["DanhSachLePhi"][0]["Gia"] = 8000
    wire = DossierRecord.model_validate(full_record_data).to_wire()
    assert wire["DanhSachLePhi"][0]["Gia"] == "8000"


def test_minimal_record_dump_has_defaults_and_omits_absent(record_data: dict[str, Any]) -> None:
    """A minimal record dumps its fields, the default channel and empty lists, and no None."""
    wire = DossierRecord.model_validate(record_data).to_wire()
    lists = ["TaiLieuNop", "DanhSachLePhi", "DanhSachTepDinhKemKhac", "DanhSachHoSoBoSung",
             "DanhSachGiayToKetQua", "DinhDanhCHS", "DSKetNoiCSDL"]  # fmt: skip
    assert wire == {**record_data, "KenhThucHien": "1", **{name: [] for name in lists}}


def test_validated_record_is_frozen(record_data: dict[str, Any]) -> None:
    """A validated record cannot be changed in place."""
    record = DossierRecord.model_validate(record_data)
    with pytest.raises(ValueError, match="frozen"):
        record.summary = "x"  # type: ignore[misc]  # the assignment under test is refused


# --- refusals ------------------------------------------------------------------------------------


def test_unknown_field_refused_by_name(record_data: dict[str, Any], refuse: Refuse) -> None:
    """A misspelt field is refused as ``extra_forbidden`` at its own name, not dropped."""
    record_data["TrichYeuHoso"] = "typo"
    assert refuse(DossierRecord, record_data) == [(("TrichYeuHoso",), "extra_forbidden")]


def test_unknown_nested_field_refused(full_record_data: dict[str, Any], refuse: Refuse) -> None:
    """An unknown field inside a list entry is refused at its nested path."""
    full_record_data["DanhSachLePhi"][0]["SoTien"] = "8000"
    assert refuse(DossierRecord, full_record_data) == [
        (("DanhSachLePhi", 0, "SoTien"), "extra_forbidden")
    ]


@pytest.mark.parametrize("name", REQUIRED_DOSSIER)
def test_required_field_missing_named(
    record_data: dict[str, Any], refuse: Refuse, name: str
) -> None:
    """A missing required field is reported as ``missing`` under its national name."""
    del record_data[name]
    assert refuse(DossierRecord, record_data) == [((name,), "missing")]


def test_all_missing_fields_reported_together(refuse: Refuse) -> None:
    """An empty record names every required field at once."""
    assert sorted(refuse(DossierRecord, {})) == sorted(((n,), "missing") for n in REQUIRED_DOSSIER)


@pytest.mark.parametrize("channel", [None, ""], ids=["null", "empty"])
def test_blank_channel_defaults_to_in_person(record_data: dict[str, Any], channel: Any) -> None:
    """A null or empty ``KenhThucHien`` counts as "1", in person."""
    record_data["KenhThucHien"] = channel
    record = DossierRecord.model_validate(record_data)
    assert record.channel is Channel.IN_PERSON
    assert record.to_wire()["KenhThucHien"] == "1"


def test_missing_channel_defaults_to_in_person(record_data: dict[str, Any]) -> None:
    """A missing ``KenhThucHien`` counts as "1", in person, and is sent as "1"."""
    record = DossierRecord.model_validate(record_data)
    assert record.channel is Channel.IN_PERSON
    assert record.to_wire()["KenhThucHien"] == "1"


@pytest.mark.parametrize("name", ["Email", "SoDienThoai"])
def test_contact_fields_may_be_absent(record_data: dict[str, Any], name: str) -> None:
    """Counter dossiers often lack ``Email`` and ``SoDienThoai``: absent is accepted, not sent."""
    assert name not in record_data
    assert name not in DossierRecord.model_validate(record_data).to_wire()


def test_due_before_received_refused(record_data: dict[str, Any], refuse: Refuse) -> None:
    """``NgayHenTra`` before ``NgayTiepNhan`` fails ``due_before_received`` on ``NgayHenTra``."""
    record_data["NgayTiepNhan"] = "20250102083000"
    record_data["NgayHenTra"] = "20250102082959"
    assert refuse(DossierRecord, record_data) == [(("NgayHenTra",), "due_before_received")]


def test_due_equal_to_received_accepted(record_data: dict[str, Any]) -> None:
    """A dossier due at the moment it is received (settled on the spot) is accepted."""
    record_data["NgayHenTra"] = record_data["NgayTiepNhan"]
    DossierRecord.model_validate(record_data)


def test_due_not_compared_with_a_malformed_received(
    record_data: dict[str, Any], refuse: Refuse
) -> None:
    """A malformed ``NgayTiepNhan`` is reported once, without a spurious due-date error."""
    record_data["NgayTiepNhan"] = "99999999999999"
    assert refuse(DossierRecord, record_data) == [(("NgayTiepNhan",), "wire_datetime")]


@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        (("DanhSachLePhi", 0, "Gia"), "12.5", "amount_format"),
        (("DanhSachLePhi", 0, "TenPhiLePhi"), "", "string_too_short"),
        (("DanhSachTepDinhKemKhac", 0, "SoLuong"), "-1", "string_pattern_mismatch"),
        (("DanhSachTepDinhKemKhac", 0, "SoLuong"), "1234567", "string_pattern_mismatch"),
        (("DanhSachHoSoBoSung", 0, "NgayBoSung"), "20250101250000", "wire_datetime"),
        (("DanhSachHoSoBoSung", 0, "DanhSachLePhiBoSung", 0, "Gia"), "-1", "amount_non_negative"),
        (("DanhSachGiayToKetQua", 0, "TenGiayTo"), "", "string_too_short"),
        (("DSKetNoiCSDL", 0, "MaCSDL"), " CSDL", "string_pattern_mismatch"),
        (("MaTTHC",), "x" * 65, "string_too_long"),
    ],
    ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else None,
)
def test_nested_error_paths(
    full_record_data: dict[str, Any], refuse: Refuse, path: tuple[Any, ...], value: str, rule: str
) -> None:
    """An invalid value deep in a record is reported at its full national path with its rule."""
    target: Any = full_record_data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert refuse(DossierRecord, full_record_data) == [(path, rule)]


def test_quantity_refuses_non_ascii_digits(
    full_record_data: dict[str, Any], refuse: Refuse
) -> None:
    """A fullwidth ``SoLuong`` is not a count the portal can read."""
    full_record_data["DanhSachTepDinhKemKhac"][0]["SoLuong"] = "２"
    path = ("DanhSachTepDinhKemKhac", 0, "SoLuong")
    assert refuse(DossierRecord, full_record_data) == [(path, "string_pattern_mismatch")]


def test_by_attribute_name_also_accepted(record_data: dict[str, Any]) -> None:
    """Records may be built with English attribute names and still dump national names."""
    record = DossierRecord.model_validate(record_data)
    rebuilt = DossierRecord(**record.model_dump())
    assert rebuilt.to_wire() == record.to_wire()


# --- agency ---------------------------------------------------------------------------------------


def test_agency_of_dossier(record_data: dict[str, Any]) -> None:
    """``.agency`` is the agency code that opens ``MaHoSo``."""
    record_data["MaHoSo"] = "000.20.31.H56-241231-0042"
    assert DossierRecord.model_validate(record_data).agency == "000.20.31.H56"


def test_agency_of_progress(progress_data: dict[str, Any]) -> None:
    """A step's ``.agency`` is the agency code of its ``MaHoSo``."""
    progress_data["MaHoSo"] = "G01.99.10.H22-250101-0001"
    assert ProgressRecord.model_validate(progress_data).agency == "G01.99.10.H22"


# --- progress steps -------------------------------------------------------------------------------


def test_progress_valid_dumps_back(progress_data: dict[str, Any]) -> None:
    """A full progress step is valid and dumps back to the same strings."""
    step = ProgressRecord.model_validate(progress_data)
    assert step.status is DossierStatus.PROCESSING
    assert step.to_wire() == progress_data


@pytest.mark.parametrize("name", REQUIRED_PROGRESS)
def test_progress_required_field_missing(
    progress_data: dict[str, Any], refuse: Refuse, name: str
) -> None:
    """A step missing a required field names it."""
    del progress_data[name]
    assert refuse(ProgressRecord, progress_data) == [((name,), "missing")]


@pytest.mark.parametrize(
    "name", ["ChucDanh", "PhongBanXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh"]
)
def test_progress_optional_field_may_be_empty(progress_data: dict[str, Any], name: str) -> None:
    """An optional step field sent as ``""`` is read as absent and not sent back."""
    progress_data[name] = ""
    assert name not in ProgressRecord.model_validate(progress_data).to_wire()


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("MaHoSo", "000.00.01.H22-250101-0000", "dossier_number_sequence"),
        ("ThoiDiemXuLy", "20250102243000", "wire_datetime"),
        ("NgayBatDau", "2025010208300", "wire_datetime"),
        ("NoiDungXuLy", None, "string_type"),
        ("TrangThai", "0", "enum"),
        ("TrangThaiHoSo", "4", "extra_forbidden"),
    ],
)
def test_progress_invalid(
    progress_data: dict[str, Any], refuse: Refuse, name: str, value: str, rule: str
) -> None:
    """An invalid step is refused at the offending field with the rule it broke."""
    progress_data[name] = value
    assert refuse(ProgressRecord, progress_data) == [((name,), rule)]
