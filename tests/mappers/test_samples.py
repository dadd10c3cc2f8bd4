"""The committed samples: one dossier's life, provincial and national, kept in step by the mappers.

``contracts/samples/provincial/`` is written by hand; ``contracts/samples/national/`` is what
the mappers make of it, so the two cannot drift. After a deliberate change to a provincial sample
or to a mapper, regenerate the national files from the repository root with::

    .venv/bin/python -c "from tests.mappers.test_samples import write_national; write_national()"

and review the diff.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from gateway.mappers import (
    dossier_from_national,
    dossier_to_national,
    step_from_national,
    step_to_national,
)
from gateway.schemas import (
    Dossier,
    DossierRecord,
    Lifecycle,
    ProgressRecord,
    ProgressStep,
    check_personal_id,
)

SAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "samples"
DOSSIERS = [
    "dossier-1-received.json",
    "dossier-2-processing.json",
    "dossier-3-supplement.json",
    "dossier-4-finished.json",
    "dossier-5-returned.json",
]
STEPS = TypeAdapter(list[ProgressStep])


def provincial_dossier(name: str) -> Dossier:
    """A provincial dossier sample, validated."""
    return Dossier.model_validate_json((SAMPLES / "provincial" / name).read_bytes())


def provincial_steps() -> list[ProgressStep]:
    """The provincial steps sample, validated, in order."""
    return STEPS.validate_json((SAMPLES / "provincial" / "steps.json").read_bytes())


def national_json(name: str) -> Any:
    """A committed national sample as parsed JSON."""
    return json.loads((SAMPLES / "national" / name).read_text(encoding="utf-8"))


def expected_national(name: str) -> Any:
    """What the mappers make of the provincial sample ``name``, as national JSON."""
    if name == "steps.json":
        return [step_to_national(s).to_wire() for s in provincial_steps()]
    return dossier_to_national(provincial_dossier(name)).to_wire()


def write_national() -> None:
    """Rewrite every national sample from its provincial one (run by hand, never by a test)."""
    for name in [*DOSSIERS, "steps.json"]:
        text = json.dumps(expected_national(name), ensure_ascii=False, indent=2) + "\n"
        (SAMPLES / "national" / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("name", [*DOSSIERS, "steps.json"])
def test_national_sample_is_the_mapping_of_the_provincial_one(name: str) -> None:
    """Each committed national sample equals the mapper's output for its provincial sample."""
    assert national_json(name) == expected_national(name)


@pytest.mark.parametrize("name", DOSSIERS)
def test_national_dossier_sample_maps_back(name: str) -> None:
    """Each national dossier sample maps back to its provincial sample, birth date/sex aside."""
    original = provincial_dossier(name)
    back = dossier_from_national(DossierRecord.model_validate(national_json(name)))
    applicant = original.applicant.model_copy(update={"birth_date": None, "sex": None})
    assert back == original.model_copy(update={"applicant": applicant})


def test_national_steps_sample_maps_back() -> None:
    """The national steps sample maps back to the provincial steps."""
    records = [ProgressRecord.model_validate(r) for r in national_json("steps.json")]
    assert [step_from_national(r) for r in records] == provincial_steps()


def test_sample_citizen_id_agrees_with_birth_date_and_sex() -> None:
    """The sample applicant's 12-digit personal ID encodes her birth year and sex."""
    applicant = provincial_dossier(DOSSIERS[0]).applicant
    assert applicant.birth_date is not None
    check_personal_id(applicant.paper_number, birth_date=applicant.birth_date, female=True)


def test_sample_steps_follow_the_life_cycle() -> None:
    """Each step's status may follow the previous one under the default life-cycle table."""
    statuses = [s.status for s in provincial_steps()]
    lifecycle = Lifecycle()
    assert all(lifecycle.allows(a, b) for a, b in itertools.pairwise(statuses))


def test_sample_snapshots_appear_in_step_order() -> None:
    """The dossier snapshots' statuses occur in the steps in the same order."""
    steps = iter(s.status for s in provincial_steps())
    snapshots = [provincial_dossier(name).status for name in DOSSIERS]
    assert all(status in steps for status in snapshots)


def test_sample_snapshots_are_one_dossier() -> None:
    """All snapshots and steps carry the same dossier number."""
    numbers = {provincial_dossier(name).dossier_no for name in DOSSIERS}
    numbers |= {s.dossier_no for s in provincial_steps()}
    assert numbers == {"000.00.01.H22-250310-0007"}


def test_supplement_snapshot_has_an_open_supplement() -> None:
    """At status 5 the dossier carries a supplement request not yet received."""
    d = provincial_dossier("dossier-3-supplement.json")
    assert d.status.value == "5"
    [supplement] = d.supplements
    assert supplement.received_at is None


def test_returned_snapshot_has_results_and_return_date() -> None:
    """At status 10 the dossier carries its result papers and NgayTra."""
    returned = national_json("dossier-5-returned.json")
    assert returned["TrangThaiHoSo"] == "10"
    assert returned["NgayTra"] == "20250403083000"
    assert returned["DanhSachGiayToKetQua"]
