"""The shapes real senders use (issue 7): accepted with their flags, or refused by policy.

The records are written from the descriptions of OpenCPS, TD.DichVuCongApi and a Hà Giang
admissions sync in national-formats.md §2.2 and §2.4, not copied from their code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from gateway.api import create_app
from gateway.config import BareRoute, ClientConfig, IntakeSettings, Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.schemas.policy import Policy, Quirk
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from tests.api.conftest import OTHER_AGENCY, ApiClient

AGENCY = "000.00.01.H22"
NO = f"{AGENCY}-250310-0101"
ACCOUNT = "OPENCPS-ACCOUNT-01"
PROV = {"Authorization": "Bearer prov-key"}


def record(no: str = NO, status: str = "2", **fields: Any) -> dict[str, Any]:
    """A plain dossier as a province's system would sync it; ``fields`` override (None drops)."""
    data: dict[str, Any] = {
        "MaHoSo": no,
        "MaTTHC": "1.001612",
        "TenTTHC": "Cấp giấy phép xây dựng",
        "MaLinhVuc": "HDXD",
        "TenLinhVuc": "Hoạt động xây dựng",
        "KenhThucHien": "1",
        "SoGiayToChuHoSo": "001186012345",
        "LoaiDoiTuong": "1",
        "TrichYeuHoSo": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "NgayTiepNhan": "20250310091500",
        "NgayHenTra": "20250331170000",
        "TrangThaiHoSo": status,
        "HinhThuc": "0",
        "DonViXuLy": "Sở Xây dựng",
    }
    for key, value in fields.items():
        if value is _DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return data


_DROP = object()


def step(at: str, status: str = "4", content: str = "Xử lý hồ sơ") -> dict[str, Any]:
    """One progress step of dossier ``NO``."""
    return {
        "MaHoSo": NO,
        "NguoiXuLy": "Lê Thị Hoa",
        "ThoiDiemXuLy": at,
        "NoiDungXuLy": content,
        "TrangThai": status,
    }


def make_gateway(
    redis_client: redis.Redis, portal: FakePortal, **intake: Any
) -> tuple[GatewayService, ApiClient]:
    """A gateway whose [intake] section is ``intake`` (plus the API tests' clients)."""
    settings = Settings(
        clients=(
            ClientConfig(
                id="prov",
                api_key="prov-key",
                username="prov-user",
                password="prov-pass",
                agencies=frozenset({AGENCY}),
            ),
            ClientConfig(
                id="other",
                username="other-user",
                password="other-pass",
                agencies=frozenset({OTHER_AGENCY}),
            ),
        ),
        intake=IntakeSettings(**intake),
    )
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    gateway = GatewayService(settings, redis_client, connector)
    return gateway, ApiClient(create_app(gateway))


