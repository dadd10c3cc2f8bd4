"""Structure of the 12-digit personal identification number (số định danh cá nhân).

Digits 1-3: province code of birth registration (pre-2025 codes, with gaps); digit 4: century and
sex (0/1 born 1900-1999 male/female, 2/3 2000-2099, 4/5 2100s …); digits 5-6: the last two digits of
the birth year; 7-12 random. Offline we can check the structure and its consistency with a stated
birth date and sex; whether the person exists needs the population database.

Never log these numbers whole: use :func:`mask_id`.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic_core import PydanticCustomError

__all__ = ["BIRTH_PROVINCE_CODES", "check_old_id_card", "check_personal_id", "mask_id"]

# Circular 07/2016/TT-BCA, the 63 pre-2025 provinces: 001 Hà Nội … 096 Cà Mau.
_PROVINCE_CODES = (
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 "
    "035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 "
    "070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096"
)
BIRTH_PROVINCE_CODES: frozenset[str] = frozenset(_PROVINCE_CODES.split())

_TWELVE = re.compile(r"[0-9]{12}")
_NINE = re.compile(r"[0-9]{9}")


def birth_century(number: str) -> int:
    """The first year of the birth century encoded by digit 4 (1900, 2000, …)."""
    return 1900 + (int(number[3]) // 2) * 100


def check_personal_id(
    number: str, *, birth_date: date | None = None, female: bool | None = None
) -> str:
    """Validate a personal ID's structure, and its consistency with a stated birth date and sex.

    Raises ``PydanticCustomError`` with rule names ``personal_id_shape``,
    ``personal_id_province``, ``personal_id_birth_year`` or ``personal_id_sex``.
    """
    if not _TWELVE.fullmatch(number):
        raise PydanticCustomError("personal_id_shape", "a personal ID number is exactly 12 digits")
    if number[:3] not in BIRTH_PROVINCE_CODES:
        raise PydanticCustomError(
            "personal_id_province",
            "digits 1-3 ({code}) are not a province code of birth registration",
            {"code": number[:3]},
        )
    if birth_date is not None:
        year = birth_century(number) + int(number[4:6])
        if year != birth_date.year:
            raise PydanticCustomError(
                "personal_id_birth_year",
                "digits 4-6 encode birth year {encoded}, but the stated birth date is in {stated}",
                {"encoded": year, "stated": birth_date.year},
            )
    if female is not None and (int(number[3]) % 2 == 1) != female:
        raise PydanticCustomError(
            "personal_id_sex", "digit 4 encodes a sex other than the one stated"
        )
    return number


def check_old_id_card(number: str) -> str:
    """Validate a 9-digit old identity card number (chứng minh nhân dân)."""
    if not _NINE.fullmatch(number):
        raise PydanticCustomError("old_id_card_shape", "an old ID card number is exactly 9 digits")
    return number


def mask_id(number: str | None) -> str:
    """A personal number safe for logs: all but the last three digits hidden."""
    if not number:
        return ""
    return "*" * max(len(number) - 3, 0) + number[-3:]
