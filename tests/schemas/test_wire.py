"""Wire scalars: timestamps, optional strings, amounts, ``MaHoSo`` and configured rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.schemas import (
    VIETNAM_TZ,
    DossierRecord,
    NationalFee,
    ProgressRecord,
    WireRules,
    format_wire_datetime,
    parse_wire_datetime,
)
from gateway.schemas.wire import check_dossier_number

from .samples import Refuse

# --- timestamps --------------------------------------------------------------------------------


def test_vietnam_zone_is_utc_plus_7() -> None:
    """The national zone is a fixed UTC+7."""
    assert VIETNAM_TZ.utcoffset(None) == timedelta(hours=7)


@pytest.mark.parametrize(
    "value", ["20250101000000", "20250101143000", "20251231235959", "20240229120000"]
)
def test_wire_datetime_accepted_and_kept_as_string(record_data: dict[str, Any], value: str) -> None:
    """A real 14-digit timestamp on a 24-hour clock is accepted and kept byte for byte."""
    record_data["NgayTiepNhan"] = value
    record_data["NgayHenTra"] = "20991231235959"
    record = DossierRecord.model_validate(record_data)
    assert record.received_at == value
    assert record.to_wire()["NgayTiepNhan"] == value


def test_parse_wire_datetime_reads_24_hour_clock() -> None:
    """A wire time "…143000" is half past two in the afternoon, UTC+7."""
    assert parse_wire_datetime("20250101143000") == datetime(2025, 1, 1, 14, 30, tzinfo=VIETNAM_TZ)


BAD_TIMESTAMPS = {
    "hour 24": "20250101240000",
    "minute 60": "20250101146000",
    "second 60": "20250101143060",
    "month 13": "20251301000000",
    "month 00": "20250001000000",
    "day 00": "20250100000000",
    "Feb 30": "20250230000000",
    "Feb 29 not leap": "20230229000000",
    "13 digits": "2025010114300",
    "15 digits": "202501011430000",
    "separators": "2025-01-01 14:30",
    "sign": "+2025010114300",
    "letters": "2025010114300a",
    "trailing newline": "20250101143000\n",
    "empty": "",
}


@pytest.mark.parametrize("value", BAD_TIMESTAMPS.values(), ids=BAD_TIMESTAMPS.keys())
def test_wire_datetime_refused(record_data: dict[str, Any], refuse: Refuse, value: str) -> None:
    """A malformed or impossible timestamp in a required date field fails rule ``wire_datetime``."""
    record_data["NgayTiepNhan"] = value
    assert refuse(DossierRecord, record_data) == [(("NgayTiepNhan",), "wire_datetime")]


@pytest.mark.parametrize("value", BAD_TIMESTAMPS.values(), ids=BAD_TIMESTAMPS.keys())
def test_parse_wire_datetime_raises_value_error(value: str) -> None:
    """``parse_wire_datetime`` raises ValueError on anything but a real timestamp."""
    with pytest.raises(ValueError, match=r"."):
        parse_wire_datetime(value)


def test_wire_datetime_refuses_non_ascii_digits(
    record_data: dict[str, Any], refuse: Refuse
) -> None:
    """Fullwidth digits are not a wire timestamp (the wire is ASCII)."""
    record_data["NgayTiepNhan"] = "２０２５０１０１０８３０００"
    assert refuse(DossierRecord, record_data) == [(("NgayTiepNhan",), "wire_datetime")]


def test_optional_date_refused_when_malformed(record_data: dict[str, Any], refuse: Refuse) -> None:
    """An optional timestamp, when present, obeys the same rule."""
    record_data["NgayTra"] = "20250101240000"
    assert refuse(DossierRecord, record_data) == [(("NgayTra",), "wire_datetime")]


def test_format_afternoon_stays_afternoon() -> None:
    """An afternoon time is written on the 24-hour clock, never twelve hours back."""
    value = datetime(2025, 1, 1, 14, 30, 5, tzinfo=VIETNAM_TZ)
    assert format_wire_datetime(value) == "20250101143005"


def test_format_just_after_midnight_is_hour_00() -> None:
    """Half past midnight is hour 00, not 12."""
    value = datetime(2025, 1, 1, 0, 30, tzinfo=VIETNAM_TZ)
    assert format_wire_datetime(value) == "20250101003000"


def test_format_converts_utc_to_utc_plus_7() -> None:
    """A UTC time is written as Vietnamese wall-clock time."""
    assert format_wire_datetime(datetime(2025, 1, 1, 7, 30, tzinfo=UTC)) == "20250101143000"


def test_format_converts_across_the_date_line() -> None:
    """A UTC evening is the next Vietnamese morning."""
    value = datetime(2024, 12, 31, 20, 0, tzinfo=UTC)
    assert format_wire_datetime(value) == "20250101030000"


def test_format_converts_negative_offset() -> None:
    """A time at UTC-5 is moved twelve hours ahead."""
    value = datetime(2025, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert format_wire_datetime(value) == "20250101140000"


def test_format_drops_microseconds() -> None:
    """Sub-second precision is dropped: the wire has 14 digits."""
    value = datetime(2025, 1, 1, 14, 30, 5, 999_999, tzinfo=VIETNAM_TZ)
    assert format_wire_datetime(value) == "20250101143005"


def test_format_refuses_naive() -> None:
    """A naive datetime is refused rather than guessed."""
    with pytest.raises(ValueError, match="naive"):
        format_wire_datetime(datetime(2025, 1, 1, 14, 30))


offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30), timezones=offsets
    )
)
def test_format_then_parse_is_the_same_instant(moment: datetime) -> None:
    """Formatting then parsing any aware time gives back the same instant, to the second."""
    assert parse_wire_datetime(format_wire_datetime(moment)) == moment.replace(microsecond=0)


@given(
    moment=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2199, 12, 31)).map(
        lambda naive: naive.replace(microsecond=0, tzinfo=VIETNAM_TZ)
    )
)
def test_parse_then_format_is_the_same_string(moment: datetime) -> None:
    """A valid wire string survives parse then format unchanged."""
    text = moment.strftime("%Y%m%d%H%M%S")
    assert format_wire_datetime(parse_wire_datetime(text)) == text


# --- empty strings -----------------------------------------------------------------------------

OPTIONAL_FIELDS = [
    ("SoBienNhan", "receipt_no"),
    ("Email", "email"),
    ("NgayTra", "returned_at"),
    ("NgayKetThucXuLy", "finished_at"),
    ("NoiNopHoSo", "submission_place"),
    ("HoSoCoThanhPhanSoHoa", "has_digitised_components"),
    ("DuocThanhToanTrucTuyen", "online_payment"),
]


@pytest.mark.parametrize(("alias", "attribute"), OPTIONAL_FIELDS)
def test_empty_string_reads_as_absent(
    record_data: dict[str, Any], alias: str, attribute: str
) -> None:
    """``""`` in an optional field means none: the attribute is None and the dump omits it."""
    record_data[alias] = ""
    record = DossierRecord.model_validate(record_data)
    assert getattr(record, attribute) is None
    assert alias not in record.to_wire()


def test_empty_string_refused_for_required_text(
    record_data: dict[str, Any], refuse: Refuse
) -> None:
    """``""`` does not satisfy a required text field."""
    record_data["TenTTHC"] = ""
    assert refuse(DossierRecord, record_data) == [(("TenTTHC",), "string_too_short")]


# --- amounts -----------------------------------------------------------------------------------


def _fee(amount: object) -> dict[str, Any]:
    return {"TenPhiLePhi": "Lệ phí", "HinhThucThu": "1", "Gia": amount, "LoaiPhiLePhi": "1"}


@pytest.mark.parametrize("amount", ["0", "8000", "1500000000"])
def test_amount_digits_accepted(amount: str) -> None:
    """A string of digits is an amount, kept as written."""
    assert NationalFee.model_validate(_fee(amount)).to_wire()["Gia"] == amount


@pytest.mark.parametrize(("amount", "wire"), [(0, "0"), (50000, "50000")])
def test_amount_int_accepted_as_string(amount: int, wire: str) -> None:
    """An int amount is accepted and carried as its digit string."""
    assert NationalFee.model_validate(_fee(amount)).to_wire()["Gia"] == wire


@pytest.mark.parametrize("amount", ["-1", "-8000", -5])
def test_negative_amount_refused(refuse: Refuse, amount: object) -> None:
    """A negative amount fails rule ``amount_non_negative``."""
    assert refuse(NationalFee, _fee(amount)) == [(("Gia",), "amount_non_negative")]


@pytest.mark.parametrize("amount", ["12.5", "abc", "", " 8000", "8 000", "1e3", 12.5, 8000.0, True])
def test_malformed_amount_refused(refuse: Refuse, amount: object) -> None:
    """Anything but whole digits (decimals, text, floats, booleans) fails rule ``amount_format``."""
    assert refuse(NationalFee, _fee(amount)) == [(("Gia",), "amount_format")]


def test_amount_refuses_non_ascii_digits(refuse: Refuse) -> None:
    """Fullwidth digits are not an amount the portal can read."""
    assert refuse(NationalFee, _fee("８０００")) == [(("Gia",), "amount_format")]


def test_nested_amount_error_path(record_data: dict[str, Any], refuse: Refuse) -> None:
    """A bad amount inside a record is reported at ``DanhSachLePhi.<i>.Gia``."""
    record_data["DanhSachLePhi"] = [_fee("8000"), _fee("-1")]
    assert refuse(DossierRecord, record_data) == [
        (("DanhSachLePhi", 1, "Gia"), "amount_non_negative")
    ]


# --- MaHoSo ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "000.00.01.H22-250101-0001",
        "000.20.31.H56-241231-9999",
        "G01.99.10.H22-240229-0042",
        "00.00.01.H22-250101-0001",
    ],
)
def test_dossier_number_valid_shapes(number: str) -> None:
    """``<agency>-<YYMMDD>-<NNNN>`` with a real date and a non-zero sequence is accepted."""
    assert check_dossier_number(number) == number


BAD_SHAPES = [
    "000.00.01.H22-250101-001",
    "000.00.01.H22-250101-00001",
    "000.00.01.H22-25011-0001",
    "000.00.01.H22-250101",
    "000.00.H22-250101-0001",
    "000.00.01.02.H22-250101-0001",
    "000.00.01.h22-250101-0001",
    "000.00.01.H22_250101_0001",
    "000.00.01.H22-250101-0001\n",
    " 000.00.01.H22-250101-0001",
    "000.00.01.H22 250101 0001",
    "",
]


@pytest.mark.parametrize("number", BAD_SHAPES)
def test_dossier_number_bad_shape(record_data: dict[str, Any], refuse: Refuse, number: str) -> None:
    """A ``MaHoSo`` of the wrong shape fails rule ``dossier_number_shape``."""
    record_data["MaHoSo"] = number
    assert refuse(DossierRecord, record_data) == [(("MaHoSo",), "dossier_number_shape")]


@pytest.mark.parametrize("day", ["250230", "251301", "250001", "250100", "230229", "250431"])
def test_dossier_number_impossible_date(
    record_data: dict[str, Any], refuse: Refuse, day: str
) -> None:
    """An impossible YYMMDD fails rule ``dossier_number_date``."""
    record_data["MaHoSo"] = f"000.00.01.H22-{day}-0001"
    assert refuse(DossierRecord, record_data) == [(("MaHoSo",), "dossier_number_date")]


def test_dossier_number_sequence_zero(record_data: dict[str, Any], refuse: Refuse) -> None:
    """Sequence 0000 fails rule ``dossier_number_sequence``: numbering starts at 0001."""
    record_data["MaHoSo"] = "000.00.01.H22-250101-0000"
    assert refuse(DossierRecord, record_data) == [(("MaHoSo",), "dossier_number_sequence")]


def test_dossier_number_refuses_non_ascii_digits(
    record_data: dict[str, Any], refuse: Refuse
) -> None:
    """Fullwidth digits in the date or sequence are not a ``MaHoSo`` shape."""
    record_data["MaHoSo"] = "000.00.01.H22-２５０１０１-０００１"
    assert refuse(DossierRecord, record_data) == [(("MaHoSo",), "dossier_number_shape")]


# --- configured length limits ------------------------------------------------------------------


def test_summary_at_default_limit_accepted(record_data: dict[str, Any]) -> None:
    """A ``TrichYeuHoSo`` of exactly 1000 characters is accepted by default."""
    record_data["TrichYeuHoSo"] = "a" * 1000
    assert len(DossierRecord.model_validate(record_data).summary) == 1000


def test_summary_over_default_limit_refused(record_data: dict[str, Any], refuse: Refuse) -> None:
    """A ``TrichYeuHoSo`` of 1001 characters fails ``string_too_long`` on that field."""
    record_data["TrichYeuHoSo"] = "a" * 1001
    assert refuse(DossierRecord, record_data) == [(("TrichYeuHoSo",), "string_too_long")]


def test_limit_counts_characters_not_bytes(record_data: dict[str, Any]) -> None:
    """1000 Vietnamese letters (more than 1000 UTF-8 bytes) are within the limit."""
    record_data["TrichYeuHoSo"] = "ệ" * 1000
    DossierRecord.model_validate(record_data)


def test_handler_limit_on_progress(progress_data: dict[str, Any], refuse: Refuse) -> None:
    """``NguoiXuLy`` may be 50 characters but not 51."""
    progress_data["NguoiXuLy"] = "a" * 50
    ProgressRecord.model_validate(progress_data)
    progress_data["NguoiXuLy"] = "a" * 51
    assert refuse(ProgressRecord, progress_data) == [(("NguoiXuLy",), "string_too_long")]


def test_file_name_limit_in_documents(full_record_data: dict[str, Any], refuse: Refuse) -> None:
    """``TenTepDinhKem`` may be 4000 characters but not 4001, reported at ``TaiLieuNop.0``."""
    full_record_data["TaiLieuNop"][0]["TenTepDinhKem"] = "a" * 4000
    DossierRecord.model_validate(full_record_data)
    full_record_data["TaiLieuNop"][0]["TenTepDinhKem"] = "a" * 4001
    assert refuse(DossierRecord, full_record_data) == [
        (("TaiLieuNop", 0, "TenTepDinhKem"), "string_too_long")
    ]


def test_file_name_limit_in_supplement_documents(
    full_record_data: dict[str, Any], refuse: Refuse
) -> None:
    """The ``TenTepDinhKem`` limit also holds inside a supplement's documents."""
    full_record_data["DanhSachHoSoBoSung"][0]["DanhSachGiayToBoSung"][0]["TenTepDinhKem"] = (
        "a" * 4001
    )
    path = ("DanhSachHoSoBoSung", 0, "DanhSachGiayToBoSung", 0, "TenTepDinhKem")
    assert refuse(DossierRecord, full_record_data) == [(path, "string_too_long")]


