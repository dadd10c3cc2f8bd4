"""DVCQG dossier record ⇄ LLTP ``nhanHoSoDangKy`` body, and LLTP status dates back (pure).

The DVCQG record gives the receipt (``MaHoSo`` is ``idReceivedDec``), its dates and the owner's
name and contact; the province's LLTP forms (``ThongTinKhac`` → ``{"lltp": {…}}``) give what the
DVCQG record cannot carry (sex, birth date, the identity paper's type …). Where both give a
value, the form wins: it is what the applicant declared for the ministry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.mappers.dates import dvcqg_from_lltp_date, lltp_date_from_dvcqg
from gateway.schemas.lltp import LltpApplication
from gateway.schemas.national import DossierRecord

__all__ = ["lltp_application", "lltp_body", "lltp_instant"]


def lltp_application(record: DossierRecord, forms: Mapping[str, Any]) -> LltpApplication:
    """The validated LLTP forms of ``record``; pydantic ``ValidationError`` names the field.

    ``fullName``, ``identifyNo``, ``phone`` and ``email`` default to the DVCQG owner's
    (``ChuHoSo``, ``SoGiayToChuHoSo``, ``SoDienThoai``, ``Email``).
    """
    declaration = dict(forms.get("declarationWSForm") or {})
    defaults = {
        "fullName": record.owner_name,
        "identifyNo": record.owner_paper_no,
        "phone": record.phone,
        "email": record.email,
    }
    for name, value in defaults.items():
        if value is not None and declaration.get(name) in (None, ""):
            declaration[name] = value
    return LltpApplication.model_validate({**forms, "declarationWSForm": declaration})


def lltp_body(record: DossierRecord, application: LltpApplication, office: str) -> dict[str, Any]:
    """The JSON body of ``nhanHoSoDangKy`` for one dossier (``office``: ``idMinistryJustice``)."""
    body: dict[str, Any] = {
        "idMinistryJustice": office,
        "idReceivedDec": record.dossier_no,
        "dateReceivedDec": lltp_date_from_dvcqg(record.received_at),
        "datePromissoryDec": lltp_date_from_dvcqg(record.due_at) if record.due_at else None,
        "idMoneyReceipt": application.idMoneyReceipt,
        "declarationWSForm": application.declarationWSForm.model_dump(mode="json"),
        "residenceWSForm": [r.model_dump(mode="json") for r in application.residenceWSForm],
        "mandatorWSForm": (
            application.mandatorWSForm.model_dump(mode="json")
            if application.mandatorWSForm is not None
            else None
        ),
    }
    return {k: v for k, v in body.items() if v is not None}


def lltp_instant(value: Any, *, end_of_day: bool = True) -> str | None:
    """An LLTP ``dd/mm/yyyy`` date from a reply as DVCQG ``yyyyMMddHHmmss`` (``None`` if absent
    or unreadable: a reply's optional date is informative, never a reason to refuse it)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return dvcqg_from_lltp_date(value.strip(), end_of_day=end_of_day)
    except ValueError:
        return None
