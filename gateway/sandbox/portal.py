"""The sandbox DVCQG adapter portal: the behaviours public implementers' code shows, and faults.

The ``strict`` profile (issue 6, "Portal behaviours to handle"):

- ``TraCuuHoSo`` reads the dossier number only from lowercase ``mahoso``;
- a create (``isUpdating: "False"``) naming a dossier it already holds applies nothing and answers
  ``error_code`` "0", "3" or "-3" (seeded choice) with "đã tồn tại" in the message;
- ``error_code`` "-1" is its generic failure (a refused record, a missing parameter, a dossier
  it does not hold; with HTTP 500, the injected ``error`` fault); an expired session is HTTP 401
  (after ``session_calls`` calls or ``session_seconds`` seconds);
- an update of a dossier it does not hold is refused, and so are steps for such a dossier;
- the ``TraCuuHoSo`` reply echoes per step only ``step_echo_fields``, under ``step_list_name``.

The ``lenient`` profile is what the gateway's own fake portal does: look-ups by ``MaHoSo`` too,
"already exists" answered as error "1", updates store unknown dossiers, steps echoed in full.
A call to a batch is all-or-nothing: one refused record refuses the batch, nothing applied.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.connectors.dvcqg import DvcqgConfig
from gateway.sandbox.base import Answer, SimulatorTransport, json_answer
from gateway.sandbox.faults import FaultDice, Faults

__all__ = ["LENIENT", "PROFILES", "STRICT", "PortalProfile", "SandboxPortal"]

_OK = "Thành công"
_ECHOED = ("MaHoSo", "ThoiDiemXuLy", "TrangThai", "NoiDungXuLy")


@dataclass(frozen=True, slots=True)
class PortalProfile:
    """How the portal behaves where the real one is not public."""

    name: str
    lookup_keys: tuple[str, ...] = ("mahoso",)
    exists_codes: tuple[str, ...] = ("0", "3", "-3")
    generic_code: str = "-1"
    step_list_name: str = "QuaTrinhXuLy"
    step_echo_fields: tuple[str, ...] | None = (
        "MaHoSo",
        "ThoiDiemXuLy",
        "TrangThai",
        "NoiDungXuLy",
    )
    """Fields of each step the look-up echoes; ``None`` echoes steps in full."""
    update_requires_dossier: bool = True
    steps_require_dossier: bool = True
    session_calls: int | None = 100
    """Service calls one session token answers before it expires (``None``: no limit)."""
    session_seconds: float | None = None


STRICT = PortalProfile("strict")
LENIENT = PortalProfile(
    "lenient",
    lookup_keys=("mahoso", "MaHoSo"),
    exists_codes=("1",),
    generic_code="2",
    step_echo_fields=None,
    update_requires_dossier=False,
    session_calls=None,
)
PROFILES: dict[str, PortalProfile] = {p.name: p for p in (STRICT, LENIENT)}


@dataclass
class _Session:
    born: float
    calls: int = 0


class SandboxPortal:
    """An in-memory DVCQG adapter portal with a ledger; thread-safe.

    Serve it in-process with :meth:`transport` or on loopback with
    :class:`~gateway.sandbox.server.SimulatorServer`. ``profile`` may be a name or a profile;
    ``overrides`` replace profile fields (``session_calls=5``).
    """

    name = "portal"

    def __init__(
        self,
        profile: str | PortalProfile = "strict",
        *,
        faults: Faults | None = None,
        username: str = "gateway",
        password: str = "sandbox-portal-password",  # noqa: S107 - a simulator's own credential
        dstcode: str = "000.00.00.H22",
        auth_path: str = "/api/auth",
        integration_path: str = "/api/integration",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        **overrides: Any,
    ) -> None:
        base = PROFILES[profile] if isinstance(profile, str) else profile
        self.profile = dataclasses.replace(base, **overrides) if overrides else base
        self.faults = faults if faults is not None else Faults()
        self._dice = FaultDice(self.faults, sleep=sleep)
        self.username = username
        self.password = password
        self.dstcode = dstcode
        self.auth_path = auth_path
        self.integration_path = integration_path
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._states: dict[str, dict[str, Any]] = {}
        self._steps: dict[str, list[dict[str, Any]]] = {}
        self._ratings: dict[str, dict[str, Any]] = {}
        self._outcomes: Counter[str] = Counter()
        self._services: Counter[str] = Counter()
        self._logins = 0

    # -- inspection ----------------------------------------------------------------------------

    def state(self, ma_ho_so: str) -> dict[str, Any] | None:
        """A copy of the dossier record held under ``ma_ho_so``, or ``None``."""
        with self._lock:
            return copy.deepcopy(self._states.get(ma_ho_so))

    def steps(self, ma_ho_so: str) -> list[dict[str, Any]]:
        """Every step appended for ``ma_ho_so``, in arrival order, duplicates kept."""
        with self._lock:
            return copy.deepcopy(self._steps.get(ma_ho_so, []))

    @property
    def outcomes(self) -> Counter[str]:
        """Service calls by outcome: ``ok``, ``exists``, ``unknown_dossier``, ``not_found``,
        ``bad_request``, ``session_expired``, the faults, and ``delayed`` (latency, on top)."""
        with self._lock:
            return Counter(self._outcomes)

    @property
    def logins(self) -> int:
        """Successful logins answered."""
        with self._lock:
            return self._logins

    def ledger(self) -> dict[str, Any]:
        """Per dossier the final state and every step appended; counts of calls and logins."""
        with self._lock:
            numbers = sorted(set(self._states) | set(self._steps))
            return {
                "simulator": self.name,
                "profile": self.profile.name,
                "dossiers": {
                    n: {
                        "state": copy.deepcopy(self._states.get(n)),
                        "steps": copy.deepcopy(self._steps.get(n, [])),
                    }
                    for n in numbers
                },
                "ratings": copy.deepcopy(self._ratings),
                "outcomes": dict(self._outcomes),
                "services": dict(self._services),
                "logins": self._logins,
            }

    def reset(self) -> None:
        """Forget dossiers, steps, sessions and counts."""
        with self._lock:
            self._sessions.clear()
            self._states.clear()
            self._steps.clear()
            self._ratings.clear()
            self._outcomes.clear()
            self._services.clear()
            self._logins = 0

    def seed(self, records: list[Mapping[str, Any]]) -> None:
        """Hold dossiers as if created earlier (not counted as calls)."""
        with self._lock:
            for record in records:
                self._states[str(record["MaHoSo"])] = copy.deepcopy(dict(record))

    def expire_sessions(self) -> None:
        """End every session now."""
        with self._lock:
            self._sessions.clear()

    def transport(self) -> SimulatorTransport:
        """An in-process transport for ``DvcqgConnector(config, transport=...)``."""
        return SimulatorTransport(self)

    def connector_config(self, base_url: str, **overrides: Any) -> DvcqgConfig:
        """A connector config for this portal at ``base_url``."""
        fields: dict[str, Any] = {
            "base_url": base_url,
            "auth_path": self.auth_path,
            "integration_path": self.integration_path,
            "username": self.username,
            "password": self.password,
            "dstcode": self.dstcode,
            **overrides,
        }
        return DvcqgConfig.model_validate(fields)

    # -- answering -----------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one raw request."""
        if method != "POST":
            return json_answer({"error_code": "405", "message": "Method not allowed"}, 405)
        if path not in (self.auth_path, self.integration_path):
            return json_answer({"error_code": "404", "message": "Not found"}, 404)
        if headers.get("dstcode") != self.dstcode:
            return json_answer({"error_code": "400", "message": "dstcode không hợp lệ"}, 400)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            return json_answer({"error_code": "400", "message": "Body is not a JSON object"}, 400)
        if path == self.auth_path:
            return self._login(payload)
        roll = self._dice.roll()
        self._dice.wait(roll)
        with self._lock:
            if roll.delay:
                self._outcomes["delayed"] += 1
            service = str(payload.get("service", ""))
            self._services[service] += 1
            if not self._session_alive(payload.get("session")):
                self._outcomes["session_expired"] += 1
                return json_answer({"error_code": "401", "message": "Unauthorized"}, 401)
            if roll.fault == "unavailable":
                self._outcomes["unavailable"] += 1
                return Answer(503, b"Service Unavailable", (("Content-Type", "text/plain"),))
            if roll.fault == "error":
                # The portal failed, not the record: HTTP 500 with its generic code.
                self._outcomes["error"] += 1
                failed = {"error_code": self.profile.generic_code, "message": "Lỗi hệ thống"}
                return json_answer(failed, 500)
            outcome, answer = self._dispatch(service, payload)
            if roll.fault in ("timeout", "drop"):
                self._outcomes[roll.fault] += 1
                return dataclasses.replace(answer, after=roll.fault)
            self._outcomes[outcome] += 1
            return answer

    # The methods below run with self._lock held, except _login.

    def _login(self, payload: dict[str, Any]) -> Answer:
        if payload.get("username") != self.username or payload.get("password") != self.password:
            return json_answer({"error_code": "1", "message": "Sai tên đăng nhập hoặc mật khẩu"})
        token = secrets.token_hex(16)
        with self._lock:
            self._sessions[token] = _Session(self._clock())
            self._logins += 1
        return json_answer({"error_code": 0, "message": _OK, "session": token})

    def _session_alive(self, token: Any) -> bool:
        session = self._sessions.get(token) if isinstance(token, str) else None
        if session is None:
            return False
        p = self.profile
        expired = (p.session_calls is not None and session.calls >= p.session_calls) or (
            p.session_seconds is not None and self._clock() - session.born >= p.session_seconds
        )
        if expired:
            del self._sessions[token]
            return False
        session.calls += 1
        return True

    def _refuse(self, message: str, code: str | None = None) -> Answer:
        code = self.profile.generic_code if code is None else code
        return json_answer({"error_code": code, "message": message, "result": []})

    def _dispatch(self, service: str, payload: dict[str, Any]) -> tuple[str, Answer]:
        if service == "TraCuuHoSo":
            return self._look_up(payload)
        data = payload.get("data")
        if service == "DongBoDanhGia" and isinstance(data, list) and data:
            # Monthly satisfaction summaries: the newest per month and procedure is kept.
            for row in data:
                if not isinstance(row, dict):
                    return "bad_request", self._refuse("Dữ liệu không hợp lệ")
                key = f"{row.get('Madonvi')}/{row.get('NgayTongHop')}/{row.get('MaThuTuc')}"
                self._ratings[key] = copy.deepcopy(row)
            return "ok", json_answer({"error_code": "0", "message": "Thành công", "result": []})
        if service not in ("DongBoHoSoMC", "CapNhatTienDoHoSoMC"):
            return "bad_request", self._refuse(f"Dịch vụ {service} không được hỗ trợ")
        if not isinstance(data, list) or not data:
            return "bad_request", self._refuse("Dữ liệu không hợp lệ: data phải là danh sách")
        records: list[dict[str, Any]] = []
        for item in data:
            if not isinstance(item, dict) or not isinstance(item.get("MaHoSo"), str):
                return "bad_request", self._refuse("Dữ liệu không hợp lệ: thiếu MaHoSo")
            records.append(item)
        if service == "CapNhatTienDoHoSoMC":
            return self._append(records)
        return self._store(records, payload.get("isUpdating"))

    def _store(self, records: list[dict[str, Any]], updating: Any) -> tuple[str, Answer]:
        if updating not in ("True", "False"):
            return "bad_request", self._refuse('isUpdating phải là "True" hoặc "False"')
        numbers = [r["MaHoSo"] for r in records]
        if updating == "False":
            held = next((n for n in numbers if n in self._states), None)
            if held is not None:
                code = self._dice.choice(self.profile.exists_codes)
                return "exists", self._refuse(f"Hồ sơ {held} đã tồn tại", code)
        elif self.profile.update_requires_dossier:
            unknown = next((n for n in numbers if n not in self._states), None)
            if unknown is not None:
                return "unknown_dossier", self._refuse(f"Hồ sơ {unknown} không tồn tại")
        for record in records:
            self._states[record["MaHoSo"]] = copy.deepcopy(record)
        result = [{"MaHoSo": n} for n in numbers]
        return "ok", json_answer({"error_code": "0", "message": _OK, "result": result})

    def _append(self, records: list[dict[str, Any]]) -> tuple[str, Answer]:
        if self.profile.steps_require_dossier:
            unknown = next((r["MaHoSo"] for r in records if r["MaHoSo"] not in self._states), None)
            if unknown is not None:
                return "unknown_dossier", self._refuse(f"Không tìm thấy hồ sơ {unknown}")
        for record in records:
            self._steps.setdefault(record["MaHoSo"], []).append(copy.deepcopy(record))
        result = [{"MaHoSo": r["MaHoSo"]} for r in records]
        return "ok", json_answer({"error_code": "0", "message": _OK, "result": result})

    def _look_up(self, payload: dict[str, Any]) -> tuple[str, Answer]:
        number = next(
            (payload[k] for k in self.profile.lookup_keys if isinstance(payload.get(k), str)), None
        )
        if number is None:
            return "bad_request", self._refuse(f"Thiếu tham số {self.profile.lookup_keys[0]}")
        held = self._states.get(number)
        if held is None:
            return "not_found", self._refuse("Không tìm thấy hồ sơ")
        fields = self.profile.step_echo_fields
        steps = [
            copy.deepcopy(s) if fields is None else {f: s[f] for f in fields if f in s}
            for s in self._steps.get(number, [])
        ]
        found = {**copy.deepcopy(held), self.profile.step_list_name: steps}
        return "ok", json_answer({"error_code": "0", "message": _OK, "result": [found]})
