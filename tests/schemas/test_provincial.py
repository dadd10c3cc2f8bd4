"""The provincial dossier and step: the gateway's own typed records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from gateway.schemas import (
    Applicant,
    Dossier,
    DossierStatus,
    Fee,
    ProgressStep,
    Sex,
)

from .samples import OLD_ID_CARD, UTC7, Refuse

NAIVE = datetime(2025, 1, 2, 9, 0)

# Every datetime a provincial dossier carries, by its path.
DOSSIER_DATETIMES = [
    ("received_at",),
    ("due_at",),
    ("returned_at",),
    ("finished_at",),
    ("rejected_at",),
    ("submitted_at",),
    ("supplements", 0, "requested_at"),
    ("supplements", 0, "received_at"),
    ("supplements", 0, "previous_due_at"),
    ("supplements", 0, "new_due_at"),
]
STEP_DATETIMES = ["handled_at", "started_at", "statutory_end_at"]


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def test_valid_dossier(dossier_data: dict[str, Any]) -> None:
    """The fixture dossier is valid: aware datetimes, consistent applicant, a fee, a supplement."""
    dossier = Dossier.model_validate(dossier_data)
    assert dossier.status is DossierStatus.PROCESSING
    assert dossier.applicant.sex is Sex.MALE
    assert dossier.agency == "000.00.01.H22"


@pytest.mark.parametrize("path", DOSSIER_DATETIMES, ids=lambda p: ".".join(map(str, p)))
def test_naive_datetime_refused_in_dossier(
    dossier_data: dict[str, Any], refuse: Refuse, path: tuple[Any, ...]
) -> None:
    """A naive datetime anywhere in a dossier is refused (``iso_datetime``), never guessed."""
    _set(dossier_data, path, NAIVE)
    assert refuse(Dossier, dossier_data) == [(path, "iso_datetime")]


@pytest.mark.parametrize("name", STEP_DATETIMES)
def test_naive_datetime_refused_in_step(
    step_data: dict[str, Any], refuse: Refuse, name: str
) -> None:
    """A naive datetime in a progress step is refused."""
    step_data[name] = NAIVE
    assert refuse(ProgressStep, step_data) == [((name,), "iso_datetime")]


def test_naive_iso_string_refused(dossier_data: dict[str, Any], refuse: Refuse) -> None:
    """An ISO string without an offset is as naive as a naive datetime."""
    dossier_data["received_at"] = "2025-01-01T08:00:00"
    assert refuse(Dossier, dossier_data) == [(("received_at",), "iso_datetime")]


def test_iso_string_with_offset_accepted(dossier_data: dict[str, Any]) -> None:
    """An ISO string with an offset is an aware time."""
    dossier_data["received_at"] = "2025-01-01T08:00:00+07:00"
    assert Dossier.model_validate(dossier_data).received_at.utcoffset() == timedelta(hours=7)


def test_valid_step(step_data: dict[str, Any]) -> None:
    """The fixture step is valid and names its agency."""
    step = ProgressStep.model_validate(step_data)
    assert step.status is DossierStatus.PROCESSING
    assert step.agency == "000.00.01.H22"


def test_due_before_received_refused(dossier_data: dict[str, Any], refuse: Refuse) -> None:
    """``due_at`` earlier than ``received_at`` fails ``due_before_received``."""
    dossier_data["due_at"] = dossier_data["received_at"] - timedelta(seconds=1)
    assert refuse(Dossier, dossier_data) == [(("due_at",), "due_before_received")]


def test_due_before_received_compares_instants(
    dossier_data: dict[str, Any], refuse: Refuse
) -> None:
    """Times in different zones are compared as instants, not as wall-clock readings."""
    dossier_data["received_at"] = datetime(2025, 1, 1, 4, 0, tzinfo=UTC)  # 11:00 in Vietnam
    dossier_data["due_at"] = datetime(2025, 1, 1, 10, 0, tzinfo=UTC7)
    assert refuse(Dossier, dossier_data) == [(("due_at",), "due_before_received")]


def test_due_after_received_in_other_zone_accepted(dossier_data: dict[str, Any]) -> None:
    """A due time later as an instant is accepted even if its wall clock reads earlier."""
    dossier_data["received_at"] = datetime(2025, 1, 1, 10, 0, tzinfo=UTC7)  # 03:00 UTC
    dossier_data["due_at"] = datetime(2025, 1, 1, 4, 0, tzinfo=UTC)
    Dossier.model_validate(dossier_data)


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("000.00.01.H22-250101", "dossier_number_shape"),
        ("000.00.01.H22-250230-0001", "dossier_number_date"),
        ("000.00.01.H22-250101-0000", "dossier_number_sequence"),
    ],
)
def test_dossier_number_checked(
    dossier_data: dict[str, Any], refuse: Refuse, number: str, rule: str
) -> None:
    """The dossier number obeys the ``MaHoSo`` rules."""
    dossier_data["dossier_no"] = number
    assert refuse(Dossier, dossier_data) == [(("dossier_no",), rule)]


def test_step_dossier_number_checked(step_data: dict[str, Any], refuse: Refuse) -> None:
    """A step's dossier number obeys the ``MaHoSo`` shape."""
    step_data["dossier_no"] = "HS-0001"
    assert refuse(ProgressStep, step_data) == [(("dossier_no",), "dossier_number_shape")]


# --- fees ----------------------------------------------------------------------------------------