@pytest.mark.parametrize("list_name", ["DanhSachTepDinhKemKhac", "DanhSachGiayToKetQua"])
def test_paper_name_limit_in_both_lists(
    full_record_data: dict[str, Any], refuse: Refuse, list_name: str
) -> None:
    """``TenGiayTo`` may be 2000 characters but not 2001, in either list that carries it."""
    full_record_data[list_name][0]["TenGiayTo"] = "a" * 2000
    DossierRecord.model_validate(full_record_data)
    full_record_data[list_name][0]["TenGiayTo"] = "a" * 2001
    assert refuse(DossierRecord, full_record_data) == [
        ((list_name, 0, "TenGiayTo"), "string_too_long")
    ]


@pytest.mark.parametrize(
    "context",
    [WireRules(max_lengths={"TrichYeuHoSo": 10}), {"rules": WireRules({"TrichYeuHoSo": 10})}],
    ids=["rules", "dict"],
)
def test_lowered_limit_applies(
    record_data: dict[str, Any], refuse: Refuse, context: object
) -> None:
    """A limit lowered in ``WireRules`` (given as context, alone or under "rules") applies."""
    record_data["TrichYeuHoSo"] = "a" * 10
    DossierRecord.model_validate(record_data, context=context)
    record_data["TrichYeuHoSo"] = "a" * 11
    assert refuse(DossierRecord, record_data, context) == [(("TrichYeuHoSo",), "string_too_long")]


