"""A fake National Public Service Portal (DVCQG, adapter style) for tests and benchmarks.

:class:`FakePortal` holds the behaviour and an in-memory store; it answers raw requests, so it can
sit behind a real loopback HTTP server (:class:`FakePortalServer`), an ``httpx.MockTransport``
(:meth:`FakePortal.transport`) or a respx route (``side_effect=portal.handle_request``).

Behaviour where the real portal is unknown, chosen to be strict so mistakes show up in tests:
a create naming any existing ``MaHoSo`` stores nothing and answers "Hồ sơ đã tồn tại"; an update
stores every record, known or not; progress for an unknown dossier is refused (``strict_steps``);
``TraCuuHoSo`` answers the stored record plus its steps under ``QuaTrinhXuLy``.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from gateway.connectors.dvcqg import DvcqgConfig

__all__ = ["FakePortal", "PortalAnswer", "PortalCall"]

_OK = "Thành công"
_JSON = (("Content-Type", "application/json; charset=utf-8"),)


@dataclass(frozen=True, slots=True)
class PortalCall:
    """One service call as the portal saw it (logins are only counted, in ``logins``).

    ``error_code`` is ``None`` when the answer was an injected HTTP failure, not a JSON reply;
    ``dropped`` is true when the connection was closed after the call was processed.
    """

    service: str
    agency: str
    dossiers: tuple[str, ...]
    is_updating: str | None
    status: int
    error_code: str | None
    dropped: bool = False


@dataclass(frozen=True, slots=True)
class PortalAnswer:
    """What to send back: status, headers and body, or nothing at all (``disconnect``)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _JSON
    disconnect: bool = False


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int | None  # None: process the call, then drop the connection
    retry_after: str | None = None


def _json(payload: Mapping[str, Any], status: int = 200) -> PortalAnswer:
    return PortalAnswer(status, orjson.dumps(payload))


def _error(code: str, message: str) -> PortalAnswer:
    return _json({"error_code": code, "message": message, "result": []})


