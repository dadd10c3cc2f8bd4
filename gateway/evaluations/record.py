"""The evaluation record of one dossier, and the pure folds that keep it up to date.

A record gathers what the Decision 766 indicators read from every accepted dossier snapshot
(``DongBoHoSoMC``), progress step (``CapNhatTienDoHoSoMC``), citizen rating and population
database look-up of one dossier. Folds take the record as it is and return the next one; they do
no I/O, so the store can retry them after a concurrent update. Times are ms since the epoch.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.rating import DossierRating
from gateway.schemas.wire import wire_epoch_ms

__all__ = [
    "FINISHED_STATUSES",
    "DossierFacts",
    "EvaluationRecord",
    "StepFacts",
    "dossier_facts",
    "fold_dossier",
    "fold_dossier_wire",
    "fold_idchecks",
    "fold_rating",
    "fold_step",
    "fold_step_wire",
    "idcheck_counts",
    "step_facts",
]

FINISHED_STATUSES = frozenset({"9", "10", "8", "3", "7"})
"""The first of these ends processing (national-formats.md §5): finished, returned, stopped,
rejected, withdrawn."""
_SUPPLEMENT = "5"


_ms = wire_epoch_ms  # the folds read stored wire forms leniently: None for a malformed time


@dataclass(slots=True)
class EvaluationRecord:
    """What the index needs of one dossier. ``None`` means "not known yet", never zero."""

    no: str
    agency: str
    procedure: str | None = None
    channel: str | None = None
    received_ms: int | None = None
    due_ms: int | None = None
    finished_ms: int | None = None
    finished_status: str | None = None
    finish_estimated: bool = False
    status: str | None = None
    first_step_ms: int | None = None
    has_dossier: bool = False
    supplements: list[list[int | None]] = field(default_factory=list)
    """From the dossier's ``DanhSachHoSoBoSung``: ``[requested, received or None]``."""
    step_supplements: list[list[int | None]] = field(default_factory=list)
    """From status-5 steps: ``[step time, time of the next step or None]``."""
    online_payment: str | None = None
    fee_total: int = 0
    fee_records: int = 0
    digitised_flag: str | None = None
    docs: int = 0
    docs_digitised: int = 0
    docs_reused: int = 0
    docs_from_store: int = 0
    results: int = 0
    result_links: int = 0
    vneid: bool = False
    db_codes: list[str] = field(default_factory=list)
    idchecks: dict[str, int] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    rating_ms: int | None = None
    verdict: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    updated_ms: int = 0
    recent_items: list[str] = field(default_factory=list)
    """The last intake items folded in (ids), so a drain repeated after a crash folds none twice."""

    # -- derived -----------------------------------------------------------------------------

    def supplement_periods(self) -> list[list[int | None]]:
        """The supplement waits: the dossier's own list when it has one, else its steps'."""
        return self.supplements if self.supplements else self.step_supplements

    @property
    def supplement_count(self) -> int:
        """How many supplement requests the dossier had (the larger of the two sources)."""
        return max(len(self.supplements), len(self.step_supplements))

    # -- storage -----------------------------------------------------------------------------

    def to_json(self) -> bytes:
        """The stored form (every field, by name; orjson serialises dataclasses natively)."""
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> EvaluationRecord:
        """A record from its stored form; fields it does not know are ignored (newer writers)."""
        data: dict[str, Any] = orjson.loads(raw)
        if len(data) == len(_NAMES_ORDERED):
            # The stored form of this version holds exactly its fields: pass them by position.
            # By keyword costs twice the whole fold: parsed keys are not the interned names, so
            # binding each one compares strings with every parameter name before it.
            try:
                return cls(*[data[name] for name in _NAMES_ORDERED])
            except KeyError:
                pass  # as many fields, not the same ones
        return cls(**{k: v for k, v in data.items() if k in _NAMES})

    def copy(self) -> EvaluationRecord:
        """A deep-enough copy: lists and dicts are new, so a fold never edits its input."""
        new = EvaluationRecord(*_values(self))  # by position: see from_json
        # Most records have no supplement: an empty list skips the comprehension's frame.
        new.supplements = [list(p) for p in self.supplements] if self.supplements else []
        new.step_supplements = (
            [list(p) for p in self.step_supplements] if self.step_supplements else []
        )
        new.db_codes = list(self.db_codes)
        new.idchecks = dict(self.idchecks)
        new.flags = list(self.flags)
        new.answers = dict(self.answers)
        new.recent_items = list(self.recent_items)
        return new


_FIELDS = dataclasses.fields(EvaluationRecord)
_NAMES = frozenset(f.name for f in _FIELDS)
_NAMES_ORDERED = tuple(f.name for f in _FIELDS)
_values = operator.attrgetter(*_NAMES_ORDERED)


def _add_flags(rec: EvaluationRecord, flags: Iterable[str]) -> None:
    for flag in flags:
        if flag and flag not in rec.flags:
            rec.flags.append(flag)


