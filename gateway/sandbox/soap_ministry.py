"""A sandbox ministry speaking the gateway's generic SOAP contract
(``contracts/ministry/generic-case.wsdl``), which it also serves at ``GET /lienthong/hoso?wsdl``.

``NopHoSo`` de-duplicates by ``MaBienNhan`` (a repeat answers the open case with ``DaTonTai``
true; the ledger counts submissions and cases per key). ``TraCuuTrangThai`` answers the stage,
or the fault ``Client.NotFound``; ``LayKetQua`` the result, or ``Client.NotReady``. Requests are
read with the gateway's safe XML parser (a DTD is a ``Client`` fault).

Faults: the sandbox's rates and :meth:`SoapMinistrySimulator.inject`: ``"timeout"``/``"drop"``
(applied, then no answer), ``"timeout_unapplied"`` (no answer, nothing applied),
``"unavailable"`` (HTTP 503, an HTML page), ``"error"`` (a ``soap:Server`` fault), or any fault
code (``"Server.Busy"``, ``"Client.Invalid"`` …) answered as a SOAP fault with nothing applied.
``POST /_sandbox/advance`` moves the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from lxml import etree

from gateway.contracts import contracts_dir
from gateway.errors import ContractError
from gateway.mappers.dates import format_dvcqg_datetime
from gateway.mappers.xml_safety import parse_xml
from gateway.sandbox.base import Answer
from gateway.sandbox.faults import Faults
from gateway.sandbox.ministry_cases import (
    ADVANCE_PATH,
    UNAPPLIED_TIMEOUT,
    MinistrySimulator,
    Stage,
    advance_answer,
)
from gateway.schemas.wire import VIETNAM_TZ

__all__ = ["SOAP_MINISTRY_PATH", "SOAP_NS", "SoapMinistrySimulator"]

SOAP_MINISTRY_PATH = "/lienthong/hoso"
SOAP_NS = "urn:vn:lienthong:hoso:1"
_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_XML = (("Content-Type", "text/xml; charset=utf-8"),)
_CODES: Mapping[Stage, str] = {
    "received": "DA_TIEP_NHAN",
    "supplement": "YEU_CAU_BO_SUNG",
    "processing": "DANG_XU_LY",
    "completed": "DA_CO_KET_QUA",
    "refused": "TU_CHOI",
}
_SHARED_FAULTS = frozenset({"timeout", "drop", "unavailable", "error", "timeout_unapplied"})


def _envelope(body_element: etree._Element) -> bytes:
    env = etree.Element(f"{{{_ENV}}}Envelope", nsmap={"soap": _ENV, "tns": SOAP_NS})
    body = etree.SubElement(env, f"{{{_ENV}}}Body")
    body.append(body_element)
    out: bytes = etree.tostring(env, encoding="UTF-8", xml_declaration=True)
    return out


def _reply(operation: str, fields: Mapping[str, str | None]) -> Answer:
    element = etree.Element(f"{{{SOAP_NS}}}{operation}Response")
    for name, value in fields.items():
        if value is not None:
            etree.SubElement(element, f"{{{SOAP_NS}}}{name}").text = value
    return Answer(200, _envelope(element), _XML)


def soap_fault(code: str, text: str) -> Answer:
    """A SOAP 1.1 fault (HTTP 500) with ``faultcode`` ``soap:<code>``."""
    fault = etree.Element(f"{{{_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = text
    return Answer(500, _envelope(fault), _XML)


class SoapMinistrySimulator(MinistrySimulator):
    """The generic SOAP ministry, locally."""

    name = "soap_ministry"

    def __init__(
        self,
        *,
        agency_code: str = "000.00.01.H22",
        client_id: str = "gateway",
        client_secret: str = "soap-sandbox-secret",  # noqa: S107 - the sandbox's test secret
        faults: Faults | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            prefix="SO",
            faults=faults,
            clock=clock,
        )
        self.agency_code = agency_code
        self.wsdl = (contracts_dir() / "ministry" / "generic-case.wsdl").read_bytes()

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request."""
        if method == "POST" and path == ADVANCE_PATH:
            return advance_answer(self.clock, body)
        if method == "POST" and path == "/token":
            return self.tokens.issue(headers, body)
        if path != SOAP_MINISTRY_PATH:
            return Answer(404, b"")
        if method == "GET":
            return Answer(200, self.wsdl, _XML)
        if not self.tokens.valid(headers):
            return Answer(401, b"", (("WWW-Authenticate", "Bearer"),))
        try:
            operation, fields = self._read(body)
        except ContractError as exc:
            rule = exc.violations[0].rule if exc.violations else "xml"
            return soap_fault("Client", f"request refused ({rule})")
        self.calls[operation] += 1
        fault = self.faults.draw(operation)
        if fault == "unavailable":
            return Answer(503, b"<html>busy</html>", (("Content-Type", "text/html"),))
        if fault == "error":
            return soap_fault("Server", "internal error")
        if fault is not None and fault not in _SHARED_FAULTS:
            return soap_fault(str(fault), "simulated fault")
        if fault == UNAPPLIED_TIMEOUT:
            return Answer(200, b"", after="timeout")  # lost on the way: nothing applied
        reply = self._apply(operation, fields)
        if fault in ("timeout", "drop"):
            return Answer(200, b"", after=fault)  # type: ignore[arg-type]  # "timeout" | "drop"
        return reply

    @staticmethod
    def _read(body: bytes) -> tuple[str, dict[str, str]]:
        root = parse_xml(body, max_bytes=1024 * 1024)
        payload = root.find(f"{{{_ENV}}}Body")
        first = None if payload is None else next(iter(payload), None)
        if first is None or etree.QName(first).namespace != SOAP_NS:
            raise ContractError.single("Body", "soap_body", "no operation element")
        fields = {etree.QName(c).localname: (c.text or "") for c in first if isinstance(c.tag, str)}
        return etree.QName(first).localname, fields

    def _apply(self, operation: str, fields: dict[str, str]) -> Answer:
        key = fields.get("MaBienNhan", "")
        now = self.clock()
        if operation == "NopHoSo":
            if fields.get("MaDonVi") != self.agency_code:
                return soap_fault("Client.Agency", "MaDonVi không đúng")
            opened_case, opened = self.book.open(key, {"MaTTHC": fields.get("MaTTHC", "")})
            return _reply(
                operation,
                {
                    "MaHoSoBo": opened_case.case_id,
                    "TrangThai": _CODES[opened_case.stage(now)],
                    "DaTonTai": "false" if opened else "true",
                },
            )
        case = self.book.find(key)
        if operation == "TraCuuTrangThai":
            if case is None:
                return soap_fault("Client.NotFound", "không tìm thấy hồ sơ")
            stage = case.stage(now)
            return _reply(
                operation,
                {
                    "MaHoSoBo": case.case_id,
                    "TrangThai": _CODES[stage],
                    "ThoiDiemCapNhat": _when(case.changed_at(now)),
                    "GhiChu": "Bổ sung bản sao giấy tờ" if stage == "supplement" else None,
                },
            )
        if operation == "LayKetQua":
            if case is None:
                return soap_fault("Client.NotFound", "không tìm thấy hồ sơ")
            if case.stage(now) != "completed":
                return soap_fault("Client.NotReady", "chưa có kết quả")
            return _reply(
                operation,
                {
                    "MaHoSoBo": case.case_id,
                    "SoKetQua": case.result_no,
                    "NgayCap": _when(case.changed_at(now)),
                    "DuongDan": f"https://ministry.sandbox/ketqua/{case.case_id}.pdf",
                },
            )
        return soap_fault("Client", f"unknown operation {operation}")


def _when(at: float) -> str:
    return format_dvcqg_datetime(datetime.fromtimestamp(at, VIETNAM_TZ))
