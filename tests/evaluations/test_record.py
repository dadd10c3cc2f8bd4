"""The evaluation record's storage form, copies and wire times (the drain's fast paths)."""

from __future__ import annotations

import dataclasses

import orjson
from hypothesis import given
from hypothesis import strategies as st

from gateway.evaluations import EvaluationRecord
from gateway.evaluations.record import _ms
from gateway.schemas.wire import wire_local_time


def _by_datetime(value: str) -> int | None:
    """What ``_ms`` means: the datetime route, None where it raises."""
    try:
        return int(wire_local_time(value).timestamp() * 1000)
    except ValueError:
        return None


def _full() -> EvaluationRecord:
    """A record with no field at its default."""
    return EvaluationRecord(
        no="000.00.01.H22-261001-0001",
        agency="000.00.01.H22",
        procedure="1.001612",
        channel="2",
        received_ms=1,
        due_ms=2,
        finished_ms=3,
        finished_status="10",
        finish_estimated=True,
        status="10",
        first_step_ms=4,
        has_dossier=True,
        supplements=[[5, 6], [7, None]],
        step_supplements=[[8, None]],
        online_payment="1",
        fee_total=50_000,
        fee_records=1,
        digitised_flag="1",
        docs=3,
        docs_digitised=2,
        docs_reused=1,
        docs_from_store=1,
        results=1,
        result_links=1,
        vneid=True,
        db_codes=["CSDLDC"],
        idchecks={"match": 2},
        flags=["late_sync"],
        rating_ms=9,
        verdict="satisfied",
        answers={"service": "1"},
        updated_ms=10,
        recent_items=["000000000001"],
    )


def test_every_field_of_the_full_record_is_set() -> None:
    """The other tests here cover every field only if this record sets them all."""
    rec = _full()
    for f in dataclasses.fields(EvaluationRecord):
        default = f.default_factory() if callable(f.default_factory) else f.default
        assert getattr(rec, f.name) != default, f.name


def test_copy_is_equal_and_shares_no_list_or_dict() -> None:
    rec = _full()
    new = rec.copy()
    assert new == rec
    for f in dataclasses.fields(EvaluationRecord):
        value = getattr(rec, f.name)
        if isinstance(value, list | dict):
            assert getattr(new, f.name) is not value, f.name
    for a, b in zip(new.supplements, rec.supplements, strict=True):
        assert a is not b
    new.supplements[1][1] = 11
    new.flags.append("reopened")
    assert rec.supplements[1][1] is None
    assert rec.flags == ["late_sync"]


def test_stored_form_round_trips() -> None:
    rec = _full()
    assert EvaluationRecord.from_json(rec.to_json()) == rec
    assert EvaluationRecord.from_json(EvaluationRecord(no="n", agency="a").to_json()) == (
        EvaluationRecord(no="n", agency="a")
    )


def test_stored_forms_of_other_versions_are_read() -> None:
    """A newer writer's unknown field is ignored; an older one's missing field takes its
    default; with both, the count of fields matches but not the names."""
    data = orjson.loads(_full().to_json())
    newer = {**data, "future_field": 1}
    assert EvaluationRecord.from_json(orjson.dumps(newer)) == _full()
    older = {k: v for k, v in data.items() if k != "recent_items"}
    assert EvaluationRecord.from_json(orjson.dumps(older)).recent_items == []
    both = {**older, "future_field": 1}
    assert len(both) == len(data)
    rec = EvaluationRecord.from_json(orjson.dumps(both))
    assert rec == dataclasses.replace(_full(), recent_items=[])


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_wire_times_in_integers_match_the_datetime_route(value: str) -> None:
    assert _ms(value) == _by_datetime(value)


@given(
    st.tuples(
        st.integers(1, 9999),
        st.integers(1, 12),
        st.integers(1, 31),
        st.integers(0, 24),
        st.integers(0, 60),
        st.integers(0, 60),
    )
)
def test_plausible_wire_times_match_the_datetime_route(
    parts: tuple[int, int, int, int, int, int],
) -> None:
    value = "{:04d}{:02d}{:02d}{:02d}{:02d}{:02d}".format(*parts)
    assert _ms(value) == _by_datetime(value)


def test_unusual_wire_times_match_the_datetime_route() -> None:
    for value in [
        "00010101000000",  # the first day: UTC is a day earlier
        "99991231235959",
        "00000101000000",  # no year 0
        "20250229120000",  # no 29 February in 2025
        "20240229120000",
        "20250101240000",
        "20250101236000",
        "20250101235960",  # no leap seconds
        "2025010112300",  # 13 characters
        "202501011230000",
        "2025010112300\u0661",  # an Arabic-Indic digit: not ASCII
        "2025-01-01T1200",
    ]:
        assert _ms(value) == _by_datetime(value), value
    assert _ms("20250101143000") == 1_735_716_600_000
    assert _ms("") is None
    assert _ms(None) is None
    assert _ms(20250101143000) is None