def _finish(rec: EvaluationRecord, at: int | None, status: str, *, estimated: bool) -> None:
    # The first end of processing counts; a later re-sync (9 → 4 → 10) does not move it.
    if at is None:
        return
    if rec.finished_ms is None or at < rec.finished_ms:
        rec.finished_ms = at
        rec.finished_status = status
        rec.finish_estimated = estimated


def _track_status(rec: EvaluationRecord, status: str) -> None:
    if rec.status in FINISHED_STATUSES and status not in FINISHED_STATUSES:
        _add_flags(rec, ["reopened"])
    rec.status = status


def fold_dossier(
    rec: EvaluationRecord,
    d: DossierRecord,
    *,
    agency: str,
    accepted_ms: int,
    flags: Iterable[str] = (),
) -> EvaluationRecord:
    """The record after dossier snapshot ``d`` (accepted at ``accepted_ms`` under ``agency``)."""
    return fold_dossier_wire(rec, d.to_wire(), agency=agency, accepted_ms=accepted_ms, flags=flags)


def fold_step(
    rec: EvaluationRecord,
    s: ProgressRecord,
    *,
    agency: str,
    accepted_ms: int,
    flags: Iterable[str] = (),
) -> EvaluationRecord:
    """The record after progress step ``s``. Steps of a dossier arrive in time order."""
    return fold_step_wire(rec, s.to_wire(), agency=agency, accepted_ms=accepted_ms, flags=flags)


def _list(w: Mapping[str, Any], name: str) -> Sequence[Mapping[str, Any]]:
    value = w.get(name)
    if not value or not isinstance(value, list):
        return ()  # most lists of most records are empty: no new list, nothing to walk
    return [x for x in value if isinstance(x, dict)]


def _yes(value: Any) -> bool:
    return bool(value == "1")


def fold_dossier_wire(
    rec: EvaluationRecord,
    w: Mapping[str, Any],
    *,
    agency: str,
    accepted_ms: int,
    flags: Iterable[str] = (),
) -> EvaluationRecord:
    """:func:`fold_dossier` over the stored wire form (national names, validated at intake)."""
    out = rec.copy()
    dossier_facts(w).fold_into(out, agency=agency, accepted_ms=accepted_ms, flags=flags)
    return out


class DossierFacts(NamedTuple):
    """What one dossier snapshot says, read from its wire form by :func:`dossier_facts`.

    The wire form is read once and the facts are kept instead: a fold the store retries after
    a lost race reads nothing again, and a drain's batch holds one tuple per item, not a parsed
    dict and its lists (most of the batch's work for the garbage collector).
    """

    procedure: str | None
    channel: str
    received_ms: int | None
    due_ms: int | None
    status: str
    finished_ms: int | None
    """``NgayKetThucXuLy``: processing ended whatever the status says (then ``9``)."""
    end_ms: int | None
    """When the status or ``finished_ms`` ends processing: the end time the wire gives."""
    supplements: tuple[tuple[int | None, int | None], ...]
    online_payment: str | None
    fee_records: int
    fee_total: int
    digitised_flag: str | None
    docs: int
    docs_digitised: int
    docs_reused: int
    docs_from_store: int
    results: int
    result_links: int
    vneid: bool
    db_codes: tuple[str, ...]

    def fold_into(
        self,
        out: EvaluationRecord,
        *,
        agency: str,
        accepted_ms: int,
        flags: Iterable[str] = (),
    ) -> None:
        """Fold this snapshot into ``out`` in place (:func:`fold_dossier_wire` on a copy)."""
        out.agency = agency
        out.has_dossier = True
        out.procedure = self.procedure
        out.channel = self.channel
        out.received_ms = self.received_ms
        out.due_ms = self.due_ms
        status = self.status
        _track_status(out, status)
        if status in FINISHED_STATUSES or self.finished_ms is not None:
            end_status = status if status in FINISHED_STATUSES else "9"
            at = self.end_ms
            # Statuses 7 and 8 carry no end date: the acceptance time bounds it from above.
            _finish(out, at if at is not None else accepted_ms, end_status, estimated=at is None)
        # New lists: the record owns its lists, the facts may be folded again.
        out.supplements = [[a, b] for a, b in self.supplements] if self.supplements else []
        out.online_payment = self.online_payment
        out.fee_records = self.fee_records
        out.fee_total = self.fee_total
        out.digitised_flag = self.digitised_flag
        out.docs = self.docs
        out.docs_digitised = self.docs_digitised
        out.docs_reused = self.docs_reused
        out.docs_from_store = self.docs_from_store
        out.results = self.results
        out.result_links = self.result_links
        out.vneid = self.vneid
        out.db_codes = list(self.db_codes)
        _add_flags(out, flags)
        out.updated_ms = accepted_ms


