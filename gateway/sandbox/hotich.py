"""A sandbox of the Ministry of Justice civil-status service (``…/apiHoTichTuPhap/``).

``dangKyHoTich`` reads the registration XML back with the gateway's own safe reader (a DTD or a
malformed document answers error 500) and opens a case. Like the real service is assumed to,
it does **not** de-duplicate by ``maHoSo``: a repeat opens a second case, and the ledger's
``duplicate_cases`` shows it. ``traTrangThaiHoSo`` answers the stage in the ministry's codes
(201 when no case), ``ketQuaDangKyHS`` 200 until completed, ``dsHoSoDangKy`` what changed since a
day, ``danhMuc`` five small catalogues (302 for another type). A wrong ``maDonVi`` answers 106, a
missing or expired token 100.

Faults: the sandbox's rates and :meth:`HoTichSimulator.inject` (``"timeout"``/``"drop"``: the
registration is applied, then no answer; ``"timeout_unapplied"``: no answer, nothing applied;
``"unavailable"``: 503; ``"error"``: HTTP 500; any of the ministry's codes ``"100"``…``"500"``:
that error, nothing applied). ``POST /_sandbox/advance`` moves the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson

from gateway.errors import ContractError
from gateway.mappers.dates import format_lltp_date, parse_lltp_date
from gateway.mappers.hotich_xml import read_registration_xml
from gateway.sandbox.base import Answer, json_answer
from gateway.sandbox.faults import Faults
from gateway.sandbox.ministry_cases import (
    ADVANCE_PATH,
    UNAPPLIED_TIMEOUT,
    MinistrySimulator,
    Stage,
    advance_answer,
)
from gateway.schemas.wire import VIETNAM_TZ

__all__ = ["HOTICH_BASE_PATH", "HoTichSimulator"]

HOTICH_BASE_PATH = "/apiHoTichTuPhap"
_CODES: Mapping[Stage, int] = {
    "received": 1,
    "supplement": 2,
    "processing": 3,
    "completed": 4,
    "refused": 0,
}
_CATALOGUES: Mapping[int, list[dict[str, str]]] = {
    1: [{"ma": "VN", "ten": "Việt Nam"}, {"ma": "LA", "ten": "Lào"}],
    2: [{"ma": "VN", "ten": "Việt Nam"}, {"ma": "JP", "ten": "Nhật Bản"}],
    3: [{"ma": "01", "ten": "Kinh"}, {"ma": "02", "ten": "Tày"}],
    4: [{"ma": "22", "ten": "Tỉnh Quảng Ninh"}, {"ma": "01", "ten": "Thành phố Hà Nội"}],
    5: [{"ma": "CCCD", "ten": "Căn cước công dân"}, {"ma": "HC", "ten": "Hộ chiếu"}],
}
_MINISTRY_CODES = frozenset({"100", "101", "106", "108", "200", "201", "302", "500"})


class HoTichSimulator(MinistrySimulator):
    """The civil-status service, locally."""

    name = "hotich"

    def __init__(
        self,
        *,
        agency_code: str = "000.00.01.H22",
        client_id: str = "gateway",
        client_secret: str = "hotich-sandbox-secret",  # noqa: S107 - the sandbox's test secret
        faults: Faults | None = None,
        clock: Callable[[], float] | None = None,
        dedupe: bool = False,
    ) -> None:
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            prefix="HT",
            dedupe=dedupe,
            faults=faults,
            clock=clock,
        )
        self.agency_code = agency_code

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request."""
        if method == "POST" and path == ADVANCE_PATH:
            return advance_answer(self.clock, body)
        if method == "POST" and path == "/token":
            return self.tokens.issue(headers, body)
        operation = path.removeprefix(HOTICH_BASE_PATH + "/")
        if method != "POST" or operation == path or "/" in operation:
            return Answer(404, b"{}")
        self.calls[operation] += 1
        if not self.tokens.valid(headers):
            return _error("100", "xác thực không thành công")
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error("500", "dữ liệu không phải JSON")
        if not isinstance(message, dict):
            return _error("500", "dữ liệu không phải đối tượng JSON")
        fault = self.faults.draw(operation)
        if fault == "unavailable":
            return Answer(503, b"{}")
        if fault == "error":
            return Answer(500, b'{"message":"internal error"}')
        if fault in _MINISTRY_CODES:
            return _error(str(fault), "lỗi giả lập")
        if fault == UNAPPLIED_TIMEOUT:
            return Answer(200, b"", after="timeout")  # lost on the way: nothing applied
        reply = self._apply(operation, message)
        if fault in ("timeout", "drop"):
            return Answer(200, b"", after=fault)  # type: ignore[arg-type]  # "timeout" | "drop"
        return reply

    def _apply(self, operation: str, message: dict[str, Any]) -> Answer:
        if operation == "danhMuc":
            entries = _CATALOGUES.get(_int(message.get("loaiDanhMuc")))
            if entries is None:
                return _error("302", "loại danh mục không hợp lệ")
            return _ok(entries)
        if operation == "dsHoSoDangKy":
            return self._changes(message)
        if message.get("maDonVi") != self.agency_code:
            return _error("106", "mã đơn vị không đúng")
        key = str(message.get("maHoSo") or "")
        if operation == "dangKyHoTich":
            return self._register(key, message)
        if operation == "traTrangThaiHoSo":
            case = self.book.find(key)
            if case is None:
                return _error("201", "không tìm thấy hồ sơ")
            stage = case.stage(self.clock())
            state: dict[str, Any] = {
                "maHoSo": key,
                "trangThai": _CODES[stage],
                "ngayCapNhat": self._day(case.changed_at(self.clock())),
            }
            if stage == "supplement":
                state["noiDungBoSung"] = "Bổ sung bản sao giấy chứng sinh"
            return _ok(state)
        if operation == "ketQuaDangKyHS":
            case = self.book.find(key)
            if case is None:
                return _error("201", "không tìm thấy hồ sơ")
            if case.stage(self.clock()) != "completed":
                return _error("200", "hồ sơ chưa hoàn thành")
            return _ok(
                {
                    "maHoSo": key,
                    "soDangKy": case.result_no,
                    "ngayDangKy": self._day(case.changed_at(self.clock())),
                    "quyenSo": "01/2025",
                    "duongDanKetQua": f"https://hotich.sandbox/ketqua/{case.case_id}.pdf",
                }
            )
        return Answer(404, b"{}")

    def _register(self, key: str, message: dict[str, Any]) -> Answer:
        data = message.get("data")
        if not isinstance(data, str):
            return _error("500", "thiếu dữ liệu hồ sơ")
        try:
            registration = read_registration_xml(data)
        except ContractError as exc:
            rule = exc.violations[0].rule if exc.violations else "xml"
            return _error("500", f"dữ liệu hồ sơ không hợp lệ ({rule})")
        if registration.dossier_no != key or registration.module.value != message.get("module"):
            return _error("500", "maHoSo hoặc module không khớp với dữ liệu")
        self.book.open(key, {"module": registration.module.value})
        return _ok(None)

    def _changes(self, message: dict[str, Any]) -> Answer:
        try:
            day = parse_lltp_date(str(message.get("ngayCapNhat") or ""))
        except ValueError:
            return _error("500", "ngayCapNhat phải là dd/mm/yyyy")
        since = datetime(day.year, day.month, day.day, tzinfo=VIETNAM_TZ).timestamp()
        now = self.clock()
        module = message.get("module")
        return _ok(
            [
                {
                    "maHoSo": c.key,
                    "trangThai": _CODES[c.stage(now)],
                    "ngayCapNhat": self._day(c.changed_at(now)),
                }
                for c in self.book.changed_since(since)
                if c.payload.get("module") == module
            ]
        )

    @staticmethod
    def _day(at: float) -> str:
        return format_lltp_date(datetime.fromtimestamp(at, VIETNAM_TZ))


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


def _ok(data: Any) -> Answer:
    return json_answer({"status": 1, "errorCode": None, "message": "", "data": data})


def _error(code: str, message: str) -> Answer:
    return json_answer({"status": 0, "errorCode": code, "message": message, "data": None})