def test_negative_fee_refused(dossier_data: dict[str, Any], refuse: Refuse) -> None:
    """A negative fee amount fails ``amount_non_negative`` at its path."""
    dossier_data["fees"][0]["amount"] = -1
    assert refuse(Dossier, dossier_data) == [(("fees", 0, "amount"), "amount_non_negative")]


def test_negative_supplement_fee_refused(dossier_data: dict[str, Any], refuse: Refuse) -> None:
    """A negative fee inside a supplement is refused too."""
    dossier_data["supplements"][0]["fees"][0]["amount"] = -8000
    path = ("supplements", 0, "fees", 0, "amount")
    assert refuse(Dossier, dossier_data) == [(path, "amount_non_negative")]


def test_fractional_fee_refused(refuse: Refuse) -> None:
    """Money is whole VND: 12.5 is refused."""
    data = {"name": "Lệ phí", "collection": "1", "amount": 12.5}
    [(loc, rule)] = refuse(Fee, data)
    assert loc == ("amount",)
    assert rule in {"int_from_float", "int_type"}  # lax or strict int: refused either way


def test_zero_fee_accepted() -> None:
    """A zero fee is allowed (free procedures still list the fee line)."""
    assert Fee(name="Lệ phí", collection="1", amount=0).amount == 0


def test_boolean_fee_refused(refuse: Refuse) -> None:
    """A boolean is not an amount of money."""
    data = {"name": "Lệ phí", "collection": "1", "amount": True}
    assert refuse(Fee, data) == [(("amount",), "int_type")]


# --- applicant identity --------------------------------------------------------------------------


def _applicant(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "1",
        "paper_number": "079205012345",
        "birth_date": date(2005, 3, 4),
        "sex": "male",
        "identifiers": [{"kind": "1", "number": "079205012345"}],
    }
    return {**base, **changes}


def test_consistent_applicant_accepted() -> None:
    """An ID that agrees with the stated birth year and sex is accepted."""
    assert Applicant.model_validate(_applicant()).birth_date == date(2005, 3, 4)


def test_applicant_birth_year_mismatch_refused(
    dossier_data: dict[str, Any], refuse: Refuse
) -> None:
    """An ID encoding another birth year than the stated one fails ``personal_id_birth_year``."""
    dossier_data["applicant"] = _applicant(birth_date=date(1990, 3, 4))
    assert refuse(Dossier, dossier_data) == [(("applicant",), "personal_id_birth_year")]


def test_applicant_century_mismatch_refused(refuse: Refuse) -> None:
    """Same two year digits, other century: still ``personal_id_birth_year``."""
    assert refuse(Applicant, _applicant(birth_date=date(1905, 3, 4))) == [
        ((), "personal_id_birth_year")
    ]


def test_applicant_sex_mismatch_refused(dossier_data: dict[str, Any], refuse: Refuse) -> None:
    """An ID whose digit 4 encodes the other sex fails ``personal_id_sex``."""
    dossier_data["applicant"] = _applicant(sex="female")
    assert refuse(Dossier, dossier_data) == [(("applicant",), "personal_id_sex")]


def test_applicant_sex_alone_checked(refuse: Refuse) -> None:
    """A stated sex is checked even without a birth date."""
    assert refuse(Applicant, _applicant(birth_date=None, sex="female")) == [((), "personal_id_sex")]


def test_applicant_birth_date_alone_checked(refuse: Refuse) -> None:
    """A stated birth date is checked even without a sex."""
    assert refuse(Applicant, _applicant(birth_date=date(2006, 1, 1), sex=None)) == [
        ((), "personal_id_birth_year")
    ]


def test_every_personal_id_of_applicant_checked(refuse: Refuse) -> None:
    """A second, inconsistent personal ID is caught even when the first agrees."""
    identifiers = [
        {"kind": "1", "number": "079205012345"},
        {"kind": "1", "number": "001190123456"},
    ]
    assert refuse(Applicant, _applicant(identifiers=identifiers)) == [
        ((), "personal_id_birth_year")
    ]


def test_old_id_card_not_checked_against_birth_date() -> None:
    """A 9-digit old card encodes no birth year, so any stated birth date is accepted."""
    identifiers = [{"kind": "2", "number": OLD_ID_CARD}]
    Applicant.model_validate(_applicant(identifiers=identifiers, birth_date=date(1950, 1, 1)))


@pytest.mark.parametrize(
    ("identifier", "rule"),
    [
        ({"kind": "1", "number": "099205012345"}, "personal_id_province"),
        ({"kind": "1", "number": OLD_ID_CARD}, "personal_id_shape"),
        ({"kind": "2", "number": "079205012345"}, "old_id_card_shape"),
        ({"number": "12345"}, "personal_id_shape"),
    ],
    ids=["province", "personal-shape", "old-card-shape", "default-kind"],
)
def test_identifier_shape_checked_by_kind(
    refuse: Refuse, identifier: dict[str, str], rule: str
) -> None:
    """Each identifier is checked by its kind (personal ID by default), at its path."""
    data = _applicant(identifiers=[identifier], birth_date=None, sex=None)
    assert refuse(Applicant, data) == [(("identifiers", 0, "number"), rule)]


def test_unknown_field_refused(dossier_data: dict[str, Any], refuse: Refuse) -> None:
    """A provincial record with an unknown field is refused, not silently trimmed."""
    dossier_data["recieved_at"] = dossier_data["received_at"]
    assert refuse(Dossier, dossier_data) == [(("recieved_at",), "extra_forbidden")]