def dossier_facts(w: Mapping[str, Any]) -> DossierFacts:
    """The facts of the ``DongBoHoSoMC`` wire form ``w`` (national names, validated at intake)."""
    status = str(w.get("TrangThaiHoSo") or "")
    finished_at = _ms(w.get("NgayKetThucXuLy"))
    end_at: int | None = None
    if status in FINISHED_STATUSES or finished_at is not None:
        if status == "3":
            end_at = _ms(w.get("NgayTuChoi")) or finished_at
        else:
            end_at = finished_at or _ms(w.get("NgayTra"))
    requests = _list(w, "DanhSachHoSoBoSung")
    supplements = (
        tuple([(_ms(x.get("NgayBoSung")), _ms(x.get("NgayTiepNhanBoSung"))) for x in requests])
        if requests
        else ()  # most dossiers have none: no generator to start and end
    )
    fees = _list(w, "DanhSachLePhi")
    docs = digitised = reused = from_store = 0
    for x in _list(w, "TaiLieuNop"):  # one pass for the four counts
        if x.get("IsDeleted") == "True":
            continue
        docs += 1
        digitised += _yes(x.get("DuocSoHoa"))
        reused += x.get("DuocTaiSuDung") not in (None, "", "0")
        from_store += _yes(x.get("DuocLayTuKhoDMQG"))
    results = _list(w, "DanhSachGiayToKetQua")
    codes = _list(w, "DSKetNoiCSDL")
    return DossierFacts(
        w.get("MaTTHC") or None,
        w.get("KenhThucHien") or "1",  # missing counts as in person (§2.4)
        _ms(w.get("NgayTiepNhan")),
        # NgayHenTra is "" for procedures without a due date (national-formats.md §2.2).
        _ms(w.get("NgayHenTra")),
        status,
        finished_at,
        end_at,
        supplements,
        w.get("DuocThanhToanTrucTuyen") or None,
        len(fees),
        sum(int(f.get("Gia") or 0) for f in fees) if fees else 0,
        w.get("HoSoCoThanhPhanSoHoa") or None,
        docs,
        digitised,
        reused,
        from_store,
        len(results),
        sum(1 for x in results if x.get("DuongDanTepTinKetQua")) if results else 0,
        _yes(w.get("TaiKhoanDuocXacThucVoiVNeID")),
        tuple(sorted({str(x["MaCSDL"]) for x in codes if x.get("MaCSDL")})) if codes else (),
    )


def fold_step_wire(
    rec: EvaluationRecord,
    w: Mapping[str, Any],
    *,
    agency: str,
    accepted_ms: int,
    flags: Iterable[str] = (),
) -> EvaluationRecord:
    """:func:`fold_step` over the stored wire form."""
    out = rec.copy()
    step_facts(w).fold_into(out, agency=agency, accepted_ms=accepted_ms, flags=flags)
    return out


class StepFacts(NamedTuple):
    """What one progress step says, read from its wire form by :func:`step_facts` (see
    :class:`DossierFacts` for why)."""

    at: int | None
    status: str

    def fold_into(
        self,
        out: EvaluationRecord,
        *,
        agency: str,
        accepted_ms: int,
        flags: Iterable[str] = (),
    ) -> None:
        """Fold this step into ``out`` in place (:func:`fold_step_wire` on a copy)."""
        if not out.has_dossier:
            out.agency = agency
        at, status = self
        if at is not None and (out.first_step_ms is None or at < out.first_step_ms):
            out.first_step_ms = at
        open_wait = out.step_supplements[-1] if out.step_supplements else None
        if open_wait is not None and open_wait[1] is None and status != _SUPPLEMENT:
            open_wait[1] = at
        if status == _SUPPLEMENT and (open_wait is None or open_wait[1] is not None):
            out.step_supplements.append([at, None])
        _track_status(out, status)
        if status in FINISHED_STATUSES:
            _finish(out, at, status, estimated=False)
        _add_flags(out, flags)
        out.updated_ms = accepted_ms


def step_facts(w: Mapping[str, Any]) -> StepFacts:
    """The facts of the ``CapNhatTienDoHoSoMC`` wire form ``w``."""
    return StepFacts(_ms(w.get("ThoiDiemXuLy")), str(w.get("TrangThai") or ""))


def fold_rating(rec: EvaluationRecord, r: DossierRating, *, accepted_ms: int) -> EvaluationRecord:
    """The record with rating ``r``, unless it already holds a newer one (then unchanged)."""
    at = int(r.rated_at.timestamp() * 1000)
    if rec.rating_ms is not None and at < rec.rating_ms:
        return rec
    out = rec.copy()
    out.rating_ms = at
    out.verdict = r.verdict
    out.answers = {a.criterion: a.answer for a in r.answers}
    out.updated_ms = accepted_ms
    return out


def fold_idchecks(
    rec: EvaluationRecord, entries: Iterable[Mapping[str, Any]], *, accepted_ms: int
) -> EvaluationRecord:
    """The record with its population-database look-ups recounted from ``entries``.

    Entries are the JSON objects of ``<ns>:idchecks:<MaHoSo>``; unreadable ones are skipped.
    """
    counts = idcheck_counts(entries)
    if counts == rec.idchecks:
        return rec
    out = rec.copy()
    out.idchecks = counts
    out.updated_ms = accepted_ms
    return out


def idcheck_counts(entries: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The look-ups of ``entries`` counted by outcome (what :func:`fold_idchecks` stores)."""
    counts: dict[str, int] = {}
    for entry in entries:
        outcome = entry.get("outcome")
        if isinstance(outcome, str):
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts
