"""The quirk scan: each quirk is found exactly when present, and nothing is changed silently."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings

from gateway.mappers.quirks import dossier_quirks, step_quirks
from gateway.schemas.national import DossierRecord
from gateway.schemas.policy import IntakePolicy, Quirk
from gateway.schemas.wire import WireRules
from tests.mappers.strategies import national_dossier_dicts, quirky_dossier_dicts

RELAXED = WireRules(relaxed_dossier_numbers=True)


@settings(max_examples=25)
@given(quirky_dossier_dicts())
def test_flags_are_exactly_the_quirks_present(
    sample: tuple[dict[str, Any], frozenset[str]],
) -> None:
    """Under the default policy the scan flags exactly the quirks the record shows."""
    record, quirks = sample
    found = dossier_quirks(record, IntakePolicy(), path="data.0")
    assert frozenset(found.flags) == quirks
    assert found.violations == ()


@settings(max_examples=25)
@given(quirky_dossier_dicts())
def test_flagged_record_validates_and_keeps_its_values(
    sample: tuple[dict[str, Any], frozenset[str]],
) -> None:
    """A flagged record validates, and only numbers-for-text change (to their digit strings)."""
    record, _ = sample
    sent = copy.deepcopy(record)
    found = dossier_quirks(record, IntakePolicy())
    assert record == sent  # the caller's record is never modified
    wire = DossierRecord.model_validate(found.record, context=RELAXED).to_wire()
    for key, value in sent.items():
        if key == "DanhSachTepDinhKemKhac":
            assert wire[key] == [{k: str(v) for k, v in p.items()} for p in value]
        elif isinstance(value, str) and (value or key in ("NgayHenTra", "SoGiayToChuHoSo")):
            assert wire[key] == value


@settings(max_examples=25)
@given(quirky_dossier_dicts())
def test_strict_policy_refuses_every_quirk_by_name(
    sample: tuple[dict[str, Any], frozenset[str]],
) -> None:
    """Under the strict policy each quirk present becomes a violation naming its rule."""
    record, quirks = sample
    found = dossier_quirks(record, IntakePolicy.strict(), path="data.3")
    assert {v.rule for v in found.violations} == quirks
    assert found.flags == ()
    assert all(v.path.startswith("data.3.") for v in found.violations)


@settings(max_examples=25)
@given(national_dossier_dicts())
def test_clean_record_has_no_quirks(record: dict[str, Any]) -> None:
    """A record in the published shape shows no quirk (and is passed on as the same object)."""
    found = dossier_quirks(record, IntakePolicy())
    assert found.flags == ()
    assert found.record is record


def test_empty_step_content_is_found() -> None:
    """NoiDungXuLy "" is the step quirk."""
    step = {"MaHoSo": "000.00.01.H22-250101-0001", "NoiDungXuLy": ""}
    assert step_quirks(step, IntakePolicy()).flags == (Quirk.STEP_CONTENT_EMPTY.value,)