class FakePortal:
    """An in-memory DVCQG portal: login, ``DongBoHoSoMC``, ``CapNhatTienDoHoSoMC``, ``TraCuuHoSo``.

    Thread-safe. Failure injection applies to service calls, not to logins. Error codes it uses:
    ``"401"`` expired session, ``"1"`` already exists, ``"2"`` invalid data, ``"3"`` not found.
    ``latency`` (seconds) delays every answer, for benchmarks that want a realistic peer.
    """

    def __init__(
        self,
        *,
        username: str = "gateway",
        password: str = "fake-portal-password",  # noqa: S107 - a fake's own credential
        dstcode: str = "000.00.00.H22",
        auth_path: str = "/api/auth",
        integration_path: str = "/api/integration",
        share_path: str = "/api/share",
        strict_steps: bool = True,
        latency: float = 0.0,
        on_call: Callable[[PortalCall], None] | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.dstcode = dstcode
        self.auth_path = auth_path
        self.integration_path = integration_path
        self.share_path = share_path
        self.strict_steps = strict_steps
        self.latency = latency
        self.on_call = on_call
        """Called with each service call as it is recorded (``gateway fake-portal`` prints them)."""
        # Re-entrant: an on_call hook may inject the next fault while the call is recorded.
        self._lock = threading.RLock()
        self._sessions: set[str] = set()
        self._dossiers: dict[str, dict[str, Any]] = {}
        self._steps: dict[str, list[dict[str, Any]]] = {}
        self._ratings: dict[tuple[str, ...], dict[str, Any]] = {}
        self._calls: list[PortalCall] = []
        self._faults: deque[_Fault] = deque()
        self._rejections: dict[str, tuple[str, str]] = {}
        self._logins = 0

    # -- what tests inspect -------------------------------------------------------------------

    @property
    def dossiers(self) -> dict[str, dict[str, Any]]:
        """A copy of every stored dossier, by ``MaHoSo``."""
        with self._lock:
            return copy.deepcopy(self._dossiers)

    def dossier(self, ma_ho_so: str) -> dict[str, Any] | None:
        """A copy of one stored dossier, or ``None``."""
        with self._lock:
            return copy.deepcopy(self._dossiers.get(ma_ho_so))

    @property
    def ratings(self) -> dict[tuple[str, ...], dict[str, Any]]:
        """``DongBoDanhGia`` summaries held, by (Madonvi, NgayTongHop, MaThuTuc)."""
        with self._lock:
            return copy.deepcopy(self._ratings)

    def steps(self, ma_ho_so: str) -> list[dict[str, Any]]:
        """A copy of the progress steps received for ``ma_ho_so``, oldest first."""
        with self._lock:
            return copy.deepcopy(self._steps.get(ma_ho_so, []))

    @property
    def calls(self) -> tuple[PortalCall, ...]:
        """Every service call answered so far, oldest first."""
        with self._lock:
            return tuple(self._calls)

    @property
    def logins(self) -> int:
        """How many successful logins the portal has answered."""
        with self._lock:
            return self._logins

    # -- arranging state and failures ---------------------------------------------------------

    def seed(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Store dossiers as if they had been created earlier (keyed by their ``MaHoSo``)."""
        with self._lock:
            for record in records:
                self._dossiers[str(record["MaHoSo"])] = copy.deepcopy(dict(record))

    def fail_next(self, count: int = 1, *, status: int = 503) -> None:
        """Answer the next ``count`` service calls with HTTP ``status`` and a plain-text body."""
        with self._lock:
            self._faults.extend(_Fault(status) for _ in range(count))

    def throttle_next(self, count: int = 1, *, retry_after: str = "1") -> None:
        """Answer the next ``count`` service calls with 429 and ``Retry-After: retry_after``."""
        with self._lock:
            self._faults.extend(_Fault(429, retry_after) for _ in range(count))

    def drop_next(self, count: int = 1) -> None:
        """Process the next ``count`` service calls, then close the connection without answering.

        This is the ambiguous failure: the portal holds the data, the client saw no reply.
        """
        with self._lock:
            self._faults.extend(_Fault(None) for _ in range(count))

    def reject(self, ma_ho_so: str, *, code: str = "2", message: str | None = None) -> None:
        """Refuse every write naming ``ma_ho_so`` (the whole batch) until :meth:`clear_faults`."""
        text = message if message is not None else f"Dữ liệu hồ sơ {ma_ho_so} không hợp lệ"
        with self._lock:
            self._rejections[ma_ho_so] = (code, text)

    def expire_sessions(self) -> None:
        """Forget every session token, as when the portal's sessions time out."""
        with self._lock:
            self._sessions.clear()

    def clear_faults(self) -> None:
        """Drop pending injected failures and record rejections."""
        with self._lock:
            self._faults.clear()
            self._rejections.clear()

    def reset(self) -> None:
        """Forget everything: store, call log, sessions, failures."""
        with self._lock:
            self._sessions.clear()
            self._dossiers.clear()
            self._steps.clear()
            self._calls.clear()
            self._faults.clear()
            self._rejections.clear()
            self._logins = 0

    # -- answering ----------------------------------------------------------------------------

    def handle(self, method: str, path: str, dstcode: str | None, body: bytes) -> PortalAnswer:
        """Answer one raw request (``path`` without the query string)."""
        if self.latency:
            time.sleep(self.latency)
        if method != "POST":
            return _json({"error_code": "405", "message": "Method not allowed"}, 405)
        if path not in (self.auth_path, self.integration_path, self.share_path):
            return _json({"error_code": "404", "message": "Not found"}, 404)
        if dstcode != self.dstcode:
            return _json({"error_code": "400", "message": "dstcode không hợp lệ"}, 400)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _json({"error_code": "400", "message": "Body is not JSON"}, 400)
        if not isinstance(payload, dict):
            return _json({"error_code": "400", "message": "Body is not a JSON object"}, 400)
        with self._lock:
            if path == self.auth_path:
                return self._login(payload)
            return self._service(payload)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer an httpx request: a respx ``side_effect`` or an ``httpx.MockTransport`` handler.

        A dropped call raises ``httpx.RemoteProtocolError`` as a closed connection would.
        """
        answer = self.handle(
            request.method, request.url.path, request.headers.get("dstcode"), request.read()
        )
        if answer.disconnect:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(answer.status, headers=list(answer.headers), content=answer.body)

    def connector_config(self, base_url: str, **overrides: Any) -> DvcqgConfig:
        """A connector config for this portal at ``base_url`` (paths and credentials filled in)."""
        fields: dict[str, Any] = {
            "base_url": base_url,
            "auth_path": self.auth_path,
            "integration_path": self.integration_path,
            "share_path": self.share_path,
            "username": self.username,
            "password": self.password,
            "dstcode": self.dstcode,
            # This lenient fake answers an expired session with error_code "401" in JSON.
            "session_rejected_codes": ("401",),
            **overrides,
        }
        return DvcqgConfig.model_validate(fields)

    def transport(self) -> httpx.MockTransport:
        """An in-process transport for ``DvcqgConnector(config, transport=...)``: no sockets."""
        return httpx.MockTransport(self.handle_request)

    # The methods below run with self._lock held.

    def _login(self, payload: dict[str, Any]) -> PortalAnswer:
        if payload.get("username") != self.username or payload.get("password") != self.password:
            return _error("1", "Sai tên đăng nhập hoặc mật khẩu")
        token = secrets.token_hex(16)
        self._sessions.add(token)
        self._logins += 1
        # The real portal answers a number here and strings elsewhere; clients must accept both.
        return _json({"error_code": 0, "message": _OK, "session": token})

    def _service(self, payload: dict[str, Any]) -> PortalAnswer:
        service = str(payload.get("service", ""))
        data = payload.get("data")
        named = tuple(
            str(item.get("MaHoSo"))
            for item in (data if isinstance(data, list) else [])
            if isinstance(item, dict)
        )
        if "MaHoSo" in payload:
            named = (str(payload["MaHoSo"]),)
        updating = payload.get("isUpdating")
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.status is not None:
            headers = [("Content-Type", "text/plain; charset=utf-8")]
            if fault.retry_after is not None:
                headers.append(("Retry-After", fault.retry_after))
            answer = PortalAnswer(fault.status, b"injected failure", tuple(headers))
            code: str | None = None
        else:
            answer, code = self._dispatch(service, payload, data, updating)
        dropped = fault is not None and fault.status is None
        call = PortalCall(
            service=service,
            agency=str(payload.get("madonvi", "")),
            dossiers=named,
            is_updating=updating if isinstance(updating, str) else None,
            status=answer.status,
            error_code=code,
            dropped=dropped,
        )
        self._calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        if dropped:
            return PortalAnswer(answer.status, b"", disconnect=True)
        return answer

    def _dispatch(
        self, service: str, payload: dict[str, Any], data: Any, updating: Any
    ) -> tuple[PortalAnswer, str]:
        if payload.get("session") not in self._sessions:
            return _error("401", "Phiên làm việc không hợp lệ hoặc đã hết hạn"), "401"
        if service == "TraCuuHoSo":
            # Public implementers' code sends the number as lowercase "mahoso".
            return self._look_up(str(payload.get("mahoso", payload.get("MaHoSo", ""))))
        if service == "DongBoDanhGia" and isinstance(data, list) and data:
            # Monthly summaries replace what the portal held for the same month and procedure.
            for row in data:
                if not isinstance(row, dict):
                    return _error("2", "Dữ liệu không hợp lệ"), "2"
                key = (
                    str(row.get("Madonvi")),
                    str(row.get("NgayTongHop")),
                    str(row.get("MaThuTuc")),
                )
                self._ratings[key] = copy.deepcopy(row)
            return _json({"error_code": "0", "message": _OK, "result": []}), "0"
        if service not in ("DongBoHoSoMC", "CapNhatTienDoHoSoMC"):
            return _error("404", f"Dịch vụ {service} không được hỗ trợ"), "404"
        records = data if isinstance(data, list) else None
        if not records or not all(
            isinstance(r, dict) and isinstance(r.get("MaHoSo"), str) and r["MaHoSo"]
            for r in records
        ):
            return _error("2", "Dữ liệu không hợp lệ: data phải là danh sách có MaHoSo"), "2"
        for record in records:
            if record["MaHoSo"] in self._rejections:
                code, message = self._rejections[record["MaHoSo"]]
                return _error(code, message), code
        if service == "CapNhatTienDoHoSoMC":
            return self._append_steps(records)
        return self._store(records, updating)

    def _store(self, records: list[dict[str, Any]], updating: Any) -> tuple[PortalAnswer, str]:
        if updating not in ("True", "False"):
            return _error("2", 'isUpdating phải là "True" hoặc "False"'), "2"
        if updating == "False" and any(r["MaHoSo"] in self._dossiers for r in records):
            return _error("1", "Hồ sơ đã tồn tại"), "1"
        for record in records:
            self._dossiers[record["MaHoSo"]] = record
        result = [{"MaHoSo": r["MaHoSo"]} for r in records]
        return _json({"error_code": "0", "message": _OK, "result": result}), "0"

    def _append_steps(self, records: list[dict[str, Any]]) -> tuple[PortalAnswer, str]:
        if self.strict_steps:
            for record in records:
                if record["MaHoSo"] not in self._dossiers:
                    return _error("3", f"Không tìm thấy hồ sơ {record['MaHoSo']}"), "3"
        for record in records:
            self._steps.setdefault(record["MaHoSo"], []).append(record)
        result = [{"MaHoSo": r["MaHoSo"]} for r in records]
        return _json({"error_code": "00", "message": _OK, "result": result}), "00"

    def _look_up(self, ma_ho_so: str) -> tuple[PortalAnswer, str]:
        held = self._dossiers.get(ma_ho_so)
        if held is None:
            return _error("3", "Không tìm thấy hồ sơ"), "3"
        found = {**held, "QuaTrinhXuLy": self._steps.get(ma_ho_so, [])}
        return _json({"error_code": "0", "message": _OK, "result": [found]}), "0"