def test_raised_limit_applies(record_data: dict[str, Any]) -> None:
    """A limit raised in ``WireRules`` lets a longer value through."""
    record_data["TrichYeuHoSo"] = "a" * 1500
    rules = WireRules(max_lengths={"TrichYeuHoSo": 2000})
    DossierRecord.model_validate(record_data, context=rules)


def test_unrelated_context_keeps_defaults(record_data: dict[str, Any], refuse: Refuse) -> None:
    """A context that holds no ``WireRules`` leaves the default limits in force."""
    record_data["TrichYeuHoSo"] = "a" * 1001
    assert refuse(DossierRecord, record_data, {"other": 1}) == [
        (("TrichYeuHoSo",), "string_too_long")
    ]


def test_configuring_one_limit_keeps_the_other_defaults(
    progress_data: dict[str, Any], refuse: Refuse
) -> None:
    """Lowering ``TrichYeuHoSo`` does not lift the default ``NguoiXuLy`` limit of 50."""
    progress_data["NguoiXuLy"] = "a" * 51
    rules = WireRules(max_lengths={"TrichYeuHoSo": 500})
    assert refuse(ProgressRecord, progress_data, rules) == [(("NguoiXuLy",), "string_too_long")]


# --- configured code lists ---------------------------------------------------------------------


def test_submission_place_outside_configured_list_refused(
    record_data: dict[str, Any], refuse: Refuse
) -> None:
    """A ``NoiNopHoSo`` not in the configured list fails rule ``submission_place``."""
    record_data["NoiNopHoSo"] = "9"
    rules = WireRules(submission_places=frozenset({"1", "2"}))
    assert refuse(DossierRecord, record_data, rules) == [(("NoiNopHoSo",), "submission_place")]


def test_submission_place_in_configured_list_accepted(record_data: dict[str, Any]) -> None:
    """A ``NoiNopHoSo`` in the configured list is accepted."""
    record_data["NoiNopHoSo"] = "2"
    rules = WireRules(submission_places=frozenset({"1", "2"}))
    assert DossierRecord.model_validate(record_data, context=rules).submission_place == "2"


def test_submission_place_any_without_list(record_data: dict[str, Any]) -> None:
    """With no configured list, any ``NoiNopHoSo`` is accepted."""
    record_data["NoiNopHoSo"] = "anything"
    DossierRecord.model_validate(record_data, context=WireRules())


def test_database_code_outside_configured_list_refused(
    record_data: dict[str, Any], refuse: Refuse
) -> None:
    """A ``MaCSDL`` not in the configured list fails rule ``database_code`` at its path."""
    record_data["DSKetNoiCSDL"] = [{"MaCSDL": "CSDLQGDC"}, {"MaCSDL": "OTHER"}]
    rules = WireRules(database_codes=frozenset({"CSDLQGDC"}))
    assert refuse(DossierRecord, record_data, rules) == [
        (("DSKetNoiCSDL", 1, "MaCSDL"), "database_code")
    ]


