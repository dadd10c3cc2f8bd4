"""The sandbox portal's strict profile: each behaviour of issue 6, and its faults."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.sandbox import Faults, SandboxPortal
from gateway.testing.records import national_dossier, national_step

NO = "000.00.01.H22-250101-0001"


class Client:
    """Raw calls to a portal through its in-process transport."""

    def __init__(self, portal: SandboxPortal) -> None:
        self.portal = portal
        self.http = httpx.Client(
            base_url="http://portal.test",
            transport=portal.transport(),
            headers={"dstcode": portal.dstcode},
        )
        self.session = ""

    def login(self) -> None:
        r = self.http.post(
            "/api/auth", json={"username": "gateway", "password": self.portal.password}
        )
        self.session = r.json()["session"]

    def call(self, service: str, **params: Any) -> httpx.Response:
        body = {"session": self.session, "madonvi": "000.00.01.H22", "service": service, **params}
        return self.http.post("/api/integration", json=body)


def dossier(status: str = "2", **extra: Any) -> dict[str, Any]:
    return national_dossier(NO, status, **extra).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )


def step(at: str, who: str = "Nguyễn Văn A") -> dict[str, Any]:
    rec = national_step(at, no=NO).model_dump(mode="json", by_alias=True, exclude_none=True)
    rec["NguoiXuLy"] = who
    return rec


@pytest.fixture
def client() -> Client:
    c = Client(SandboxPortal("strict", faults=Faults(seed=1)))
    c.login()
    return c


def test_create_of_a_held_dossier_answers_a_success_like_code_and_applies_nothing(
    client: Client,
) -> None:
    """A second create answers "0", "3" or "-3" with "đã tồn tại"; the first state stays."""
    assert (
        client.call("DongBoHoSoMC", isUpdating="False", data=[dossier("2")]).json()["error_code"]
        == "0"
    )
    codes = set()
    for _ in range(30):
        reply = client.call("DongBoHoSoMC", isUpdating="False", data=[dossier("4")]).json()
        assert "đã tồn tại" in reply["message"]
        codes.add(reply["error_code"])
    assert codes == {"0", "3", "-3"}
    held = client.portal.state(NO)
    assert held is not None
    assert held["TrangThaiHoSo"] == "2"
    assert client.portal.outcomes["exists"] == 30


def test_update_of_an_unknown_dossier_and_its_steps_are_refused_with_minus_one(
    client: Client,
) -> None:
    """-1 is the generic failure; nothing is stored for a dossier the portal lacks."""
    reply = client.call("DongBoHoSoMC", isUpdating="True", data=[dossier()]).json()
    assert reply["error_code"] == "-1"
    reply = client.call("CapNhatTienDoHoSoMC", data=[step("20250102080000")]).json()
    assert reply["error_code"] == "-1"
    assert client.portal.state(NO) is None
    assert client.portal.steps(NO) == []
    assert client.portal.outcomes["unknown_dossier"] == 2


def test_look_up_takes_lowercase_mahoso_and_echoes_four_step_fields(client: Client) -> None:
    """``MaHoSo`` is not understood; the echo has no ``NguoiXuLy``; duplicates are kept."""
    client.call("DongBoHoSoMC", isUpdating="False", data=[dossier()])
    client.call("CapNhatTienDoHoSoMC", data=[step("20250102080000")])
    client.call("CapNhatTienDoHoSoMC", data=[step("20250102080000")])
    assert client.call("TraCuuHoSo", MaHoSo=NO).json()["error_code"] == "-1"
    found = client.call("TraCuuHoSo", mahoso=NO).json()["result"][0]
    assert found["MaHoSo"] == NO
    assert [set(s) for s in found["QuaTrinhXuLy"]] == [
        {"MaHoSo", "ThoiDiemXuLy", "TrangThai", "NoiDungXuLy"}
    ] * 2
    assert len(client.portal.steps(NO)) == 2
    assert client.portal.steps(NO)[0]["NguoiXuLy"] == "Nguyễn Văn A"


def test_sessions_expire_after_the_configured_calls_with_http_401() -> None:
    """The third call on a two-call session is 401; a fresh login serves again."""
    c = Client(SandboxPortal("strict", session_calls=2))
    c.login()
    assert c.call("TraCuuHoSo", mahoso=NO).status_code == 200
    assert c.call("TraCuuHoSo", mahoso=NO).status_code == 200
    assert c.call("TraCuuHoSo", mahoso=NO).status_code == 401
    c.login()
    assert c.call("TraCuuHoSo", mahoso=NO).status_code == 200
    assert c.portal.logins == 2
    assert c.portal.outcomes["session_expired"] == 1


def test_sessions_expire_after_the_configured_seconds() -> None:
    """Age counts on the portal's clock."""
    now = [0.0]
    c = Client(SandboxPortal("strict", session_seconds=10, clock=lambda: now[0]))
    c.login()
    assert c.call("TraCuuHoSo", mahoso=NO).status_code == 200
    now[0] = 10.0
    assert c.call("TraCuuHoSo", mahoso=NO).status_code == 401


