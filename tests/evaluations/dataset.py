"""A small hand-computed data set: one agency, October 2026 (UTC+7), evaluated on 15 November.

Each dossier exercises one rule; the expected figures are written out in the tests.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from gateway.evaluations import (
    EvaluationRecord,
    EvaluationSettings,
    ProcedureRule,
    WorkCalendar,
    fold_dossier,
    fold_step,
)
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.testing.records import national_dossier, national_step

AGENCY = "000.00.01.H22"
CHILD = "000.00.02.H22"
OTHER = "000.00.09.H22"
NOW_MS = 1_794_718_800_000  # 2026-11-15 12:00 UTC+7 (a Sunday)

LINKED_RESULT = [{"TenGiayTo": "Giấy phép", "DuongDanTepTinKetQua": "https://kq.example/1.pdf"}]
GOOD_DOC = [
    {"TenTepDinhKem": "don.pdf", "DuocSoHoa": "1", "DuocTaiSuDung": "1", "DuocLayTuKhoDMQG": "1"}
]
PLAIN_DOC = [{"TenTepDinhKem": "to-khai.pdf", "DuocSoHoa": "0"}]


def fee(amount: str) -> list[dict[str, str]]:
    """One ordinary fee collected on reception."""
    return [{"TenPhiLePhi": "Lệ phí", "HinhThucThu": "1", "Gia": amount, "LoaiPhiLePhi": "1"}]


def settings(**extra: Any) -> EvaluationSettings:
    """The data set's configuration: procedure 2.000001 has a 5-day maximum and a fee."""
    return EvaluationSettings(
        procedures={"2.000001": ProcedureRule(max_days=5, fee_bearing=True)},
        parents={CHILD: AGENCY},
        **extra,
    )


def dossier(no: str, status: str, **fields: Any) -> DossierRecord:
    """A valid national dossier with these fields; ``NgayHenTra=None`` means no due date."""
    no_due = "NgayHenTra" in fields and fields["NgayHenTra"] is None
    if no_due:
        fields["NgayHenTra"] = fields["NgayTiepNhan"]
    rec = national_dossier(f"{AGENCY}-{no}", status, **fields)
    # The schema still requires NgayHenTra (issue 7 makes it optional); real senders send "".
    return rec.model_copy(update={"due_at": None}) if no_due else rec


def fold(*items: DossierRecord | ProgressRecord, agency: str = AGENCY) -> EvaluationRecord:
    """The evaluation record after these snapshots and steps, in order."""
    first = items[0]
    rec = EvaluationRecord(no=first.dossier_no, agency=agency)
    for i, item in enumerate(items):
        if isinstance(item, DossierRecord):
            rec = fold_dossier(rec, item, agency=agency, accepted_ms=i)
        else:
            rec = fold_step(rec, item, agency=agency, accepted_ms=i)
    return rec


