"""The hộ tịch profile (gateway/connectors/ministry/hotich): codes, calls, the sandbox ministry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import respx

from gateway.connectors.ministry import CaseRef, CaseState, MinistryProfile, SystemConfig
from gateway.connectors.ministry.hotich import (
    HoTichClient,
    HoTichProfile,
    HoTichRouteOptions,
    HoTichSettings,
    build,
    classify,
)
from gateway.connectors.ministry.profile import profile_type
from gateway.errors import (
    ConfigurationError,
    ContractError,
    PeerAuthError,
    PeerReplyError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.mappers.hotich_xml import read_registration_xml
from gateway.sandbox import SimulatorTransport
from gateway.sandbox.hotich import HoTichSimulator
from gateway.schemas.hotich import (
    HoTichCatalogue,
    HoTichErrorCode,
    HoTichModule,
    HoTichRegistration,
)

from ._helpers import context, handover

NOW = 1_741_600_000.0  # 2025-03-10 16:46:40 in Vietnam
BASE = "http://hotich.test/apiHoTichTuPhap/"
AGENCY = "000.00.01.H22"
KS = HoTichRouteOptions(module=HoTichModule.BIRTH)


@pytest.mark.parametrize("code", ["100", "101", "106", "108", "302", "500", "201", "999", None])
def test_permanent_codes(code: str | None) -> None:
    """100/101/106/108/302/500 (and 201, an unknown code, none) refuse the request for good."""
    error = classify(code, operation="dangKyHoTich", message="lỗi")
    assert type(error) is PermanentPeerError
    assert error.peer_code == code
    assert error.system == "hotich"


def test_200_is_ask_again_later() -> None:
    """200 ("not complete") is transient and not ambiguous."""
    error = classify("200", operation="ketQuaDangKyHS")
    assert isinstance(error, TransientPeerError)
    assert not error.ambiguous
    assert error.peer_code == "200"


def test_every_published_code_is_classified() -> None:
    """Every code of the typed table maps to one of the two families."""
    for code in HoTichErrorCode:
        assert isinstance(
            classify(code.value, operation="x"), PermanentPeerError | TransientPeerError
        )


def test_message_with_id_number_is_scrubbed() -> None:
    """The ministry's text may quote an ID number: it never reaches the error."""
    error = classify("500", operation="dangKyHoTich", message="sai số 001186012345")
    assert "001186012345" not in str(error)


# --- the client over respx -------------------------------------------------------------------


@pytest.fixture
def client() -> Iterator[HoTichClient]:
    with httpx.Client(base_url=BASE) as http:
        yield HoTichClient(http, HoTichSettings(agency_code=AGENCY))


@respx.mock
def test_state_201_is_none(client: HoTichClient) -> None:
    """traTrangThaiHoSo's 201 means the ministry holds no such case."""
    route = respx.post(BASE + "traTrangThaiHoSo").respond(
        json={"status": 0, "errorCode": "201", "message": "không tìm thấy"}
    )
    assert client.state("X-1") is None
    assert orjson.loads(route.calls[0].request.content) == {"maDonVi": AGENCY, "maHoSo": "X-1"}


@respx.mock
def test_result_200_is_not_yet(client: HoTichClient) -> None:
    """ketQuaDangKyHS's 200 means not complete yet: ``None``."""
    respx.post(BASE + "ketQuaDangKyHS").respond(json={"status": 0, "errorCode": 200})
    assert client.result("X-1") is None


@respx.mock
def test_result_of_missing_case_is_permanent(client: HoTichClient) -> None:
    """A result asked for a case the ministry lacks (201) is permanent."""
    respx.post(BASE + "ketQuaDangKyHS").respond(json={"status": 0, "errorCode": "201"})
    with pytest.raises(PermanentPeerError) as info:
        client.result("X-1")
    assert info.value.peer_code == "201"


@respx.mock
def test_register_timeout_is_ambiguous(client: HoTichClient) -> None:
    """A read timeout on dangKyHoTich may have opened the case: transient and ambiguous."""
    respx.post(BASE + "dangKyHoTich").mock(side_effect=httpx.ReadTimeout("slow"))
    reg = _registration()
    with pytest.raises(TransientPeerError) as info:
        client.register(reg)
    assert info.value.ambiguous


