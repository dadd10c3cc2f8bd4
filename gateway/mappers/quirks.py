"""Find the quirks of real senders in a raw national record, before it is validated.

Each finding is a :class:`~gateway.schemas.policy.Quirk`. Under ``flag`` the record goes on as
sent, with one exception that changes a type but not a value: a JSON number where the wire
carries a string of digits (``SoLuong`` 3 → "3"), so that the stored record is what the portal
expects; the flag says so. Under ``refuse`` the finding becomes a violation naming the field and
the rule. Nothing here looks at anything but the record: pure, and fast on the intake path (a
clean record costs a handful of dict lookups).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.errors import Violation
from gateway.schemas.policy import IntakePolicy, Quirk
from gateway.schemas.wire import LOCAL_DOSSIER_NO, dossier_agency, is_standard_dossier_number

__all__ = ["Findings", "dossier_quirks", "step_quirks"]

_FLAG_CODES = frozenset({"", "0", "1"})
_PAYMENT_CODES = frozenset({"", "0", "1", "2"})
_DIGIT_CODE = re.compile(r"[0-9]{1,2}")


@dataclass(frozen=True, slots=True)
class Findings:
    """The record to validate (maybe with numbers turned to digit strings), and what was found."""

    record: Any
    flags: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()


class _Scan:
    def __init__(self, record: Any, policy: IntakePolicy, path: str) -> None:
        self.record = record
        self.policy = policy
        self.path = path
        self.flags: list[str] = []
        self.violations: list[Violation] = []
        self._copied = False

    def found(self, quirk: Quirk, field: str, message: str) -> None:
        if self.policy.refuses(quirk):
            where = f"{self.path}.{field}" if self.path else field
            self.violations.append(Violation(where, quirk.value, message))
        elif quirk.value not in self.flags:
            self.flags.append(quirk.value)

    def own(self) -> dict[str, Any]:
        """The record, copied once before its first change (the caller's stays as sent)."""
        if not self._copied:
            self.record = dict(self.record)
            self._copied = True
        record: dict[str, Any] = self.record
        return record

    def dossier_number(self) -> None:
        no = self.record.get("MaHoSo")
        if not isinstance(no, str) or is_standard_dossier_number(no):
            return
        if dossier_agency(no) is not None or LOCAL_DOSSIER_NO.fullmatch(no):
            # Anything else is left for the model to refuse (dossier_number_shape).
            self.found(
                Quirk.DOSSIER_NUMBER_NONSTANDARD,
                "MaHoSo",
                "MaHoSo is not <agency code>-<YYMMDD>-<NNNN> (a 5-digit sequence or a local"
                " number)",
            )

    def result(self) -> Findings:
        return Findings(self.record, tuple(self.flags), tuple(self.violations))


def _codes(scan: _Scan, items: Any, field: str, path: str) -> None:
    if not isinstance(items, list):
        return
    for i, doc in enumerate(items):
        value = doc.get(field) if isinstance(doc, dict) else None
        if isinstance(value, str) and value not in _FLAG_CODES and _DIGIT_CODE.fullmatch(value):
            scan.found(
                Quirk.CODE_OUTSIDE_TABLE,
                f"{path}.{i}.{field}",
                f"{field} {value} is outside today's table (0, 1)",
            )


def dossier_quirks(record: Any, policy: IntakePolicy, *, path: str = "") -> Findings:
    """The quirks of one ``DongBoHoSoMC`` record (``path`` locates it, e.g. ``data.3``)."""
    if not isinstance(record, dict):
        return Findings(record)
    scan = _Scan(record, policy, path)
    scan.dossier_number()
    if record.get("SoGiayToChuHoSo") in (None, ""):
        scan.found(
            Quirk.OWNER_PAPER_MISSING, "SoGiayToChuHoSo", "SoGiayToChuHoSo is absent, null or empty"
        )
    if record.get("NgayHenTra") in (None, ""):
        scan.found(
            Quirk.DUE_DATE_MISSING,
            "NgayHenTra",
            "NgayHenTra is absent or empty (no due date: the procedure's maximum time applies)",
        )
    payment = record.get("DuocThanhToanTrucTuyen")
    if (
        isinstance(payment, str)
        and payment not in _PAYMENT_CODES
        and _DIGIT_CODE.fullmatch(payment)
    ):
        scan.found(
            Quirk.CODE_OUTSIDE_TABLE,
            "DuocThanhToanTrucTuyen",
            f"DuocThanhToanTrucTuyen {payment} is outside today's table (0, 1, 2)",
        )
    _codes(scan, record.get("TaiLieuNop"), "DuocTaiSuDung", "TaiLieuNop")
    supplements = record.get("DanhSachHoSoBoSung")
    if isinstance(supplements, list):
        for j, sup in enumerate(supplements):
            if isinstance(sup, dict):
                where = f"DanhSachHoSoBoSung.{j}.DanhSachGiayToBoSung"
                _codes(scan, sup.get("DanhSachGiayToBoSung"), "DuocTaiSuDung", where)
    _numbers(scan)
    return scan.result()


def _numbers(scan: _Scan) -> None:
    papers = scan.record.get("DanhSachTepDinhKemKhac")
    if not isinstance(papers, list):
        return
    fixed: list[Any] | None = None
    for i, paper in enumerate(papers):
        if not isinstance(paper, dict):
            continue
        numbers = {
            k: v
            for k in ("SoLuong", "LoaiGiayTo")
            if type(v := paper.get(k)) is int  # bool is an int subclass and stays refused
        }
        if not numbers:
            continue
        for k in numbers:
            scan.found(
                Quirk.NUMBER_FOR_TEXT,
                f"DanhSachTepDinhKemKhac.{i}.{k}",
                f"{k} is a JSON number; the wire carries it as a string of digits",
            )
        if fixed is None:
            fixed = list(papers)
        fixed[i] = {**paper, **{k: str(v) for k, v in numbers.items()}}
    if fixed is not None:
        scan.own()["DanhSachTepDinhKemKhac"] = fixed


def step_quirks(record: Any, policy: IntakePolicy, *, path: str = "") -> Findings:
    """The quirks of one ``CapNhatTienDoHoSoMC`` record."""
    if not isinstance(record, dict):
        return Findings(record)
    scan = _Scan(record, policy, path)
    scan.dossier_number()
    if record.get("NoiDungXuLy") == "":
        scan.found(Quirk.STEP_CONTENT_EMPTY, "NoiDungXuLy", "NoiDungXuLy is empty")
    return scan.result()