def test_database_code_any_without_list(record_data: dict[str, Any]) -> None:
    """With no configured list, any non-empty ``MaCSDL`` is accepted."""
    record_data["DSKetNoiCSDL"] = [{"MaCSDL": "ANY-DB"}]
    record = DossierRecord.model_validate(record_data, context=WireRules())
    assert record.connected_databases[0].code == "ANY-DB"


def test_database_code_empty_refused(record_data: dict[str, Any], refuse: Refuse) -> None:
    """An empty ``MaCSDL`` is refused even with no configured list."""
    record_data["DSKetNoiCSDL"] = [{"MaCSDL": ""}]
    assert refuse(DossierRecord, record_data) == [
        (("DSKetNoiCSDL", 0, "MaCSDL"), "string_too_short")
    ]


def test_format_refuses_years_before_1000() -> None:
    """A year the 14-digit form cannot carry is refused, not written as 13 characters."""
    from datetime import datetime

    from gateway.schemas.wire import VIETNAM_TZ, format_wire_datetime

    with pytest.raises(ValueError, match="year before 1000"):
        format_wire_datetime(datetime(999, 1, 2, 3, 4, 5, tzinfo=VIETNAM_TZ))


def test_format_out_of_range_is_a_value_error() -> None:
    """A datetime that overflows when moved to UTC+7 raises ValueError, not OverflowError."""
    from datetime import datetime, timedelta, timezone

    from gateway.schemas.wire import format_wire_datetime

    edge = datetime.max.replace(tzinfo=timezone(-timedelta(hours=12)))
    with pytest.raises(ValueError, match="out of range"):
        format_wire_datetime(edge)