@respx.mock
def test_state_timeout_is_not_ambiguous(client: HoTichClient) -> None:
    """A read cannot open a case: its timeout is transient, never ambiguous."""
    respx.post(BASE + "traTrangThaiHoSo").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TransientPeerError) as info:
        client.state("X-1")
    assert not info.value.ambiguous


@respx.mock
def test_connect_error_is_not_ambiguous(client: HoTichClient) -> None:
    """A request that never left cannot have opened a case."""
    respx.post(BASE + "dangKyHoTich").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TransientPeerError) as info:
        client.register(_registration())
    assert not info.value.ambiguous


@respx.mock
def test_register_sends_the_xml(client: HoTichClient) -> None:
    """dangKyHoTich carries maDonVi, module, maHoSo, ngayTiepNhan dd/mm/yyyy and the XML."""
    route = respx.post(BASE + "dangKyHoTich").respond(json={"status": 1, "data": None})
    reg = _registration()
    client.register(reg)
    sent = orjson.loads(route.calls[0].request.content)
    assert sent["maDonVi"] == AGENCY
    assert sent["module"] == "KS"
    assert sent["maHoSo"] == reg.dossier_no
    assert sent["ngayTiepNhan"] == "10/03/2025"
    assert read_registration_xml(sent["data"]) == reg


@respx.mock
@pytest.mark.parametrize(
    ("reply", "rule"),
    [
        ({"status": 7}, "reply_status"),
        ({"status": 1, "data": {"maHoSo": "X"}}, "reply_shape"),
        ({"status": 1, "data": "nope"}, "reply_shape"),
    ],
)
def test_unreadable_replies_are_refused(
    client: HoTichClient, reply: dict[str, object], rule: str
) -> None:
    """A reply outside the contract is a PeerReplyError naming the rule."""
    respx.post(BASE + "traTrangThaiHoSo").respond(json=reply)
    with pytest.raises(PeerReplyError) as info:
        client.state("X")
    assert info.value.rule == rule


@respx.mock
def test_catalogue_and_unknown_type(client: HoTichClient) -> None:
    """danhMuc lists entries; 302 (invalid type) is permanent."""
    respx.post(BASE + "danhMuc").mock(
        side_effect=[
            httpx.Response(200, json={"status": 1, "data": [{"ma": "01", "ten": "Kinh"}]}),
            httpx.Response(200, json={"status": 0, "errorCode": "302"}),
        ]
    )
    entries = client.catalogue(HoTichCatalogue.ETHNICITY)
    assert [(e.code, e.name) for e in entries] == [("01", "Kinh")]
    with pytest.raises(PermanentPeerError):
        client.catalogue(HoTichCatalogue.ETHNICITY)


@respx.mock
def test_lgsp_503_is_transient(client: HoTichClient) -> None:
    """The platform's 503: nothing was applied, retry later."""
    respx.post(BASE + "dangKyHoTich").respond(503)
    with pytest.raises(TransientPeerError) as info:
        client.register(_registration())
    assert not info.value.ambiguous


def _registration() -> HoTichRegistration:
    from gateway.mappers.hotich_xml import registration_from_dossier

    return registration_from_dossier(handover(KS).record, module=HoTichModule.BIRTH)


# --- the profile against the sandbox ministry ------------------------------------------------


class Harness:
    def __init__(self, dedupe: bool = False) -> None:
        self.now = NOW
        self.sim = HoTichSimulator(agency_code=AGENCY, clock=lambda: self.now, dedupe=dedupe)
        self.config = SystemConfig(
            base_url="http://hotich.sandbox/apiHoTichTuPhap/",
            token_url="http://hotich.sandbox/token",
            client_id="gateway",
            client_secret="hotich-sandbox-secret",
            options={"agency_code": AGENCY, "feed_modules": ["KS"]},
        )
        self.system = context("hotich", self.config, SimulatorTransport(self.sim), self.clock)
        self.profile = build(self.system)

    def clock(self) -> float:
        return self.sim.clock()

    def advance(self, seconds: float) -> None:
        self.sim.clock.advance(seconds)


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.system.http.close()


