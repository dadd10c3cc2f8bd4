"""Pure identity checks: the ID number offline, a stated person against a record, entitlements.

The offline checks run before any network call (national-formats.md §2.5): a number that cannot
be right is answered at once, naming the rule. Messages never repeat the number itself.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from typing import Any

from gateway.errors import Violation
from gateway.schemas.citizen import Citizen
from gateway.schemas.identifiers import BIRTH_PROVINCE_CODES, birth_century
from gateway.schemas.identity import IdentityQuery

__all__ = ["compare_person", "entitled_view", "normalise_name", "offline_violations"]

_PATH = "id_number"


def offline_violations(query: IdentityQuery) -> list[Violation]:
    """Every rule the stated ID number breaks, checked without the database; empty when none.

    Rules: ``personal_id_digits`` and ``personal_id_length`` (exactly 12 digits; the other checks
    need both), ``personal_id_province`` (digits 1-3), ``personal_id_century`` (digit 4 against
    the birth year's century), ``personal_id_birth_year`` (digits 5-6 against the year's last two
    digits) and ``personal_id_sex`` (digit 4 even for male, odd for female).
    """
    number = query.id_number
    found: list[Violation] = []
    if not number.isascii() or not number.isdigit():
        found.append(Violation(_PATH, "personal_id_digits", "an ID number has digits only"))
    if len(number) != 12:
        found.append(
            Violation(_PATH, "personal_id_length", f"an ID number has 12 digits, not {len(number)}")
        )
    if found:
        return found
    if number[:3] not in BIRTH_PROVINCE_CODES:
        found.append(
            Violation(
                _PATH,
                "personal_id_province",
                f"digits 1-3 ({number[:3]}) are not a province code of birth registration",
            )
        )
    year = query.year
    century = birth_century(number)
    year_field = "birth_date" if query.birth_date is not None else "birth_year"
    if century != year - year % 100:
        found.append(
            Violation(
                _PATH,
                "personal_id_century",
                f"digit 4 ({number[3]}) encodes birth in {century}-{century + 99},"
                f" but {year_field} is {year}",
            )
        )
    elif number[4:6] != f"{year % 100:02d}":
        found.append(
            Violation(
                _PATH,
                "personal_id_birth_year",
                f"digits 5-6 ({number[4:6]}) are not the last two digits of {year_field} {year}",
            )
        )
    if query.sex is not None and (int(number[3]) % 2 == 1) != (query.sex == "female"):
        found.append(
            Violation(
                _PATH,
                "personal_id_sex",
                f"digit 4 ({number[3]}) is {'odd' if int(number[3]) % 2 else 'even'},"
                f" which encodes {'female' if int(number[3]) % 2 else 'male'}, not {query.sex}",
            )
        )
    return found


def normalise_name(name: str) -> str:
    """A name for comparison: NFC, case-folded, single spaces. Diacritics stay significant."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def compare_person(
    query: IdentityQuery, citizen: Citizen, *, sex_codes: Mapping[str, str]
) -> tuple[str, ...]:
    """The query fields (our names) that differ from the record; empty for a match.

    A field the record lacks is not compared. ``sex_codes`` maps the database's ``GioiTinh``
    codes to ``male``/``female``; an unknown code is not compared.
    """
    differ: list[str] = []
    if citizen.id_number is not None and citizen.id_number != query.id_number:
        differ.append("id_number")
    if normalise_name(citizen.name.text()) != normalise_name(query.full_name):
        differ.append("full_name")
    record_date = (citizen.birth.date or "").strip()
    record_year = (citizen.birth.year or record_date[:4]).strip()
    if query.birth_date is not None and len(record_date) == 8:
        if record_date != query.birth_date.strftime("%Y%m%d"):
            differ.append("birth_date")
    elif record_year and record_year != str(query.year):
        differ.append("birth_date" if query.birth_date is not None else "birth_year")
    if query.sex is not None and citizen.sex is not None:
        recorded = sex_codes.get(citizen.sex.strip())
        if recorded is not None and recorded != query.sex:
            differ.append("sex")
    if (
        query.old_id_number is not None
        and citizen.old_id_number
        and citizen.old_id_number != query.old_id_number
    ):
        differ.append("old_id_number")
    return tuple(differ)


_NAME_OF_ALIAS = {str(f.alias): name for name, f in Citizen.model_fields.items() if f.alias}


def entitled_view(citizen: Citizen, fields: Collection[str]) -> dict[str, Any]:
    """The record's ``fields`` (national names) as the database spells them; absent ones omitted."""
    include = {_NAME_OF_ALIAS[f] for f in fields if f in _NAME_OF_ALIAS}
    return citizen.model_dump(by_alias=True, exclude_none=True, include=include)
