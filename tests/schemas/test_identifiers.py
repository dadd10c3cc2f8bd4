"""The 12-digit personal ID, the 9-digit old ID card and masking for logs."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from gateway.schemas import DossierRecord, OwnerIdentifier, mask_id
from gateway.schemas.identifiers import (
    BIRTH_PROVINCE_CODES,
    check_old_id_card,
    check_personal_id,
)

from .samples import Refuse

# Circular 07/2016/TT-BCA, one line per region, written out independently of the module.
PROVINCES = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn",
    "008": "Tuyên Quang", "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu",
    "014": "Sơn La", "015": "Yên Bái", "017": "Hòa Bình", "019": "Thái Nguyên",
    "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang", "025": "Phú Thọ",
    "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định",
    "037": "Ninh Bình", "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh",
    "044": "Quảng Bình", "045": "Quảng Trị", "046": "Thừa Thiên Huế", "048": "Đà Nẵng",
    "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định", "054": "Phú Yên",
    "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
    "070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu", "079": "TP. Hồ Chí Minh", "080": "Long An",
    "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long",
    "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ",
    "093": "Hậu Giang", "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}  # fmt: skip


def _rule(excinfo: pytest.ExceptionInfo[PydanticCustomError]) -> str:
    return excinfo.value.type


def test_province_codes_are_the_63_pre_2025_provinces() -> None:
    """The birth-registration codes are exactly the 63 pre-2025 province codes."""
    assert len(PROVINCES) == 63
    assert set(BIRTH_PROVINCE_CODES) == set(PROVINCES)


@pytest.mark.parametrize("code", sorted(PROVINCES))
def test_every_province_code_accepted(code: str) -> None:
    """A personal ID whose digits 1-3 are any province code passes the structure check."""
    number = f"{code}205012345"
    assert check_personal_id(number) == number


@pytest.mark.parametrize("code", ["000", "003", "005", "097", "099", "100", "999"])
def test_unknown_province_refused(code: str) -> None:
    """Digits 1-3 outside the province list fail rule ``personal_id_province``."""
    with pytest.raises(PydanticCustomError) as excinfo:
        check_personal_id(f"{code}205012345")
    assert _rule(excinfo) == "personal_id_province"


@pytest.mark.parametrize(
    "number",
    ["07920501234", "0792050123456", "07920501234a", "079 05012345", "", "079-205-012345"],
)
def test_personal_id_needs_12_digits(number: str) -> None:
    """Anything but exactly 12 digits fails rule ``personal_id_shape``."""
    with pytest.raises(PydanticCustomError) as excinfo:
        check_personal_id(number)
    assert _rule(excinfo) == "personal_id_shape"


def test_personal_id_refuses_non_ascii_digits() -> None:
    """Fullwidth digits are not a personal ID number."""
    with pytest.raises(PydanticCustomError) as excinfo:
        check_personal_id("0792050１２３４５")
    assert _rule(excinfo) == "personal_id_shape"


# digit 4 -> (birth year it encodes with digits 5-6 "05", female?)
CENTURY_DIGITS = [
    ("0", 1905, False),
    ("1", 1905, True),
    ("2", 2005, False),
    ("3", 2005, True),
    ("4", 2105, False),
    ("5", 2105, True),
]


@pytest.mark.parametrize(("digit", "year", "female"), CENTURY_DIGITS)
def test_century_digit_agrees_with_birth_date_and_sex(digit: str, year: int, female: bool) -> None:
    """Digit 4 with digits 5-6 encodes the birth year, and its parity the sex (odd = female)."""
    number = f"079{digit}05012345"
    assert check_personal_id(number, birth_date=date(year, 6, 1), female=female) == number


@pytest.mark.parametrize(("digit", "year", "female"), CENTURY_DIGITS)
def test_century_digit_a_century_off_refused(digit: str, year: int, female: bool) -> None:
    """The same two year digits a century earlier fail rule ``personal_id_birth_year``."""
    with pytest.raises(PydanticCustomError) as excinfo:
        check_personal_id(f"079{digit}05012345", birth_date=date(year - 100, 6, 1))
    assert _rule(excinfo) == "personal_id_birth_year"


def test_birth_year_digits_mismatch_refused() -> None:
    """Digits 5-6 that differ from the stated birth year fail ``personal_id_birth_year``."""
    with pytest.raises(PydanticCustomError) as excinfo:
        check_personal_id("079205012345", birth_date=date(2006, 1, 1))
    assert _rule(excinfo) == "personal_id_birth_year"


@pytest.mark.parametrize(("digit", "year", "female"), CENTURY_DIGITS)
def test_sex_mismatch_refused(digit: str, year: int, female: bool) -> None:
    """The opposite sex to the one digit 4 encodes fails rule ``personal_id_sex``."""
    with pytest.raises(PydanticCustomError) as excinfo:
        check_personal_id(f"079{digit}05012345", female=not female)
    assert _rule(excinfo) == "personal_id_sex"


def test_unstated_birth_date_and_sex_not_checked() -> None:
    """Without a stated birth date or sex only the structure is checked."""
    assert check_personal_id("001399999999") == "001399999999"


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)),
    female=st.booleans(),
    tail=st.from_regex(r"[0-9]{6}", fullmatch=True),
)
def test_built_id_always_consistent(born: date, female: bool, tail: str) -> None:
    """An ID built by the §2.5 rules from any birth date and sex passes the consistency check."""
    digit = (born.year // 100 - 19) * 2 + int(female)
    number = f"001{digit}{born.year % 100:02d}{tail}"
    assert check_personal_id(number, birth_date=born, female=female) == number


@pytest.mark.parametrize("number", ["023456789", "000000000"])
def test_old_id_card_nine_digits(number: str) -> None:
    """A 9-digit old ID card number is accepted."""
    assert check_old_id_card(number) == number


@pytest.mark.parametrize("number", ["12345678", "1234567890", "079205012345", "12345678a"])
def test_old_id_card_wrong_shape(number: str) -> None:
    """Anything but 9 digits fails rule ``old_id_card_shape``."""
    with pytest.raises(PydanticCustomError) as excinfo:
        check_old_id_card(number)
    assert _rule(excinfo) == "old_id_card_shape"


def test_mask_id_hides_all_but_last_three() -> None:
    """A 12-digit ID shows only its last three digits."""
    assert mask_id("079205012345") == "*********345"


def test_mask_id_old_card() -> None:
    """A 9-digit card shows only its last three digits."""
    assert mask_id("023456789") == "******789"


@pytest.mark.parametrize("value", [None, ""])
def test_mask_id_of_nothing_is_empty(value: str | None) -> None:
    """No number masks to an empty string."""
    assert mask_id(value) == ""


@given(number=st.from_regex(r"[0-9]{4,20}", fullmatch=True))
def test_mask_id_keeps_length_and_leaks_no_prefix(number: str) -> None:
    """The mask keeps the length, ends with the last three digits and shows nothing else."""
    masked = mask_id(number)
    assert len(masked) == len(number)
    assert masked.endswith(number[-3:])
    assert set(masked[:-3]) == {"*"}


# --- identifiers inside a dossier record ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "number"), [("1", "079205012345"), ("2", "023456789")], ids=["personal", "old-card"]
)
def test_owner_identifier_accepted_by_kind(kind: str, number: str) -> None:
    """An owner identifier of the shape its ``LoaiDinhDanh`` names is accepted."""
    entry = OwnerIdentifier.model_validate({"LoaiDinhDanh": kind, "SoDinhDanh": number})
    assert entry.to_wire() == {"LoaiDinhDanh": kind, "SoDinhDanh": number}


@pytest.mark.parametrize(
    ("kind", "number", "rule"),
    [
        ("1", "023456789", "personal_id_shape"),
        ("1", "003205012345", "personal_id_province"),
        ("2", "079205012345", "old_id_card_shape"),
    ],
)
def test_owner_identifier_checked_by_kind(
    record_data: dict[str, Any], refuse: Refuse, kind: str, number: str, rule: str
) -> None:
    """A ``DinhDanhCHS`` number is checked by its ``LoaiDinhDanh``, reported at its path."""
    record_data["DinhDanhCHS"] = [{"LoaiDinhDanh": kind, "SoDinhDanh": number}]
    assert refuse(DossierRecord, record_data) == [(("DinhDanhCHS", 0, "SoDinhDanh"), rule)]