def test_profile_is_registered_and_satisfies_the_protocol(h: Harness) -> None:
    """``hotich`` is a registered profile and its instances are MinistryProfiles."""
    assert profile_type("hotich").options is HoTichRouteOptions
    assert isinstance(h.profile, MinistryProfile)
    assert h.profile.operation == "dangKyHoTich"
    assert h.profile.natural_key is False
    assert h.profile.has_feed


def test_hand_over_then_progress_to_a_result(h: Harness) -> None:
    """A hand-over opens one case that moves received → processing → completed with a result."""
    ho = handover(KS, forms={"tenTre": "Nguyễn Văn B", "canNang": 3.2})
    ref = h.profile.hand_over(ho)
    assert ref == CaseRef(dossier_no=ho.dossier_no)
    status = h.profile.find(ref)
    assert status is not None
    assert (status.status, status.state) == ("1", CaseState.RECEIVED)
    assert h.profile.result(ref) is None
    h.advance(60)
    assert h.profile.find(ref).state is CaseState.PROCESSING  # type: ignore[union-attr]  # found
    h.advance(60)
    done = h.profile.find(ref)
    assert done is not None
    assert done.state is CaseState.COMPLETED
    result = h.profile.result(ref)
    assert result is not None
    assert result.number == "HT-KQ-000001"
    assert result.url is not None
    assert result.url.endswith(".pdf")
    assert h.sim.ledger()["cases_opened"] == 1


def test_find_unknown_case_is_none(h: Harness) -> None:
    """The ministry's 201 becomes ``None``: the framework may hand over safely."""
    assert h.profile.find(CaseRef(dossier_no="000.00.01.H22-250310-9999")) is None


def test_ambiguous_hand_over_then_find_opens_no_second_case(h: Harness) -> None:
    """Applied-then-timeout: ambiguous; find sees the case, so no resend and one case."""
    h.sim.inject("timeout", operation="dangKyHoTich")
    ho = handover(KS)
    with pytest.raises(TransientPeerError) as info:
        h.profile.hand_over(ho)
    assert info.value.ambiguous
    assert h.profile.find(CaseRef(dossier_no=ho.dossier_no)) is not None
    assert h.sim.ledger()["duplicate_cases"] == []


def test_blind_resend_would_duplicate(h: Harness) -> None:
    """The sandbox does not de-duplicate: two hand-overs are two cases, and the ledger says so
    (why the framework must ask first)."""
    ho = handover(KS)
    h.profile.hand_over(ho)
    h.profile.hand_over(ho)
    assert h.sim.ledger()["duplicate_cases"] == [ho.dossier_no]


@pytest.mark.parametrize("code", ["101", "106", "108", "500"])
def test_ministry_refusals_are_permanent(h: Harness, code: str) -> None:
    """The ministry's permanent codes reach the framework as PermanentPeerError."""
    h.sim.inject(code, operation="dangKyHoTich")
    with pytest.raises(PermanentPeerError) as info:
        h.profile.hand_over(handover(KS))
    assert info.value.peer_code == code
    assert h.sim.ledger()["cases_opened"] == 0


def test_auth_failure_code_100_is_permanent(h: Harness) -> None:
    """Error 100 from the service (not an HTTP 401) is permanent as the issue says."""
    h.sim.inject("100")
    with pytest.raises(PermanentPeerError) as info:
        h.profile.find(CaseRef(dossier_no="X"))
    assert info.value.peer_code == "100"


def test_wrong_token_credentials_are_an_auth_error() -> None:
    """Credentials the LGSP refuses are PeerAuthError (our config), not the dossier's fault."""
    harness = Harness()
    bad = SystemConfig.model_validate({**harness.config.model_dump(), "client_secret": "wrong"})
    system = context("hotich", bad, SimulatorTransport(harness.sim), harness.clock)
    with pytest.raises(PeerAuthError):
        build(system).find(CaseRef(dossier_no="X"))
    system.http.close()
    harness.system.http.close()


def test_unavailable_is_transient_and_not_applied(h: Harness) -> None:
    """503: transient, not ambiguous, no case."""
    h.sim.inject("unavailable", operation="dangKyHoTich")
    with pytest.raises(TransientPeerError) as info:
        h.profile.hand_over(handover(KS))
    assert not info.value.ambiguous
    assert h.sim.ledger()["cases_opened"] == 0