def test_applied_then_timeout_and_applied_then_drop_raise_after_storing() -> None:
    """The ambiguous faults apply the call, then the client sees no answer."""
    for rate, error in (
        ("timeout_rate", httpx.ReadTimeout),
        ("drop_rate", httpx.RemoteProtocolError),
    ):
        c = Client(SandboxPortal("strict", faults=Faults(**{rate: 1.0})))
        c.login()
        with pytest.raises(error):
            c.call("DongBoHoSoMC", isUpdating="False", data=[dossier()])
        assert c.portal.state(NO) is not None


def test_unavailable_and_generic_errors_apply_nothing() -> None:
    """503 and 500 (generic -1) faults leave the portal as it was."""
    c = Client(SandboxPortal("strict", faults=Faults(unavailable_rate=0.5, error_rate=0.5)))
    c.login()
    answers = [c.call("DongBoHoSoMC", isUpdating="False", data=[dossier()]) for _ in range(20)]
    assert {a.status_code for a in answers} == {503, 500}
    assert {a.json()["error_code"] for a in answers if a.status_code == 500} == {"-1"}
    assert c.portal.state(NO) is None
    assert c.portal.outcomes["unavailable"] + c.portal.outcomes["error"] == 20


def test_faults_follow_the_seed_and_latency_is_counted() -> None:
    """One seed, one sequence of outcomes; delays go through the injected sleep."""

    def run() -> tuple[list[int], list[float]]:
        slept: list[float] = []
        faults = Faults(unavailable_rate=0.5, latency=0.25, latency_rate=0.5, seed=7)
        c = Client(SandboxPortal("strict", faults=faults, sleep=slept.append))
        c.login()
        return [c.call("TraCuuHoSo", mahoso=NO).status_code for _ in range(20)], slept

    first, second = run(), run()
    assert first == second
    assert set(first[1]) == {0.25}
    assert 0 < len(first[1]) < 20


def test_lenient_profile_is_what_the_connector_of_today_expects(client: Client) -> None:
    """Look-up by ``MaHoSo`` and full step echoes; "already exists" is error 1."""
    c = Client(SandboxPortal("lenient"))
    c.login()
    c.call("DongBoHoSoMC", isUpdating="False", data=[dossier()])
    c.call("CapNhatTienDoHoSoMC", data=[step("20250102080000")])
    again = c.call("DongBoHoSoMC", isUpdating="False", data=[dossier()]).json()
    assert again["error_code"] == "1"
    found = c.call("TraCuuHoSo", MaHoSo=NO).json()["result"][0]
    assert found["QuaTrinhXuLy"][0]["NguoiXuLy"] == "Nguyễn Văn A"


def test_faults_refuse_rates_adding_up_past_one() -> None:
    """A configuration that cannot be drawn is an error naming the rates."""
    with pytest.raises(ValueError, match="add up"):
        Faults(error_rate=0.6, drop_rate=0.6)


def test_ledger_lists_state_steps_outcomes_and_logins(client: Client) -> None:
    """The ledger is plain JSON-ready data."""
    client.call("DongBoHoSoMC", isUpdating="False", data=[dossier()])
    client.call("CapNhatTienDoHoSoMC", data=[step("20250102080000")])
    ledger = client.portal.ledger()
    assert ledger["profile"] == "strict"
    assert ledger["dossiers"][NO]["state"]["MaHoSo"] == NO
    assert len(ledger["dossiers"][NO]["steps"]) == 1
    assert ledger["outcomes"] == {"ok": 2}
    assert ledger["logins"] == 1
    client.portal.reset()
    assert client.portal.ledger()["dossiers"] == {}
