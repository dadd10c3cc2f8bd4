"""Dossier mapping, hand-written cases (gateway/mappers/dossier.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.mappers import dossier_from_national, dossier_to_national
from gateway.schemas import VIETNAM_TZ, Dossier, DossierRecord, WireRules

PERSONAL_ID = "001186012345"  # Hà Nội, born 1986, female


def provincial(**changes: Any) -> Dossier:
    """A small valid provincial dossier; ``applicant`` changes merge into the applicant."""
    data: dict[str, Any] = {
        "dossier_no": "000.00.01.H22-250310-0007",
        "procedure_code": "1.001612",
        "procedure_name": "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
        "field_code": "HDXD",
        "field_name": "Hoạt động xây dựng",
        "applicant": {"kind": "1", "name": "Nguyễn Thị Minh Anh", "paper_number": PERSONAL_ID},
        "summary": "Đề nghị cấp giấy phép xây dựng nhà ở riêng lẻ",
        "received_at": "2025-03-10T09:15:00+07:00",
        "due_at": "2025-03-31T17:00:00+07:00",
        "status": "2",
        "processing_unit": "Sở Xây dựng",
    }
    data["applicant"].update(changes.pop("applicant", {}))
    data.update(changes)
    return Dossier.model_validate(data)


def wire(d: Dossier, rules: WireRules | None = None) -> dict[str, Any]:
    """The national wire dict of a provincial dossier."""
    return dossier_to_national(d, rules=rules).to_wire()


# --- datetimes ---------------------------------------------------------------------------------


def test_afternoon_time_stays_afternoon() -> None:
    """A 14:30 reception is sent as …143000, never …023000 (12-hour clock bug)."""
    d = provincial(received_at="2025-03-10T14:30:00+07:00")
    assert wire(d)["NgayTiepNhan"] == "20250310143000"


def test_utc_datetime_is_sent_in_utc_plus_7() -> None:
    """A submission at 01:40:12Z is sent as 08:40:12 Vietnam time."""
    d = provincial(submitted_at="2025-03-10T01:40:12Z")
    assert wire(d)["NgayNopHoSo"] == "20250310084012"


def test_western_offset_crosses_midnight_into_the_vietnam_day() -> None:
    """20:15 at UTC-5 on 10 March is 08:15 on 11 March in Vietnam."""
    finished = datetime(2025, 3, 10, 20, 15, tzinfo=timezone(timedelta(hours=-5)))
    d = provincial(finished_at=finished)
    assert wire(d)["NgayKetThucXuLy"] == "20250311081500"


def test_naive_datetime_is_refused() -> None:
    """A provincial dossier with a naive datetime is refused, never guessed into a zone."""
    with pytest.raises(ValidationError) as info:
        provincial(received_at="2025-03-10T09:15:00")
    assert info.value.errors()[0]["type"] == "iso_datetime"


def test_sub_second_part_is_dropped() -> None:
    """The wire has whole seconds; milliseconds are dropped, not rounded."""
    d = provincial(received_at="2025-03-10T09:15:00.999+07:00")
    assert wire(d)["NgayTiepNhan"] == "20250310091500"


def test_national_datetimes_come_back_aware_in_utc_plus_7() -> None:
    """Every datetime read from a national record is aware and in Asia/Ho_Chi_Minh."""
    back = dossier_from_national(dossier_to_national(provincial(received_at="2025-03-10T02:15Z")))
    assert back.received_at == datetime(2025, 3, 10, 9, 15, tzinfo=VIETNAM_TZ)
    assert back.received_at.tzinfo is VIETNAM_TZ


# --- flags, booleans and amounts ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "flag"), [(True, "1"), (False, "0")])
def test_bool_is_sent_as_flag(value: bool, flag: str) -> None:
    """A provincial bool becomes the national "1"/"0" flag."""
    d = provincial(has_digitised_components=value, applicant={"verified_with_vneid": value})
    sent = wire(d)
    assert sent["HoSoCoThanhPhanSoHoa"] == flag
    assert sent["TaiKhoanDuocXacThucVoiVNeID"] == flag


def test_unknown_bool_is_left_out() -> None:
    """None (not known) is not sent at all, rather than sent as "0"."""
    sent = wire(provincial())
    assert "HoSoCoThanhPhanSoHoa" not in sent
    assert "TaiKhoanDuocXacThucVoiVNeID" not in sent


@pytest.mark.parametrize(("deleted", "text"), [(True, "True"), (False, "False")])
def test_document_deleted_is_sent_as_text_bool(deleted: bool, text: str) -> None:
    """IsDeleted travels as "True"/"False", unlike the "0"/"1" flags."""
    d = provincial(documents=[{"name": "Đơn đề nghị", "deleted": deleted, "digitised": True}])
    doc = wire(d)["TaiLieuNop"][0]
    assert doc["IsDeleted"] == text
    assert doc["DuocSoHoa"] == "1"


def test_flags_come_back_as_bools() -> None:
    """National "1"/"0"/"True"/"False" come back as True/False, absent as None."""
    d = provincial(documents=[{"name": "Đơn", "deleted": True, "digitised": False}])
    doc = dossier_from_national(dossier_to_national(d)).documents[0]
    assert (doc.deleted, doc.digitised, doc.reused) == (True, False, None)


def test_fee_amount_is_sent_as_digits() -> None:
    """75,000 VND is sent as "75000" and comes back as the int 75000."""
    fee = {"name": "Lệ phí cấp giấy phép", "collection": "1", "amount": 75000, "kind": "2"}
    record = dossier_to_national(provincial(fees=[fee]))
    assert record.to_wire()["DanhSachLePhi"][0]["Gia"] == "75000"
    assert dossier_from_national(record).fees[0].amount == 75000


def test_attached_paper_quantity_is_sent_as_digits() -> None:
    """A quantity of 2 papers is sent as "2"."""
    d = provincial(attached_papers=[{"name": "Ảnh hiện trạng", "quantity": 2}])
    assert wire(d)["DanhSachTepDinhKemKhac"][0]["SoLuong"] == "2"


# --- applicant and lists -----------------------------------------------------------------------


def test_applicant_maps_to_owner_fields() -> None:
    """The applicant's fields land on ChuHoSo, SoGiayToChuHoSo, MaDoiTuong and the contacts."""
    d = provincial(
        applicant={
            "account_id": "DVCQG-1",
            "email": "a@example.com",
            "phone": "0912345678",
            "fax": "0243",
            "other_info": "Ủy quyền",
        }
    )
    sent = wire(d)
    assert sent["ChuHoSo"] == "Nguyễn Thị Minh Anh"
    assert sent["SoGiayToChuHoSo"] == PERSONAL_ID
    assert sent["LoaiDoiTuong"] == "1"
    assert sent["MaDoiTuong"] == "DVCQG-1"
    assert (sent["Email"], sent["SoDienThoai"], sent["Fax"]) == (
        "a@example.com",
        "0912345678",
        "0243",
    )
    assert sent["ThongTinKhac"] == "Ủy quyền"


