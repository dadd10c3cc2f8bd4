"""Dossier mapping: the provincial :class:`Dossier` ↔ the national ``DongBoHoSoMC`` record.

Towards the portal, the provincial record is written as a dict of wire strings under national
names (code-table members are ``StrEnum``, so they already are their strings) and validated once
as a :class:`DossierRecord`, so every national rule and configured limit
applies: a provincial record the portal would refuse raises ``pydantic.ValidationError`` whose
locations are national field names (translate with :func:`~gateway.mappers.contract_error_from`).

Conversions: datetimes ↔ ``yyyyMMddHHmmss`` in UTC+7 (a naive datetime is refused by the
provincial model already); ``bool`` ↔ ``Flag`` ("0"/"1"), except ``IsDeleted`` ↔ ``TextBool``
("True"/"False"); VND ``int`` ↔ digit strings; the applicant ↔ the owner fields
(``ChuHoSo``, ``SoGiayToChuHoSo``, ``LoaiDoiTuong``, ``MaDoiTuong``, ``Email``, ``Fax``,
``SoDienThoai``, ``ThongTinKhac``, ``DinhDanhCHS``, ``TaiKhoanDuocXacThucVoiVNeID``).

What the national record does not carry: the applicant's ``birth_date`` and ``sex`` (they only
serve the offline personal-ID check), the original UTC offset and sub-second part of each
datetime (the wire is UTC+7 to the second), and the difference between an empty optional string
and none at all (the wire sends "" for none). Everything else survives the round trip.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ContractError, Violation
from gateway.mappers._scalars import (
    BOOL_OF_FLAG,
    flag_of,
    local_time,
    opt_local_time,
    opt_wire_time,
    text_bool,
)
from gateway.schemas.codes import Flag, OnlinePayment, TextBool
from gateway.schemas.national import (
    DossierRecord,
    NationalDocument,
    NationalFee,
    NationalSupplement,
)
from gateway.schemas.provincial import Document, Dossier, Fee, Supplement
from gateway.schemas.wire import WireRules, format_wire_datetime

__all__ = ["dossier_from_national", "dossier_to_national"]


# --- provincial → national ------------------------------------------------------------------------


def _document_out(doc: Document) -> dict[str, Any]:
    return {
        "TepDinhKemId": doc.file_id,
        "TenTepDinhKem": doc.name,
        "IsDeleted": text_bool(doc.deleted),
        "MaThanhPhanHoSo": doc.component_code,
        "DuongDanTaiTepTin": doc.url,
        "DuocSoHoa": flag_of(doc.digitised),
        "DuocTaiSuDung": flag_of(doc.reused),
        "DuocLayTuKhoDMQG": flag_of(doc.from_national_store),
        "MaKetQuaThayThe": doc.replacing_result_code,
    }


def _fee_out(fee: Fee) -> dict[str, Any]:
    return {
        "TenPhiLePhi": fee.name,
        "MaPhiLePhi": fee.code,
        "HinhThucThu": fee.collection,
        "Gia": str(fee.amount),
        "LoaiPhiLePhi": fee.kind,
    }


def _supplement_out(sup: Supplement) -> dict[str, Any]:
    return {
        "HoSoBoSungId": sup.supplement_id,
        "NguoiYeuCauBoSung": sup.requested_by,
        "NoiDungBoSung": sup.content,
        "NgayBoSung": format_wire_datetime(sup.requested_at),
        "NguoiTiepNhanBoSung": sup.received_by,
        "ThongTinTiepNhan": sup.reception_info,
        "NgayTiepNhanBoSung": opt_wire_time(sup.received_at),
        "TrangThaiBoSung": sup.status,
        "DanhSachGiayToBoSung": [_document_out(d) for d in sup.documents],
        "DanhSachLePhiBoSung": [_fee_out(f) for f in sup.fees],
        "NgayHenTraTruoc": opt_wire_time(sup.previous_due_at),
        "NgayHenTraMoi": opt_wire_time(sup.new_due_at),
    }


def dossier_to_national(d: Dossier, *, rules: WireRules | None = None) -> DossierRecord:
    """The national ``DongBoHoSoMC`` record for a provincial dossier.

    ``rules`` carries configured limits and code lists (defaults when None). Raises
    ``pydantic.ValidationError``, located by national field names, when the dossier breaks a
    national rule (e.g. ``TrichYeuHoSo`` over its length limit).
    """
    a = d.applicant
    wire: dict[str, Any] = {
        "MaHoSo": d.dossier_no,
        "MaTTHC": d.procedure_code,
        "TenTTHC": d.procedure_name,
        "MaLinhVuc": d.field_code,
        "TenLinhVuc": d.field_name,
        "KenhThucHien": d.channel,
        "SoBienNhan": d.receipt_no,
        "ChuHoSo": a.name,
        "SoGiayToChuHoSo": a.paper_number,
        "LoaiDoiTuong": a.kind,
        "MaDoiTuong": a.account_id,
        "ThongTinKhac": a.other_info,
        "Email": a.email,
        "Fax": a.fax,
        "SoDienThoai": a.phone,
        "TrichYeuHoSo": d.summary,
        "NgayTiepNhan": format_wire_datetime(d.received_at),
        "NgayHenTra": format_wire_datetime(d.due_at),
        "TrangThaiHoSo": d.status,
        "NgayTra": opt_wire_time(d.returned_at),
        "ThongTinTra": d.return_info,
        "HinhThuc": d.result_delivery,
        "NgayKetThucXuLy": opt_wire_time(d.finished_at),
        "DonViXuLy": d.processing_unit,
        "GhiChu": d.note,
        "NoiNopHoSo": d.submission_place,
        "HoSoCoThanhPhanSoHoa": flag_of(d.has_digitised_components),
        "TaiKhoanDuocXacThucVoiVNeID": flag_of(a.verified_with_vneid),
        "DuocThanhToanTrucTuyen": d.online_payment,
        "NgayTuChoi": opt_wire_time(d.rejected_at),
        "NgayNopHoSo": opt_wire_time(d.submitted_at),
        "DinhDanhCHS": [{"LoaiDinhDanh": i.kind, "SoDinhDanh": i.number} for i in a.identifiers],
        "DSKetNoiCSDL": [{"MaCSDL": code} for code in d.connected_databases],
        "TaiLieuNop": [_document_out(doc) for doc in d.documents],
        "DanhSachLePhi": [_fee_out(fee) for fee in d.fees],
        "DanhSachTepDinhKemKhac": [
            {"TenGiayTo": p.name, "SoLuong": str(p.quantity), "LoaiGiayTo": p.kind}
            for p in d.attached_papers
        ],
        "DanhSachHoSoBoSung": [_supplement_out(s) for s in d.supplements],
        "DanhSachGiayToKetQua": [
            {
                "TenGiayTo": r.name,
                "MaThanhPhanHoSo": r.component_code,
                "GiayToId": r.paper_id,
                "DuongDanTepTinKetQua": r.url,
                "MaGiayToKetQua": r.result_code,
            }
            for r in d.results
        ],
    }
    return DossierRecord.model_validate(wire, context=rules)


# --- national → provincial ------------------------------------------------------------------------


def _document_in(doc: NationalDocument) -> dict[str, Any]:
    return {
        "name": doc.file_name,
        "file_id": doc.file_id,
        "component_code": doc.component_code,
        "url": doc.url,
        "deleted": doc.deleted is TextBool.TRUE,
        "digitised": BOOL_OF_FLAG[doc.digitised],
        "reused": BOOL_OF_FLAG[doc.reused],  # type: ignore[index]  # a code outside the table is refused above
        "from_national_store": BOOL_OF_FLAG[doc.from_national_store],
        "replacing_result_code": doc.replacing_result_code,
    }


def _fee_in(fee: NationalFee) -> dict[str, Any]:
    return {
        "name": fee.name,
        "code": fee.code,
        "collection": fee.collection,
        "amount": int(fee.amount),
        "kind": fee.kind,
    }


def _supplement_in(sup: NationalSupplement) -> dict[str, Any]:
    return {
        "supplement_id": sup.supplement_id,
        "content": sup.content,
        "requested_at": local_time(sup.requested_at),
        "requested_by": sup.requested_by,
        "received_by": sup.received_by,
        "reception_info": sup.reception_info,
        "received_at": opt_local_time(sup.received_at),
        "status": sup.status,
        "documents": [_document_in(d) for d in sup.documents],
        "fees": [_fee_in(f) for f in sup.fees],
        "previous_due_at": opt_local_time(sup.previous_due_at),
        "new_due_at": opt_local_time(sup.new_due_at),
    }


def _without_provincial_form(r: DossierRecord) -> list[Violation]:
    """What a national record accepted with a quirk holds that the provincial model cannot."""
    found = []
    if r.owner_paper_no in (None, ""):
        found.append(("SoGiayToChuHoSo", "owner_paper_missing"))
    if not r.due_at:
        found.append(("NgayHenTra", "due_date_missing"))
    if r.online_payment is not None and not isinstance(r.online_payment, OnlinePayment):
        found.append(("DuocThanhToanTrucTuyen", "code_outside_table"))
    docs = [(f"TaiLieuNop.{i}", d) for i, d in enumerate(r.documents)] + [
        (f"DanhSachHoSoBoSung.{j}.DanhSachGiayToBoSung.{i}", d)
        for j, sup in enumerate(r.supplements)
        for i, d in enumerate(sup.documents)
    ]
    for path, doc in docs:
        if doc.reused is not None and not isinstance(doc.reused, Flag):
            found.append((f"{path}.DuocTaiSuDung", "code_outside_table"))
    return [Violation(p, rule, "accepted as sent, but has no provincial form") for p, rule in found]


def dossier_from_national(r: DossierRecord) -> Dossier:
    """The provincial dossier for a validated national record; datetimes come out in UTC+7.

    The applicant's ``birth_date`` and ``sex`` are None: the national record does not carry them.
    Raises ContractError for a record the intake accepts with a quirk the provincial model has
    no form for (no due date, no owner paper, a code outside today's table).
    """
    missing = _without_provincial_form(r)
    if missing:
        raise ContractError(missing, source=r.dossier_no)
    return Dossier.model_validate(
        {
            "dossier_no": r.dossier_no,
            "procedure_code": r.procedure_code,
            "procedure_name": r.procedure_name,
            "field_code": r.field_code,
            "field_name": r.field_name,
            "channel": r.channel,
            "receipt_no": r.receipt_no,
            "applicant": {
                "kind": r.applicant_type,
                "name": r.owner_name,
                "paper_number": r.owner_paper_no,
                "account_id": r.account_id,
                "email": r.email,
                "phone": r.phone,
                "fax": r.fax,
                "other_info": r.other_info,
                "identifiers": [{"kind": i.kind, "number": i.number} for i in r.owner_identifiers],
                "verified_with_vneid": BOOL_OF_FLAG[r.vneid_verified],
            },
            "summary": r.summary,
            "received_at": local_time(r.received_at),
            "due_at": opt_local_time(r.due_at or None),
            "status": r.status,
            "returned_at": opt_local_time(r.returned_at),
            "return_info": r.return_info,
            "result_delivery": r.result_delivery,
            "finished_at": opt_local_time(r.finished_at),
            "processing_unit": r.processing_unit,
            "note": r.note,
            "submission_place": r.submission_place,
            "has_digitised_components": BOOL_OF_FLAG[r.has_digitised_components],
            "online_payment": r.online_payment,
            "rejected_at": opt_local_time(r.rejected_at),
            "submitted_at": opt_local_time(r.submitted_at),
            "connected_databases": [c.code for c in r.connected_databases],
            "documents": [_document_in(doc) for doc in r.documents],
            "fees": [_fee_in(fee) for fee in r.fees],
            "attached_papers": [
                {"name": p.name, "quantity": int(p.quantity), "kind": p.kind}
                for p in r.other_attachments
            ],
            "supplements": [_supplement_in(s) for s in r.supplements],
            "results": [
                {
                    "name": p.name,
                    "component_code": p.component_code,
                    "paper_id": p.paper_id,
                    "url": p.url,
                    "result_code": p.result_code,
                }
                for p in r.results
            ],
        }
    )
