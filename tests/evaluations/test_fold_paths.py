"""The drain's fold (wire forms read into facts once, a batch on one copy) against the folds as
first written (a copy per item, each wire form read as it is folded): the same stored JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.evaluations import EvaluationRecord
from gateway.evaluations.evaluator import _DossierFold
from gateway.evaluations.record import (
    FINISHED_STATUSES,
    _add_flags,
    _finish,
    _list,
    _ms,
    _track_status,
    _yes,
    dossier_facts,
    fold_dossier_wire,
    fold_idchecks,
    fold_step_wire,
    step_facts,
)

# -- the general path: the folds as they were written before the facts ----------------------


def _reference_dossier(
    out: EvaluationRecord, w: Mapping[str, Any], *, agency: str, accepted_ms: int, flags: Any
) -> None:
    out.agency = agency
    out.has_dossier = True
    out.procedure = w.get("MaTTHC") or None
    out.channel = w.get("KenhThucHien") or "1"
    out.received_ms = _ms(w.get("NgayTiepNhan"))
    out.due_ms = _ms(w.get("NgayHenTra"))
    status = str(w.get("TrangThaiHoSo") or "")
    _track_status(out, status)
    finished_at = _ms(w.get("NgayKetThucXuLy"))
    if status in FINISHED_STATUSES or finished_at is not None:
        end_status = status if status in FINISHED_STATUSES else "9"
        if status == "3":
            at = _ms(w.get("NgayTuChoi")) or finished_at
        else:
            at = finished_at or _ms(w.get("NgayTra"))
        _finish(out, at if at is not None else accepted_ms, end_status, estimated=at is None)
    out.supplements = [
        [_ms(x.get("NgayBoSung")), _ms(x.get("NgayTiepNhanBoSung"))]
        for x in _list(w, "DanhSachHoSoBoSung")
    ]
    out.online_payment = w.get("DuocThanhToanTrucTuyen") or None
    fees = _list(w, "DanhSachLePhi")
    out.fee_records = len(fees)
    out.fee_total = sum(int(f.get("Gia") or 0) for f in fees) if fees else 0
    out.digitised_flag = w.get("HoSoCoThanhPhanSoHoa") or None
    docs = digitised = reused = from_store = 0
    for x in _list(w, "TaiLieuNop"):
        if x.get("IsDeleted") == "True":
            continue
        docs += 1
        digitised += _yes(x.get("DuocSoHoa"))
        reused += x.get("DuocTaiSuDung") not in (None, "", "0")
        from_store += _yes(x.get("DuocLayTuKhoDMQG"))
    out.docs = docs
    out.docs_digitised = digitised
    out.docs_reused = reused
    out.docs_from_store = from_store
    results = _list(w, "DanhSachGiayToKetQua")
    out.results = len(results)
    out.result_links = sum(1 for x in results if x.get("DuongDanTepTinKetQua")) if results else 0
    out.vneid = _yes(w.get("TaiKhoanDuocXacThucVoiVNeID"))
    codes = _list(w, "DSKetNoiCSDL")
    out.db_codes = sorted({str(x["MaCSDL"]) for x in codes if x.get("MaCSDL")}) if codes else []
    _add_flags(out, flags)
    out.updated_ms = accepted_ms


def _reference_step(
    out: EvaluationRecord, w: Mapping[str, Any], *, agency: str, accepted_ms: int, flags: Any
) -> None:
    if not out.has_dossier:
        out.agency = agency
    at = _ms(w.get("ThoiDiemXuLy"))
    if at is not None and (out.first_step_ms is None or at < out.first_step_ms):
        out.first_step_ms = at
    status = str(w.get("TrangThai") or "")
    open_wait = out.step_supplements[-1] if out.step_supplements else None
    if open_wait is not None and open_wait[1] is None and status != "5":
        open_wait[1] = at
    if status == "5" and (open_wait is None or open_wait[1] is not None):
        out.step_supplements.append([at, None])
    _track_status(out, status)
    if status in FINISHED_STATUSES:
        _finish(out, at, status, estimated=False)
    _add_flags(out, flags)
    out.updated_ms = accepted_ms


# -- varied inputs -----------------------------------------------------------------------------

STATUSES = [str(i) for i in range(1, 11)]
times = st.one_of(
    st.sampled_from(["20250101143000", "20250115170000", "20251231235959", "19700101070000"]),
    st.builds(
        "{:04d}{:02d}{:02d}{:02d}{:02d}{:02d}".format,
        st.integers(2024, 2026),
        st.integers(1, 13),
        st.integers(1, 31),
        st.integers(0, 24),
        st.integers(0, 59),
        st.integers(0, 60),
    ),
    st.sampled_from(["", "2025-01-01", "abc", "20250101", 20250101143000, None]),
)
flag_values = st.sampled_from(["", "0", "1"])


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with any subset of ``fields`` (a missing wire field and an empty one differ)."""
    return st.fixed_dictionaries({}, optional=fields)