def records() -> list[EvaluationRecord]:
    """The data set (see each comment for what it shows)."""
    base: dict[str, Any] = {"MaTTHC": "1.000001"}
    return [
        # D1 online, paid online, finished before NgayHenTra, electronic result, all digitised.
        fold(
            dossier(
                "261005-0001",
                "10",
                **base,
                KenhThucHien="2",
                NgayTiepNhan="20261005090000",
                NgayHenTra="20261009170000",
                NgayKetThucXuLy="20261008100000",
                NgayTra="20261009080000",
                DanhSachLePhi=fee("50000"),
                DuocThanhToanTrucTuyen="1",
                DanhSachGiayToKetQua=LINKED_RESULT,
                TaiLieuNop=GOOD_DOC,
                DSKetNoiCSDL=[{"MaCSDL": "CSDLQGDC"}],
            )
        ),
        # D2 at the counter, finished Tuesday 17:00 against Friday 17:00: 2 working days late.
        # Zero fee: left out of the payment share. Finished without a result link.
        fold(
            dossier(
                "261005-0002",
                "9",
                **base,
                KenhThucHien="1",
                NgayTiepNhan="20261005090000",
                NgayHenTra="20261009170000",
                NgayKetThucXuLy="20261013170000",
                DanhSachLePhi=fee("0"),
                TaiLieuNop=PLAIN_DOC,
            )
        ),
        # D3 one supplement (5 days waiting): finished 3 days after NgayHenTra on the clock,
        # on time once the wait is taken out. Fee not paid online.
        fold(
            dossier(
                "261001-0003",
                "10",
                **base,
                KenhThucHien="2",
                NgayTiepNhan="20261001080000",
                NgayHenTra="20261006170000",
                NgayKetThucXuLy="20261009080000",
                DanhSachLePhi=fee("20000"),
                DuocThanhToanTrucTuyen="0",
                DanhSachHoSoBoSung=[
                    {
                        "HoSoBoSungId": "b1",
                        "NoiDungBoSung": "Bản sao",
                        "NgayBoSung": "20261002080000",
                        "NgayTiepNhanBoSung": "20261007080000",
                    }
                ],
            )
        ),
        # D4 two supplement requests (steps): late whatever its dates.
        fold(
            dossier(
                "261005-0004",
                "4",
                **base,
                KenhThucHien="2",
                NgayTiepNhan="20261005090000",
                NgayHenTra="20261030170000",
            ),
            national_step("20261006090000", "5", f"{AGENCY}-261005-0004"),
            national_step("20261007090000", "4", f"{AGENCY}-261005-0004"),
            national_step("20261008090000", "5", f"{AGENCY}-261005-0004"),
            national_step("20261009090000", "4", f"{AGENCY}-261005-0004"),
            national_step("20261012090000", "9", f"{AGENCY}-261005-0004"),
        ),
        # D5 unfinished, due Friday 23 October 17:00; on 15 November that is 15 7/24 working days
        # past (rounded up: 16). Fee-bearing procedure without a fee record.
        fold(
            dossier(
                "261020-0005",
                "4",
                MaTTHC="2.000001",
                KenhThucHien="1",
                NgayTiepNhan="20261020090000",
                NgayHenTra="20261023170000",
            )
        ),
        # D6 no NgayHenTra: the procedure's 5 working days run to Monday 19 October 09:00;
        # finished Friday 16th: on time.
        fold(
            dossier(
                "261012-0006",
                "9",
                MaTTHC="2.000001",
                KenhThucHien="2",
                NgayTiepNhan="20261012090000",
                NgayHenTra=None,
                NgayKetThucXuLy="20261016090000",
                DanhSachLePhi=fee("30000"),
                DuocThanhToanTrucTuyen="2",
                DanhSachGiayToKetQua=LINKED_RESULT,
            )
        ),
        # D7 no NgayHenTra and no configured maximum: excluded from on time, and flagged so.
        fold(
            dossier(
                "261012-0007",
                "9",
                MaTTHC="9.999999",
                KenhThucHien="2",
                NgayTiepNhan="20261012090000",
                NgayHenTra=None,
                NgayKetThucXuLy="20261014090000",
                DanhSachGiayToKetQua=LINKED_RESULT,
            )
        ),
        # D8 received 23:30 on 31 October local time (16:30 UTC): October. Not yet due.
        fold(
            dossier(
                "261031-0008",
                "2",
                **base,
                KenhThucHien="2",
                NgayTiepNhan="20261031233000",
                NgayHenTra="20261130170000",
            )
        ),
        # D9 received 00:30 on 1 November local time (17:30 UTC on 31 October): November.
        fold(
            dossier(
                "261101-0009",
                "2",
                **base,
                KenhThucHien="1",
                NgayTiepNhan="20261101003000",
                NgayHenTra="20261130170000",
            )
        ),
        # D10 re-synced 9 → 4 → 10: finished first on the 7th (on time), the re-sync's later
        # NgayKetThucXuLy (the 20th) does not move it; flagged "reopened".
        fold(
            dossier(
                "261005-0010",
                "9",
                **base,
                KenhThucHien="2",
                NgayTiepNhan="20261005090000",
                NgayHenTra="20261009170000",
                NgayKetThucXuLy="20261007090000",
            ),
            dossier(
                "261005-0010",
                "4",
                **base,
                KenhThucHien="2",
                NgayTiepNhan="20261005090000",
                NgayHenTra="20261009170000",
            ),
            dossier(
                "261005-0010",
                "10",
                **base,
                KenhThucHien="2",
                NgayTiepNhan="20261005090000",
                NgayHenTra="20261009170000",
                NgayKetThucXuLy="20261020090000",
                NgayTra="20261020100000",
                DanhSachGiayToKetQua=LINKED_RESULT,
            ),
        ),
        # D11 a child agency's dossier: counts for the parent, not for OTHER.
        fold(
            national_dossier(
                f"{CHILD}-261006-0011",
                "2",
                KenhThucHien="2",
                NgayTiepNhan="20261006090000",
                NgayHenTra="20261130170000",
            ),
            agency=CHILD,
        ),
        # D12 another agency: never counted here.
        fold(
            national_dossier(
                f"{OTHER}-261006-0012",
                "2",
                KenhThucHien="2",
                NgayTiepNhan="20261006090000",
                NgayHenTra="20261130170000",
            ),
            agency=OTHER,
        ),
    ]


HOLIDAY_CALENDAR = WorkCalendar(holidays=frozenset({date(2026, 10, 12)}))