def test_supplement_carries_what_is_missing(h: Harness) -> None:
    """Status 2 is supplement_requested, with the ministry's text as the detail."""
    ho = handover(KS)
    h.sim.book.plan(ho.dossier_no, [(0, "received"), (10, "supplement")])
    h.profile.hand_over(ho)
    h.advance(10)
    status = h.profile.find(CaseRef(dossier_no=ho.dossier_no))
    assert status is not None
    assert (status.status, status.state) == ("2", CaseState.SUPPLEMENT_REQUESTED)
    assert status.detail is not None
    assert "Bổ sung" in status.detail


def test_feed_lists_changes_and_repeats_harmlessly(h: Harness) -> None:
    """dsHoSoDangKy reports the change; asked again it repeats with the same fingerprint."""
    ho = handover(KS)
    h.profile.hand_over(ho)
    h.advance(120)
    first = h.profile.changes()
    assert [(c.dossier_no, c.state) for c in first] == [(ho.dossier_no, CaseState.COMPLETED)]
    again = h.profile.changes()
    assert [c.fingerprint for c in again] == [c.fingerprint for c in first]
    h.profile.acknowledge(first)  # no-op: nothing to call


def test_form_field_that_is_not_scalar_is_permanent(h: Harness) -> None:
    """A nested form value cannot be a register field: refused for good, nothing sent."""
    with pytest.raises(PermanentPeerError) as info:
        h.profile.hand_over(handover(KS, forms={"cha": {"hoTen": "A"}}))
    assert "ThongTinKhac.cha" in str(info.value)
    assert h.sim.calls["dangKyHoTich"] == 0


def test_callbacks_are_refused(h: Harness) -> None:
    """The service pushes nothing: any callback body is a contract error."""
    with pytest.raises(ContractError):
        h.profile.parse_callback({}, b"{}")


def test_bad_system_options_are_a_configuration_error(h: Harness) -> None:
    """A system without ``agency_code`` fails at start-up, naming the section."""
    config = h.config.model_copy(update={"options": {}})
    system = context("hotich", config, SimulatorTransport(h.sim), h.clock)
    with pytest.raises(ConfigurationError) as info:
        build(system)
    assert "peers.hotich" in str(info.value)
    system.http.close()


def test_profile_class_is_exported() -> None:
    """The profile class is public for provinces' own tests."""
    assert HoTichProfile.operation == "dangKyHoTich"


def test_feed_repeats_do_not_refetch_the_result(h: Harness) -> None:
    """A completed entry repeats on every feed read; its result is fetched once."""
    ho = handover(KS)
    h.profile.hand_over(ho)
    h.advance(120)
    first = h.profile.changes()
    again = h.profile.changes()
    assert first[0].result is not None
    assert again[0].result == first[0].result
    assert h.sim.calls["ketQuaDangKyHS"] == 1


def test_request_lost_before_the_ministry_acted(h: Harness) -> None:
    """No answer and nothing applied: still ambiguous to us; find says no case, so a resend
    is safe and opens exactly one."""
    h.sim.inject("timeout_unapplied", operation="dangKyHoTich")
    ho = handover(KS)
    with pytest.raises(TransientPeerError) as info:
        h.profile.hand_over(ho)
    assert info.value.ambiguous
    assert h.profile.find(CaseRef(dossier_no=ho.dossier_no)) is None
    h.profile.hand_over(ho)
    assert h.sim.ledger()["cases_opened"] == 1


def test_system_options_are_checked_when_the_configuration_loads() -> None:
    """``[peers.hotich] options`` without ``agency_code`` is refused at load, naming it."""
    from gateway.config import load_settings

    config: dict[str, Any] = {
        "ministry": {
            "routes": [
                {
                    "name": "ks",
                    "procedures": ["1.001193"],
                    "system": "hotich",
                    "profile": "hotich",
                    "options": {"module": "KS"},
                }
            ]
        },
        "peers": {"hotich": {"base_url": "http://h.test/", "options": {"feed_modules": ["KS"]}}},
    }
    with pytest.raises(ConfigurationError) as info:
        load_settings(**config)
    assert "peers.hotich.options.agency_code" in str(info.value)