wire_dossiers = _optional(
    MaTTHC=st.sampled_from(["1.001612", "2.000001", ""]),
    KenhThucHien=st.sampled_from(["1", "2", "3", ""]),
    NgayTiepNhan=times,
    NgayHenTra=times,
    TrangThaiHoSo=st.sampled_from([*STATUSES, ""]),
    NgayKetThucXuLy=times,
    NgayTuChoi=times,
    NgayTra=times,
    DanhSachHoSoBoSung=st.lists(
        st.one_of(_optional(NgayBoSung=times, NgayTiepNhanBoSung=times), st.just("x")),
        max_size=3,
    ),
    DuocThanhToanTrucTuyen=flag_values,
    DanhSachLePhi=st.lists(
        _optional(Gia=st.sampled_from(["0", "50000", "1200000", ""])), max_size=3
    ),
    HoSoCoThanhPhanSoHoa=flag_values,
    TaiLieuNop=st.lists(
        _optional(
            IsDeleted=st.sampled_from(["True", "False", ""]),
            DuocSoHoa=flag_values,
            DuocTaiSuDung=st.sampled_from(["", "0", "1", "2"]),
            DuocLayTuKhoDMQG=flag_values,
        ),
        max_size=4,
    ),
    DanhSachGiayToKetQua=st.lists(
        _optional(DuongDanTepTinKetQua=st.sampled_from(["", "https://kq.example/1.pdf"])),
        max_size=3,
    ),
    TaiKhoanDuocXacThucVoiVNeID=flag_values,
    DSKetNoiCSDL=st.one_of(
        st.lists(_optional(MaCSDL=st.sampled_from(["CSDLDC", "CSDLHT", ""])), max_size=3),
        st.just("not a list"),
    ),
)
wire_steps = _optional(ThoiDiemXuLy=times, TrangThai=st.sampled_from([*STATUSES, ""]))
ms = st.one_of(st.none(), st.integers(0, 1_800_000_000_000))
records = st.builds(
    EvaluationRecord,
    no=st.just("000.00.01.H22-261001-0001"),
    agency=st.sampled_from(["000.00.01.H22", "000.00.02.H22"]),
    status=st.one_of(st.none(), st.sampled_from(STATUSES)),
    finished_ms=ms,
    finished_status=st.one_of(st.none(), st.sampled_from(sorted(FINISHED_STATUSES))),
    first_step_ms=ms,
    has_dossier=st.booleans(),
    supplements=st.lists(st.lists(ms, min_size=2, max_size=2), max_size=2),
    step_supplements=st.lists(st.lists(ms, min_size=2, max_size=2), max_size=2),
    db_codes=st.lists(st.sampled_from(["CSDLDC", "CSDLHT"]), max_size=2, unique=True),
    idchecks=st.dictionaries(st.sampled_from(["match", "mismatch"]), st.integers(1, 3)),
    flags=st.lists(st.sampled_from(["late_sync", "reopened"]), max_size=2, unique=True),
    rating_ms=ms,
    verdict=st.one_of(st.none(), st.just("satisfied")),
    answers=st.dictionaries(st.just("service"), st.sampled_from(["1", "2"])),
    updated_ms=st.integers(0, 10),
    recent_items=st.lists(st.sampled_from(["000000000001", "000000000002"]), unique=True),
)
flag_lists = st.lists(st.sampled_from(["late_sync", "owner_id_mismatch", ""]), max_size=2)
items = st.lists(
    st.tuples(st.booleans(), st.one_of(wire_dossiers, wire_steps), flag_lists), max_size=5
)
idcheck_lists = st.lists(
    st.sampled_from([b'{"outcome":"match"}', b'{"outcome":"mismatch"}', b"", b"[1]", b'{"at":1}']),
    max_size=3,
)

NOW = 1_750_000_000_000


@given(records, wire_dossiers, flag_lists)
def test_a_dossier_snapshot_folds_as_first_written(
    rec: EvaluationRecord, wire: dict[str, Any], flags: list[str]
) -> None:
    """Read into facts and folded in, a snapshot gives the record the direct fold gave."""
    before = rec.to_json()
    expected = rec.copy()
    _reference_dossier(expected, wire, agency="000.00.03.H22", accepted_ms=NOW, flags=flags)
    got = fold_dossier_wire(rec, wire, agency="000.00.03.H22", accepted_ms=NOW, flags=flags)
    assert got.to_json() == expected.to_json()
    # Folded again (a retried fold), the same facts give the same record again.
    again = rec.copy()
    dossier_facts(wire).fold_into(again, agency="000.00.03.H22", accepted_ms=NOW, flags=flags)
    assert again.to_json() == expected.to_json()
    assert rec.to_json() == before


@given(records, wire_steps, flag_lists)
def test_a_step_folds_as_first_written(
    rec: EvaluationRecord, wire: dict[str, Any], flags: list[str]
) -> None:
    """Read into facts and folded in, a step gives the record the direct fold gave."""
    expected = rec.copy()
    _reference_step(expected, wire, agency="000.00.03.H22", accepted_ms=NOW, flags=flags)
    got = fold_step_wire(rec, wire, agency="000.00.03.H22", accepted_ms=NOW, flags=flags)
    assert got.to_json() == expected.to_json()


def _reference_batch(
    rec: EvaluationRecord,
    batch: Iterable[tuple[str, bool, dict[str, Any], list[str]]],
    idchecks: list[bytes],
) -> EvaluationRecord:
    """Item after item, a copy each, then the look-ups (when any is readable)."""
    for item_id, is_dossier, wire, flags in batch:
        if item_id <= max(rec.recent_items, default=""):
            continue  # items fold in id order: up to the newest id seen, all are folded
        rec = rec.copy()
        update = _reference_dossier if is_dossier else _reference_step
        update(rec, wire, agency="000.00.03.H22", accepted_ms=NOW, flags=flags)
        rec.recent_items = [*rec.recent_items, item_id][-32:]
    entries = [e for e in (_loads(raw) for raw in idchecks) if isinstance(e, dict)]
    return fold_idchecks(rec, entries, accepted_ms=NOW) if entries else rec


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


@settings(max_examples=200)
@given(records, items, idcheck_lists)
def test_a_batch_of_items_folds_as_first_written(
    rec: EvaluationRecord,
    raw_items: list[tuple[bool, dict[str, Any], list[str]]],
    idchecks: list[bytes],
) -> None:
    """A dossier's batch (snapshots, steps, items folded already, look-ups) on one copy gives
    the stored JSON of the folds item after item; the record it was given stays as it was."""
    batch = [
        (f"{i:012d}", is_dossier, wire, flags)
        for i, (is_dossier, wire, flags) in enumerate(raw_items, start=1)
    ]
    before = rec.to_json()
    fold = _DossierFold("000.00.03.H22", NOW)
    for item_id, is_dossier, wire, flags in batch:
        facts = dossier_facts(wire) if is_dossier else step_facts(wire)
        fold.items.append((item_id, facts, "000.00.03.H22", tuple(f for f in flags if f)))
    fold.idchecks = idchecks
    got = fold.counted()(rec)
    expected = _reference_batch(rec, batch, idchecks)
    assert got.to_json() == expected.to_json()
    assert (got is rec) == (expected is rec)  # nothing to fold: the record as it is
    assert fold(rec).to_json() == got.to_json()  # again, as after a lost race
    assert rec.to_json() == before