def test_identifiers_map_to_dinh_danh_chs() -> None:
    """Owner identifiers become DinhDanhCHS entries with LoaiDinhDanh and SoDinhDanh."""
    d = provincial(applicant={"identifiers": [{"kind": "1", "number": PERSONAL_ID}]})
    assert wire(d)["DinhDanhCHS"] == [{"LoaiDinhDanh": "1", "SoDinhDanh": PERSONAL_ID}]


def test_connected_databases_map_to_ds_ket_noi_csdl() -> None:
    """Each connected database code becomes a {MaCSDL} entry, and comes back as a code."""
    record = dossier_to_national(provincial(connected_databases=["CSDLQGDC"]))
    assert record.to_wire()["DSKetNoiCSDL"] == [{"MaCSDL": "CSDLQGDC"}]
    assert dossier_from_national(record).connected_databases == ["CSDLQGDC"]


def test_birth_date_and_sex_are_not_sent() -> None:
    """The applicant's birth date and sex stay in the province and come back as None."""
    d = provincial(applicant={"birth_date": "1986-08-15", "sex": "female"})
    record = dossier_to_national(d)
    sent = json.dumps(record.to_wire(), ensure_ascii=False)
    assert "1986-08-15" not in sent
    assert "female" not in sent
    back = dossier_from_national(record).applicant
    assert (back.birth_date, back.sex) == (None, None)


def test_empty_optional_text_is_left_out() -> None:
    """An empty provincial email is "none" on the wire: left out, and None when read back."""
    record = dossier_to_national(provincial(applicant={"email": ""}))
    assert "Email" not in record.to_wire()
    assert dossier_from_national(record).applicant.email is None


def test_missing_channel_reads_as_in_person() -> None:
    """A national record without KenhThucHien maps to the in-person channel."""
    data = wire(provincial())
    del data["KenhThucHien"]
    assert dossier_from_national(DossierRecord.model_validate(data)).channel.value == "1"


# --- national rules apply ----------------------------------------------------------------------


def test_summary_over_limit_names_the_national_field() -> None:
    """A 1001-character summary is refused at TrichYeuHoSo with rule string_too_long."""
    with pytest.raises(ValidationError) as info:
        dossier_to_national(provincial(summary="x" * 1001))
    [error] = info.value.errors()
    assert error["loc"] == ("TrichYeuHoSo",)
    assert error["type"] == "string_too_long"


def test_configured_limit_applies() -> None:
    """A limit passed in WireRules replaces the default one."""
    rules = WireRules(max_lengths={"TrichYeuHoSo": 20})
    dossier_to_national(provincial(summary="x" * 20), rules=rules)
    with pytest.raises(ValidationError) as info:
        dossier_to_national(provincial(summary="x" * 21), rules=rules)
    assert info.value.errors()[0]["loc"] == ("TrichYeuHoSo",)


def test_nested_breach_is_located_by_national_path() -> None:
    """An over-long document name is located at TaiLieuNop.0.TenTepDinhKem."""
    rules = WireRules(max_lengths={"TenTepDinhKem": 10})
    d = provincial(documents=[{"name": "Đơn đề nghị cấp giấy phép xây dựng"}])
    with pytest.raises(ValidationError) as info:
        dossier_to_national(d, rules=rules)
    assert info.value.errors()[0]["loc"] == ("TaiLieuNop", 0, "TenTepDinhKem")


def test_configured_database_codes_apply() -> None:
    """A database code outside the configured list is refused at DSKetNoiCSDL.0.MaCSDL."""
    rules = WireRules(database_codes=frozenset({"CSDLQGDC"}))
    with pytest.raises(ValidationError) as info:
        dossier_to_national(provincial(connected_databases=["KHAC"]), rules=rules)
    error = info.value.errors()[0]
    assert (error["loc"], error["type"]) == (("DSKetNoiCSDL", 0, "MaCSDL"), "database_code")


def test_code_with_leading_space_is_refused_nationally() -> None:
    """A procedure code the province accepts but the portal would not is refused at MaTTHC."""
    with pytest.raises(ValidationError) as info:
        dossier_to_national(provincial(procedure_code=" 1.001612"))
    assert info.value.errors()[0]["loc"] == ("MaTTHC",)