class Intake:
    """A gateway under one [intake] configuration, with a logged-in session."""

    def __init__(self, redis_client: redis.Redis, portal: FakePortal, **intake: Any) -> None:
        self.gateway, self.api = make_gateway(redis_client, portal, **intake)
        self.portal = portal
        answer = self.api.post(
            "/dvcqg/auth", json={"username": "prov-user", "password": "prov-pass"}
        )
        self.session = str(answer.json()["session"])

    def push(
        self, data: Any, service: str = "DongBoHoSoMC", **envelope: Any
    ) -> list[dict[str, Any]]:
        """Push one call; the per-record results (asserting a 200)."""
        body = {
            "session": self.session,
            "madonvi": AGENCY,
            "service": service,
            "isUpdating": "False",
            "data": data,
            **envelope,
        }
        answer = self.api.post("/dvcqg/integration", json=body)
        assert answer.status_code == 200, answer.text
        assert isinstance(answer.json()["error_code"], str)
        results: list[dict[str, Any]] = answer.json()["result"]
        return results

    def one(self, rec: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Push one record; its result."""
        [result] = self.push([rec], **kw)
        return result

    def status(self, delivery_id: str) -> dict[str, Any]:
        """``GET /v1/deliveries/{id}`` as the pushing client."""
        answer = self.api.get(f"/v1/deliveries/{delivery_id}", headers=PROV)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def deliver(self, service: Service = Service.DOSSIER, agency: str = AGENCY) -> None:
        """Drive the queue to completion (no workers run in these tests)."""
        while self.gateway.flush(service, agency):
            pass

    def metric(self, rule: str) -> float:
        """``gateway_intake_flags{rule=…}`` from ``/metrics``."""
        text = self.api.get("/metrics").text
        for line in text.splitlines():
            if line.startswith("gateway_intake_flags_total") and f'rule="{rule}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@pytest.fixture
def intake(redis_client: redis.Redis, portal: FakePortal) -> Iterator[Intake]:
    """The default policy: every quirk accepted and flagged."""
    it = Intake(redis_client, portal)
    yield it
    it.gateway.close()


@pytest.fixture
def configured(redis_client: redis.Redis, portal: FakePortal) -> Iterator[Callable[..., Intake]]:
    """``configured(**intake)``: a gateway under that [intake] configuration."""
    made: list[Intake] = []

    def make(**kw: Any) -> Intake:
        made.append(Intake(redis_client, portal, **kw))
        return made[-1]

    yield make
    for it in made:
        it.gateway.close()


# --- missing or empty fields --------------------------------------------------------------------


@pytest.mark.parametrize("value", [_DROP, None, ""], ids=["absent", "null", "empty"])
def test_owner_paper_missing_is_accepted_and_flagged(intake: Intake, value: Any) -> None:
    """SoGiayToChuHoSo absent (OpenCPS), null (TD) or "" is accepted, flagged, and shown."""
    result = intake.one(record(SoGiayToChuHoSo=value))
    assert result["accepted"], result
    assert result["flags"] == ["owner_paper_missing"]
    assert intake.status(result["delivery_id"])["flags"] == ["owner_paper_missing"]
    assert intake.metric("owner_paper_missing") == 1


def test_empty_due_date_is_forwarded_as_sent(intake: Intake, portal: FakePortal) -> None:
    """NgayHenTra "" (TD, Hà Giang) is accepted, flagged and reaches the portal as ""."""
    result = intake.one(record(NgayHenTra=""))
    assert result["flags"] == ["due_date_missing"]
    intake.deliver()
    held = portal.dossier(NO)
    assert held is not None
    assert held["NgayHenTra"] == ""


def test_empty_step_content_is_flagged(intake: Intake) -> None:
    """NoiDungXuLy "" (OpenCPS, an action without a name) is accepted and flagged."""
    intake.one(record())
    [result] = intake.push([step("20250311080000", content="")], service="CapNhatTienDoHoSoMC")
    assert result["accepted"], result
    assert result["flags"] == ["step_content_empty"]
    assert intake.status(result["delivery_id"])["flags"] == ["step_content_empty"]


def test_null_return_and_rejection_dates_are_accepted_without_flag(intake: Intake) -> None:
    """NgayTra and NgayTuChoi null mean none: accepted, nothing to flag."""
    result = intake.one(record(NgayTra=None, NgayTuChoi=None))
    assert result["accepted"], result
    assert result["flags"] == []


# --- values outside today's tables and types ------------------------------------------------------


def test_codes_outside_table_are_forwarded_and_flagged(intake: Intake, portal: FakePortal) -> None:
    """DuocTaiSuDung "2" and DuocThanhToanTrucTuyen "3" are kept as sent, flagged once."""
    doc = {"TenTepDinhKem": "Đơn đề nghị", "IsDeleted": "False", "DuocTaiSuDung": "2"}
    result = intake.one(record(DuocThanhToanTrucTuyen="3", TaiLieuNop=[doc]))
    assert result["flags"] == ["code_outside_table"]
    intake.deliver()
    held = portal.dossier(NO)
    assert held is not None
    assert held["DuocThanhToanTrucTuyen"] == "3"
    assert held["TaiLieuNop"][0]["DuocTaiSuDung"] == "2"


def test_numbers_for_text_are_sent_as_strings_and_flagged(
    intake: Intake, portal: FakePortal
) -> None:
    """SoLuong and LoaiGiayTo as JSON numbers (TD types them int) go out as digit strings."""
    paper = {"TenGiayTo": "Bản vẽ", "SoLuong": 3, "LoaiGiayTo": 1}
    result = intake.one(record(DanhSachTepDinhKemKhac=[paper]))
    assert result["flags"] == ["number_for_text"]
    intake.deliver()
    held = portal.dossier(NO)
    assert held is not None
    assert held["DanhSachTepDinhKemKhac"][0] == {
        "TenGiayTo": "Bản vẽ",
        "SoLuong": "3",
        "LoaiGiayTo": "1",
    }


def test_boolean_quantity_is_still_refused(intake: Intake) -> None:
    """true is not a number of papers: refused, naming the field."""
    paper = {"TenGiayTo": "Bản vẽ", "SoLuong": True}
    result = intake.one(record(DanhSachTepDinhKemKhac=[paper]))
    assert not result["accepted"]
    assert result["errors"][0]["path"] == "data.0.DanhSachTepDinhKemKhac.0.SoLuong"


# --- identifiers -------------------------------------------------------------------------------


def test_five_digit_sequence_is_flagged_and_scoped_by_its_agency(intake: Intake) -> None:
    """A MaHoSo with a 5-digit random suffix (TD's fallback) is accepted and flagged."""
    result = intake.one(record(no=f"{AGENCY}-250310-48213"))
    assert result["accepted"], result
    assert result["flags"] == ["dossier_number_nonstandard"]


def test_local_number_is_queued_under_madonvi(intake: Intake, portal: FakePortal) -> None:
    """A local dossier number is accepted for the call's agency, flagged, and delivered."""
    result = intake.one(record(no="HS2025/000123"))
    assert result["accepted"], result
    assert result["flags"] == ["dossier_number_nonstandard"]
    assert intake.status(result["delivery_id"])["partition"] == AGENCY
    intake.deliver()
    assert portal.dossier("HS2025/000123") is not None


def test_local_number_with_unsafe_characters_is_refused(intake: Intake) -> None:
    """A number with spaces or ':' could corrupt the outbox's keys: refused by shape."""
    result = intake.one(record(no="HS 2025:1"))
    assert not result["accepted"]
    assert result["errors"][0]["rule"] == "dossier_number_shape"


def test_account_code_as_madonvi(configured: Callable[..., Intake], portal: FakePortal) -> None:
    """OpenCPS's one account code as madonvi: each record goes by its own MaHoSo agency."""
    it = configured(account_codes=[ACCOUNT])
    mine, foreign = it.push([record(), record(no="000.00.02.H22-250310-0001")], madonvi=ACCOUNT)
    assert mine["accepted"], mine
    assert mine["flags"] == ["madonvi_account_code"]
    assert it.status(mine["delivery_id"])["partition"] == AGENCY
    # The account code opens no agency's scope: a foreign record stays refused.
    assert foreign["errors"][0]["rule"] == "agency_not_allowed"
    it.deliver()
    assert portal.dossier(NO) is not None


def test_account_code_with_local_number_has_no_agency(configured: Callable[..., Intake]) -> None:
    """Under an account code, a local number names no agency: refused agency_unknown."""
    it = configured(account_codes=[ACCOUNT])
    result = it.one(record(no="HS2025/000124"), madonvi=ACCOUNT)
    assert result["errors"][0]["rule"] == "agency_unknown"


def test_unconfigured_account_code_is_403(intake: Intake) -> None:
    """A madonvi that is neither the client's agency nor a configured account code is 403."""
    body = {"session": intake.session, "madonvi": ACCOUNT, "service": "DongBoHoSoMC", "data": []}
    answer = intake.api.post("/dvcqg/integration", json=body)
    assert answer.status_code == 403
    assert answer.json()["error_code"] == "403"


# --- other request shapes ------------------------------------------------------------------------


def test_is_updating_as_json_boolean(intake: Intake) -> None:
    """isUpdating true (a JSON boolean) is accepted and flagged on every record."""
    [result] = intake.push([record()], isUpdating=True)
    assert result["accepted"], result
    assert result["flags"] == ["is_updating_boolean"]


def test_ha_giang_bare_array_with_query(intake: Intake, portal: FakePortal) -> None:
    """Hà Giang: a bare array to …/DongBoHoSoMC?MaDinhDanhDV=…&isUpdating=True."""
    answer = intake.api.post(
        f"/dvcqg/DongBoHoSoMC?MaDinhDanhDV={AGENCY}&isUpdating=True",
        json=[record(NgayHenTra="")],
        headers={"Authorization": f"Bearer {intake.session}"},
    )
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["result"]
    assert result["accepted"], result
    assert result["flags"] == ["bare_array", "due_date_missing"]
    intake.deliver()
    assert portal.dossier(NO) is not None


def test_bare_array_without_session_is_401(intake: Intake) -> None:
    """A bare array carries its session outside the body; without one it is 401."""
    answer = intake.api.post(f"/dvcqg/DongBoHoSoMC?MaDinhDanhDV={AGENCY}", json=[record()])
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "401"


def test_bare_route_takes_only_arrays(intake: Intake) -> None:
    """An object posted to a bare-array URL is a 400 naming the rule."""
    answer = intake.api.post(
        "/dvcqg/DongBoHoSoMC", json=record(), headers={"session": intake.session}
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["rule"] == "bare_array_expected"


def test_configured_bare_urls_for_create_and_progress(
    configured: Callable[..., Intake],
) -> None:
    """TD.DichVuCongApi: bare arrays to configured create and progress URLs."""
    it = configured(
        bare_routes={
            "/td/hoso/create": BareRoute(service="DongBoHoSoMC", madonvi=AGENCY),
            "/td/hoso/progress": BareRoute(service="CapNhatTienDoHoSoMC", madonvi=AGENCY),
        }
    )
    auth = {"session": it.session}
    created = it.api.post("/td/hoso/create", json=[record()], headers=auth)
    assert created.status_code == 200, created.text
    assert created.json()["result"][0]["flags"] == ["bare_array"]
    stepped = it.api.post("/td/hoso/progress", json=[step("20250311080000")], headers=auth)
    assert stepped.json()["result"][0]["accepted"], stepped.text


# --- policy: refuse -----------------------------------------------------------------------------


def test_refuse_policy_names_field_and_rule(configured: Callable[..., Intake]) -> None:
    """Under policy refuse, the quirk refuses the record, naming the field and the rule."""
    it = configured(policies={Quirk.OWNER_PAPER_MISSING: Policy.REFUSE})
    result = it.one(record(SoGiayToChuHoSo=_DROP))
    assert not result["accepted"]
    assert result["errors"] == [
        {
            "path": "data.0.SoGiayToChuHoSo",
            "rule": "owner_paper_missing",
            "message": "SoGiayToChuHoSo is absent, null or empty",
        }
    ]


def test_refuse_policy_on_request_shape_is_400(configured: Callable[..., Intake]) -> None:
    """A refused request-level quirk (isUpdating boolean) answers 400 naming the field."""
    it = configured(policies={"is_updating_boolean": "refuse"})
    body = {
        "session": it.session,
        "madonvi": AGENCY,
        "service": "DongBoHoSoMC",
        "isUpdating": True,
        "data": [record()],
    }
    answer = it.api.post("/dvcqg/integration", json=body)
    assert answer.status_code == 400
    assert answer.json()["errors"][0] == {
        "path": "isUpdating",
        "rule": "is_updating_boolean",
        "message": 'isUpdating is a JSON boolean; the portal\'s form is "True"/"False"',
    }


def test_refused_nonstandard_number_is_refused(configured: Callable[..., Intake]) -> None:
    """dossier_number_nonstandard refused: the 5-digit form is refused with the rule."""
    it = configured(policies={"dossier_number_nonstandard": "refuse"})
    result = it.one(record(no=f"{AGENCY}-250310-48213"))
    assert "dossier_number_nonstandard" in {e["rule"] for e in result["errors"]}


# --- life cycle --------------------------------------------------------------------------------


def test_snapshot_skip_is_accepted_and_flagged(intake: Intake) -> None:
    """TD's batch re-sync 2 → 10 is accepted, flagged status_skip, and counted."""
    intake.one(record(status="2"))
    result = intake.one(record(status="10", NgayTra="20250320100000"))
    assert result["accepted"], result
    assert result["flags"] == ["status_skip"]
    assert intake.metric("status_skip") == 1


def test_reopening_with_newer_times_is_accepted_and_flagged(intake: Intake) -> None:
    """TD's 9 → 4 after a finish, carrying a newer supplement, is flagged status_reopened."""
    intake.one(record(status="9", NgayKetThucXuLy="20250320100000"))
    supplement = {
        "HoSoBoSungId": "BS-1",
        "NoiDungBoSung": "Bổ sung bản vẽ",
        "NgayBoSung": "20250321090000",
    }
    result = intake.one(record(status="4", DanhSachHoSoBoSung=[supplement]))
    assert result["accepted"], result
    assert result["flags"] == ["status_reopened"]


@pytest.mark.parametrize(("old", "new"), [("10", "2"), ("10", "1"), ("2", "1")])
def test_ha_giang_reopenings_keeping_their_times(intake: Intake, old: str, new: str) -> None:
    """Hà Giang's 10 → 2, 10 → 1 (result cancelled) and 2 → 1 (supplement) are flagged."""
    times = {"NgayTra": "20250320100000"} if old == "10" else {}
    intake.one(record(status=old, **times))
    result = intake.one(record(status=new, GhiChu="hủy kết quả", **times))
    assert result["accepted"], result
    assert result["flags"] == ["status_reopened"]


def test_older_state_after_newer_is_refused(intake: Intake) -> None:
    """A state whose newest time is older than the stored one is refused as out of order."""
    intake.one(record(status="9", NgayKetThucXuLy="20250320100000"))
    result = intake.one(record(status="4"))
    assert result["errors"][0]["rule"] == "state_out_of_order"
    assert result["errors"][0]["path"] == "data.0.TrangThaiHoSo"


def test_strict_table_is_a_policy(configured: Callable[..., Intake]) -> None:
    """With status_skip and status_reopened refused, the strict table applies."""
    it = configured(policies={"status_skip": "refuse", "status_reopened": "refuse"})
    it.one(record(status="2"))
    result = it.one(record(status="10", NgayTra="20250320100000"))
    assert result["errors"][0]["rule"] == "status_transition"


def test_steps_out_of_order_still_refused(intake: Intake) -> None:
    """A step older than one accepted for its dossier is still refused."""
    intake.one(record())
    service = "CapNhatTienDoHoSoMC"
    assert intake.push([step("20250312080000")], service=service)[0]["accepted"]
    [late] = intake.push([step("20250311080000", content="Cũ hơn")], service=service)
    assert late["errors"][0]["rule"] == "step_out_of_order"
