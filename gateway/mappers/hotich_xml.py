"""The civil-status registration ↔ the XML document ``dangKyHoTich`` carries in ``data``.

The ministry takes the registration as an XML document inside a JSON string. Built with lxml
(never by string concatenation, so names and text are always escaped); read back only through
:func:`gateway.mappers.xml_safety.parse_xml` (no DTD, no entities, bounded size), which is how
the sandbox ministry reads what the gateway sent and how the round-trip tests check the
builder. The layout is ours (the ministry publishes none); every element is named after the
national field it carries.

::

    <hoSo>
      <maHoSo/> <module/> <maTTHC/> <ngayTiepNhan>dd/mm/yyyy</ngayTiepNhan>
      <nguoiYeuCau><hoTen/> <soGiayTo/>? <soDienThoai/>? <email/>?</nguoiYeuCau>
      <trichYeu/>?
      <thongTin><tenTruong>value</tenTruong>…</thongTin>
      <danhSachTaiLieu><taiLieu><tenTaiLieu/> <duongDan/>?</taiLieu>…</danhSachTaiLieu>
    </hoSo>
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree
from pydantic import ValidationError

from gateway.errors import ContractError
from gateway.mappers.dates import (
    format_lltp_date,
    parse_dvcqg_datetime,
    parse_lltp_date,
    vietnam_date,
)
from gateway.mappers.errors import contract_error_from
from gateway.mappers.xml_safety import parse_xml
from gateway.schemas.codes import TextBool
from gateway.schemas.hotich import HoTichModule, HoTichRegistration, HoTichRequester
from gateway.schemas.national import DossierRecord

__all__ = [
    "HOTICH_XML_MAX_BYTES",
    "build_registration_xml",
    "read_registration_xml",
    "registration_from_dossier",
]

HOTICH_XML_MAX_BYTES = 2 * 1024 * 1024
"""A registration with its document list; anything larger is not one registration."""

_ROOT = "hoSo"
_REQUESTER_FIELDS = ("hoTen", "soGiayTo", "soDienThoai", "email")


def _child(parent: etree._Element, name: str, text: str | None) -> None:
    if text is None:
        return
    element = etree.SubElement(parent, name)
    try:
        element.text = text
    except ValueError:
        # lxml refuses control characters XML 1.0 cannot carry; name the field, not the text.
        raise ContractError.single(
            name, "xml_char", "contains a character XML cannot carry"
        ) from None


def build_registration_xml(registration: HoTichRegistration) -> str:
    """The registration as an XML document (a string, as ``data`` carries it).

    Raises ContractError ``xml_char`` when a value holds a character XML 1.0 cannot carry.
    """
    r = registration
    root = etree.Element(_ROOT)
    _child(root, "maHoSo", r.dossier_no)
    _child(root, "module", r.module.value)
    _child(root, "maTTHC", r.procedure_code)
    _child(root, "ngayTiepNhan", format_lltp_date(r.received_on))
    requester = etree.SubElement(root, "nguoiYeuCau")
    _child(requester, "hoTen", r.requester.full_name)
    _child(requester, "soGiayTo", r.requester.paper_no)
    _child(requester, "soDienThoai", r.requester.phone)
    _child(requester, "email", r.requester.email)
    _child(root, "trichYeu", r.summary)
    details = etree.SubElement(root, "thongTin")
    for name, value in r.details:
        _child(details, name, value)
    documents = etree.SubElement(root, "danhSachTaiLieu")
    for title, link in r.documents:
        document = etree.SubElement(documents, "taiLieu")
        _child(document, "tenTaiLieu", title)
        _child(document, "duongDan", link)
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return body.decode("utf-8")


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    return element.text or ""


def read_registration_xml(
    data: str | bytes, *, max_bytes: int = HOTICH_XML_MAX_BYTES
) -> HoTichRegistration:
    """Read a registration document back (safely: see :mod:`gateway.mappers.xml_safety`).

    Raises ContractError: the parser's rules (``xml_dtd_forbidden`` …), ``xml_root`` for
    another document, and pydantic's rules located by the element names.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    root = parse_xml(raw, max_bytes=max_bytes)
    if root.tag != _ROOT:
        raise ContractError.single("", "xml_root", f"the document's root must be <{_ROOT}>")
    requester = root.find("nguoiYeuCau")
    fields: dict[str, Any] = {
        "maHoSo": _text(root.find("maHoSo")),
        "module": _text(root.find("module")),
        "maTTHC": _text(root.find("maTTHC")),
        "ngayTiepNhan": _date(_text(root.find("ngayTiepNhan"))),
        "nguoiYeuCau": {
            name: _text(requester.find(name))
            for name in _REQUESTER_FIELDS
            if requester is not None and requester.find(name) is not None
        },
        "trichYeu": _text(root.find("trichYeu")),
        "thongTin": tuple(
            (str(child.tag), child.text or "")
            for child in root.iterfind("thongTin/*")
            if isinstance(child.tag, str)
        ),
        "taiLieu": tuple(
            (_text(doc.find("tenTaiLieu")), _text(doc.find("duongDan")))
            for doc in root.iterfind("danhSachTaiLieu/taiLieu")
        ),
    }
    try:
        return HoTichRegistration.model_validate(fields)
    except ValidationError as exc:
        raise contract_error_from(exc, source="hotich registration") from exc


def _date(text: str | None) -> object:
    if text is None:
        return None
    try:
        return parse_lltp_date(text)
    except ValueError:
        raise ContractError.single(
            "ngayTiepNhan", "date_format", "ngayTiepNhan must be dd/mm/yyyy"
        ) from None


def registration_from_dossier(
    record: DossierRecord,
    *,
    module: HoTichModule,
    details: Mapping[str, str] | Sequence[tuple[str, str]] = (),
) -> HoTichRegistration:
    """The registration for an accepted dossier: its number, procedure, owner and documents.

    ``details`` are the register's fields from the provincial form (not part of the national
    dossier record). Raises ContractError when the dossier lacks what the ministry needs (an
    owner's name) or a field name is no XML name.
    """
    items = tuple(details.items()) if isinstance(details, Mapping) else tuple(details)
    fields: dict[str, Any] = {
        "maHoSo": record.dossier_no,
        "module": module,
        "maTTHC": record.procedure_code,
        "ngayTiepNhan": vietnam_date(parse_dvcqg_datetime(record.received_at)),
        "nguoiYeuCau": HoTichRequester.model_construct(
            full_name=record.owner_name or "",
            paper_no=record.owner_paper_no or None,
            phone=record.phone,
            email=record.email,
        ).model_dump(by_alias=True, exclude_none=True),
        "trichYeu": record.summary,
        "thongTin": items,
        "taiLieu": tuple(
            (doc.file_name, doc.url) for doc in record.documents if doc.deleted is not TextBool.TRUE
        ),
    }
    try:
        return HoTichRegistration.model_validate(fields)
    except ValidationError as exc:
        raise contract_error_from(exc, source="hotich registration") from exc
