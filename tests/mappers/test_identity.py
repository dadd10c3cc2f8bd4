"""Offline ID-number checks, person comparison and entitled views (pure functions)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from gateway.mappers.identity import compare_person, entitled_view, offline_violations
from gateway.schemas.citizen import Citizen
from gateway.schemas.identity import IdentityQuery

SEX = {"1": "male", "2": "female"}


def query(number: str = "001090012345", **fields: Any) -> IdentityQuery:
    values: dict[str, Any] = {"id_number": number, "full_name": "Nguyễn Văn An"}
    values.update(fields)
    if "birth_date" not in values and "birth_year" not in values:
        values["birth_date"] = date(1990, 2, 15)
    return IdentityQuery.model_validate(values)


def rules(q: IdentityQuery) -> list[str]:
    return [v.rule for v in offline_violations(q)]


def test_a_valid_number_passes() -> None:
    """A 12-digit number with a province code, century and year matching the person passes."""
    assert offline_violations(query(sex="male")) == []
    assert offline_violations(query("079301004567", birth_year=2001, sex="female")) == []


def test_wrong_length_is_named() -> None:
    """11 or 13 digits break personal_id_length, with the count in the message."""
    [violation] = offline_violations(query("00109001234"))
    assert (violation.path, violation.rule) == ("id_number", "personal_id_length")
    assert "not 11" in violation.message
    assert rules(query("0010900123456")) == ["personal_id_length"]


def test_non_digits_are_named() -> None:
    """Letters or non-ASCII digits break personal_id_digits (and nothing else is checked)."""
    assert rules(query("00109001234X")) == ["personal_id_digits"]
    assert rules(query("００１090012345"[:12])) == ["personal_id_digits"]


def test_wrong_province_code_is_named() -> None:
    """Digits 1-3 outside the birth-registration province codes break personal_id_province."""
    assert rules(query("003090012345")) == ["personal_id_province"]
    assert rules(query("099090012345")) == ["personal_id_province"]


def test_century_digit_against_birth_year() -> None:
    """Digit 4 for 2000-2099 against a 1990 birth breaks personal_id_century."""
    [violation] = offline_violations(query("001290012345"))
    assert violation.rule == "personal_id_century"
    assert "2000-2099" in violation.message
    assert rules(query("001090012345", birth_year=2090)) == ["personal_id_century"]


def test_year_digits_against_birth_year() -> None:
    """Digits 5-6 other than the year's last two break personal_id_birth_year."""
    assert rules(query("001091012345")) == ["personal_id_birth_year"]


def test_century_digit_against_sex() -> None:
    """An even digit 4 (male) for a woman breaks personal_id_sex; odd for a man too."""
    assert rules(query("001090012345", sex="female")) == ["personal_id_sex"]
    assert rules(query("079301004567", birth_year=2001, sex="male")) == ["personal_id_sex"]


def test_several_rules_are_all_named() -> None:
    """A number breaking the province and the century rules names both."""
    assert rules(query("003290012345", sex="female")) == [
        "personal_id_province",
        "personal_id_century",
        "personal_id_sex",
    ]


def test_query_needs_a_birth_date_or_year() -> None:
    """Neither birth_date nor birth_year is a validation error; disagreeing ones too."""
    with pytest.raises(ValueError, match="birth_date or birth_year"):
        IdentityQuery.model_validate({"id_number": "1", "full_name": "A"})
    with pytest.raises(ValueError, match="differs"):
        query(birth_date=date(1990, 1, 1), birth_year=1991)


CITIZEN = Citizen.model_validate(
    {
        "SoDinhDanh": "001090012345",
        "SoCMND": "012345678",
        "HoVaTen": {"Ho": "Nguyễn", "ChuDem": "Văn", "Ten": "An"},
        "GioiTinh": "1",
        "NgayThangNamSinh": {"Nam": "1990", "NgayThangNam": "19900215"},
        "ThuongTru": {"MaTinhThanh": "01", "ChiTiet": "Số 12 phố Hàng Bông"},
        "Cha": {"HoVaTen": {"Ho": "Nguyễn", "ChuDem": "Văn", "Ten": "Bình"}},
    }
)


def test_compare_match_ignores_case_and_spaces() -> None:
    """Case and extra spaces do not make a mismatch; diacritics do."""
    assert compare_person(query(full_name="  nguyễn   VĂN an "), CITIZEN, sex_codes=SEX) == ()
    assert compare_person(query(full_name="Nguyễn Văn Ân"), CITIZEN, sex_codes=SEX) == (
        "full_name",
    )


def test_compare_names_each_differing_field() -> None:
    """Birth date, sex and old ID number differences are each named."""
    q = query(birth_date=date(1990, 2, 16), sex="female", old_id_number="999999999")
    assert compare_person(q, CITIZEN, sex_codes=SEX) == ("birth_date", "sex", "old_id_number")


def test_compare_year_only() -> None:
    """A stated birth year compares with the record's year."""
    assert compare_person(query(birth_year=1990), CITIZEN, sex_codes=SEX) == ()
    assert compare_person(query(birth_year=1991), CITIZEN, sex_codes=SEX) == ("birth_year",)


def test_entitled_view_keeps_listed_fields_only() -> None:
    """Only the listed national fields come back, under their national names."""
    view = entitled_view(CITIZEN, ("HoVaTen", "ThuongTru", "NotAField"))
    assert view == {
        "HoVaTen": {"Ho": "Nguyễn", "ChuDem": "Văn", "Ten": "An"},
        "ThuongTru": {"MaTinhThanh": "01", "ChiTiet": "Số 12 phố Hàng Bông"},
    }
    assert CITIZEN.father is not None
    assert CITIZEN.father.full_name == "Nguyễn Văn Bình"
