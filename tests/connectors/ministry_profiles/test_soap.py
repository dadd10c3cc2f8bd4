"""The generic SOAP profile (gateway/connectors/ministry/soap): zeep over httpx, faults, sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from gateway.connectors.ministry import (
    CaseRef,
    CaseState,
    MinistryProfile,
    NoOptions,
    SystemConfig,
    SystemContext,
)
from gateway.connectors.ministry.profile import profile_type
from gateway.connectors.ministry.soap import DEFAULT_FAULTS, SoapCaseProfile, build, fault_class
from gateway.errors import (
    ConfigurationError,
    PeerAuthError,
    PeerReplyError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.sandbox import SimulatorTransport
from gateway.sandbox.soap_ministry import SOAP_MINISTRY_PATH, SoapMinistrySimulator

from ._helpers import context, handover

NOW = 1_741_600_000.0
AGENCY = "000.00.01.H22"
ENDPOINT = "http://soap.test/lienthong/hoso"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "urn:vn:lienthong:hoso:1"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("soap:Client.NotFound", "not_found"),
        ("Client.NotReady", "not_ready"),
        ("soap:Client", "permanent"),
        ("soap:Client.Agency", "permanent"),
        ("soap:Server", "transient"),
        ("Server.Busy.Queue", "transient"),
        ("tns:Whatever", "permanent"),
    ],
)
def test_fault_classes(code: str, kind: str) -> None:
    """A fault code is looked up as itself, then by shorter dotted prefixes, then the default."""
    assert fault_class(code, DEFAULT_FAULTS, "permanent") == kind


def test_default_for_unknown_faults_is_configurable() -> None:
    """An operator can make unknown faults transient."""
    assert fault_class("tns:Odd", DEFAULT_FAULTS, "transient") == "transient"


# --- over respx --------------------------------------------------------------------------------


def _envelope(inner: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{ENV}" '
        f'xmlns:t="{NS}"><soap:Body>{inner}</soap:Body></soap:Envelope>'
    )


def _fault(code: str) -> httpx.Response:
    body = _envelope(
        f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>x</faultstring></soap:Fault>"
    )
    return httpx.Response(500, text=body, headers={"Content-Type": "text/xml"})


def _system(http: httpx.Client, **options: object) -> SystemContext:
    config = SystemConfig(base_url=ENDPOINT, options={"agency_code": AGENCY, **options})
    return SystemContext(name="moc", config=config, http=http, clock=lambda: NOW)


@pytest.fixture
def profile() -> Iterator[SoapCaseProfile]:
    with httpx.Client() as http:
        yield build(_system(http))


@respx.mock
def test_submit_posts_the_envelope_with_its_soap_action(profile: SoapCaseProfile) -> None:
    """NopHoSo goes through httpx (respx sees it) with SOAPAction and MaBienNhan = MaHoSo."""
    route = respx.post(ENDPOINT).respond(
        text=_envelope(
            "<t:NopHoSoResponse><t:MaHoSoBo>SO1</t:MaHoSoBo><t:TrangThai>DA_TIEP_NHAN"
            "</t:TrangThai><t:DaTonTai>false</t:DaTonTai></t:NopHoSoResponse>"
        ),
        headers={"Content-Type": "text/xml"},
    )
    ho = handover(NoOptions(), forms={"a": 1})
    ref = profile.hand_over(ho)
    assert ref == CaseRef(dossier_no=ho.dossier_no, case_id="SO1")
    request = route.calls[0].request
    assert request.headers["SOAPAction"] == f'"{NS}#NopHoSo"'
    sent = request.content.decode()
    assert f"<ns0:MaBienNhan>{ho.dossier_no}</ns0:MaBienNhan>" in sent
    assert '<ns0:DuLieu>{"a":1}</ns0:DuLieu>' in sent


@respx.mock
@pytest.mark.parametrize(
    ("code", "error", "ambiguous"),
    [
        ("Server", TransientPeerError, True),
        ("Server.Busy", TransientPeerError, True),
        ("Client", PermanentPeerError, None),
        ("Client.Agency", PermanentPeerError, None),
        ("Client.NotFound", PermanentPeerError, None),
    ],
)
def test_submit_faults_are_classified(
    profile: SoapCaseProfile, code: str, error: type[Exception], ambiguous: bool | None
) -> None:
    """A submit's fault: Server* transient (ambiguous: it may follow the store), Client*
    permanent; "not found" makes no sense for a submit and is permanent too."""
    respx.post(ENDPOINT).mock(return_value=_fault(code))
    with pytest.raises(error) as info:
        profile.hand_over(handover(NoOptions()))
    assert type(info.value) is error
    if ambiguous is not None:
        assert info.value.ambiguous is ambiguous  # type: ignore[attr-defined]  # transient


@respx.mock
def test_find_not_found_is_none_and_result_not_ready_is_none(profile: SoapCaseProfile) -> None:
    """The table's not_found and not_ready faults become ``None`` where they mean it."""
    respx.post(ENDPOINT).mock(side_effect=[_fault("Client.NotFound"), _fault("Client.NotReady")])
    ref = CaseRef(dossier_no="D1")
    assert profile.find(ref) is None
    assert profile.result(ref) is None


@respx.mock
def test_find_reads_status_and_time(profile: SoapCaseProfile) -> None:
    """TrangThai maps through the configured table; the time is DVCQG yyyyMMddHHmmss."""
    respx.post(ENDPOINT).respond(
        text=_envelope(
            "<t:TraCuuTrangThaiResponse><t:MaHoSoBo>SO1</t:MaHoSoBo><t:TrangThai>DANG_XU_LY"
            "</t:TrangThai><t:ThoiDiemCapNhat>20250310164640</t:ThoiDiemCapNhat>"
            "</t:TraCuuTrangThaiResponse>"
        ),
        headers={"Content-Type": "text/xml"},
    )
    status = profile.find(CaseRef(dossier_no="D1"))
    assert status is not None
    assert (status.status, status.state, status.case_id) == (
        "DANG_XU_LY",
        CaseState.PROCESSING,
        "SO1",
    )
    assert status.changed_at is not None
    assert status.changed_at.timestamp() == NOW
    assert status.order == int(NOW * 1000)


@respx.mock
def test_unknown_status_breaks_the_contract(profile: SoapCaseProfile) -> None:
    """A TrangThai the table does not know is a PeerReplyError, not a guess."""
    respx.post(ENDPOINT).respond(
        text=_envelope(
            "<t:TraCuuTrangThaiResponse><t:MaHoSoBo>SO1</t:MaHoSoBo><t:TrangThai>HUH"
            "</t:TrangThai></t:TraCuuTrangThaiResponse>"
        ),
        headers={"Content-Type": "text/xml"},
    )
    with pytest.raises(PeerReplyError) as info:
        profile.find(CaseRef(dossier_no="D1"))
    assert info.value.rule == "status_unknown"


@respx.mock
def test_reply_with_a_dtd_is_refused(profile: SoapCaseProfile) -> None:
    """A reply carrying a DOCTYPE (entity tricks) is refused by zeep's forbid_dtd."""
    evil = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
        + _envelope("<t:TraCuuTrangThaiResponse/>").split("?>", 1)[1]
    )
    respx.post(ENDPOINT).respond(text=evil, headers={"Content-Type": "text/xml"})
    with pytest.raises(PeerReplyError) as info:
        profile.find(CaseRef(dossier_no="D1"))
    assert info.value.rule == "xml_dtd_forbidden"


@respx.mock
@pytest.mark.parametrize(
    ("status", "error", "ambiguous"),
    [
        (503, TransientPeerError, False),
        (502, TransientPeerError, True),
        (404, PermanentPeerError, None),
    ],
)
def test_http_statuses_without_soap(
    profile: SoapCaseProfile, status: int, error: type[Exception], ambiguous: bool | None
) -> None:
    """A proxy's page instead of SOAP: 503 not applied, other 5xx maybe applied, 4xx permanent."""
    respx.post(ENDPOINT).respond(
        status, text="<html>no</html>", headers={"Content-Type": "text/html"}
    )
    with pytest.raises(error) as info:
        profile.hand_over(handover(NoOptions()))
    if ambiguous is not None:
        assert info.value.ambiguous is ambiguous  # type: ignore[attr-defined]  # transient


@respx.mock
def test_read_timeout_on_submit_is_ambiguous(profile: SoapCaseProfile) -> None:
    """No answer to NopHoSo: it may have opened the case."""
    respx.post(ENDPOINT).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TransientPeerError) as info:
        profile.hand_over(handover(NoOptions()))
    assert info.value.ambiguous


def test_missing_wsdl_is_a_configuration_error() -> None:
    """A WSDL that cannot be read fails at start-up, naming the system."""
    with httpx.Client() as http, pytest.raises(ConfigurationError) as info:
        build(_system(http, wsdl="/nonexistent/x.wsdl"))
    assert "peers.moc" in str(info.value)


def test_unknown_operation_is_a_configuration_error() -> None:
    """Operations the WSDL lacks are refused at start-up."""
    with httpx.Client() as http, pytest.raises(ConfigurationError):
        build(_system(http, operations={"submit": "Nope"}))


def test_wsdl_client_fetches_nothing() -> None:
    """Building the profile makes no HTTP call (the WSDL is a local file)."""
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    with httpx.Client(transport=httpx.MockTransport(record)) as http:
        build(_system(http))
    assert calls == []


# --- against the sandbox ministry ----------------------------------------------------------


class Harness:
    def __init__(self) -> None:
        self.sim = SoapMinistrySimulator(agency_code=AGENCY, clock=lambda: NOW)
        config = SystemConfig(
            base_url="http://soap.sandbox" + SOAP_MINISTRY_PATH,
            token_url="http://soap.sandbox/token",
            client_id="gateway",
            client_secret="soap-sandbox-secret",
            options={"agency_code": AGENCY},
        )
        self.system = context("moc", config, SimulatorTransport(self.sim), self.sim.clock)
        self.profile = build(self.system)


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.system.http.close()


def test_registered_and_a_profile(h: Harness) -> None:
    """``soap`` is registered; its instances satisfy the protocol and dedupe by key."""
    assert profile_type("soap").build is build
    assert isinstance(h.profile, MinistryProfile)
    assert h.profile.natural_key is True
    assert h.profile.operation == "NopHoSo"


def test_hand_over_progress_and_result(h: Harness) -> None:
    """One case opens, moves through its stages on the sandbox clock, and returns its result."""
    ho = handover(NoOptions())
    ref = h.profile.hand_over(ho)
    assert ref.case_id == "SO00000001"
    assert h.profile.find(ref).state is CaseState.RECEIVED  # type: ignore[union-attr]  # found
    assert h.profile.result(ref) is None
    h.sim.clock.advance(120)
    status = h.profile.find(ref)
    assert status is not None
    assert status.state is CaseState.COMPLETED
    result = h.profile.result(ref)
    assert result is not None
    assert result.number == "SO-KQ-000001"


def test_repeat_returns_the_same_case(h: Harness) -> None:
    """A second NopHoSo with the same MaBienNhan opens nothing: one case, two submissions."""
    ho = handover(NoOptions())
    first = h.profile.hand_over(ho)
    second = h.profile.hand_over(ho)
    assert first == second
    ledger = h.sim.ledger()
    assert ledger["cases_opened"] == 1
    assert ledger["submissions"] == {ho.dossier_no: 2}


def test_applied_then_timeout_then_find(h: Harness) -> None:
    """Applied, then no answer: ambiguous; find sees the case the ministry stored."""
    h.sim.inject("timeout", operation="NopHoSo")
    ho = handover(NoOptions())
    with pytest.raises(TransientPeerError) as info:
        h.profile.hand_over(ho)
    assert info.value.ambiguous
    assert h.profile.find(CaseRef(dossier_no=ho.dossier_no)) is not None
    assert h.sim.ledger()["cases_opened"] == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("Server.Busy", TransientPeerError),
        ("error", TransientPeerError),
        ("unavailable", TransientPeerError),
        ("Client.Invalid", PermanentPeerError),
    ],
)
def test_sandbox_faults(h: Harness, fault: str, error: type[Exception]) -> None:
    """The sandbox's faults reach the framework classified, and open no case."""
    h.sim.inject(fault, operation="NopHoSo")
    with pytest.raises(error):
        h.profile.hand_over(handover(NoOptions()))
    assert h.sim.ledger()["cases_opened"] == 0


def test_wrong_agency_is_permanent(h: Harness) -> None:
    """The ministry's Client.Agency: permanent, with its code."""
    h.sim.agency_code = "other"
    with pytest.raises(PermanentPeerError) as info:
        h.profile.hand_over(handover(NoOptions()))
    assert info.value.peer_code == "Client.Agency"


def test_simulator_serves_the_wsdl(h: Harness) -> None:
    """``GET ?wsdl`` answers the contract from contracts/."""
    answer = h.sim.handle("GET", SOAP_MINISTRY_PATH, {}, b"")
    assert b"NopHoSo" in answer.body
    assert answer.status == 200


def test_without_a_token_is_an_auth_error() -> None:
    """The LGSP's 401 after the token refresh is PeerAuthError (our credentials)."""
    sim = SoapMinistrySimulator(agency_code=AGENCY, clock=lambda: NOW)
    config = SystemConfig(
        base_url="http://soap.sandbox" + SOAP_MINISTRY_PATH, options={"agency_code": AGENCY}
    )
    system = context("moc", config, SimulatorTransport(sim), sim.clock)
    with pytest.raises(PeerAuthError):
        build(system).find(CaseRef(dossier_no="D1"))
    system.http.close()


def test_request_lost_before_the_ministry_acted(h: Harness) -> None:
    """No answer, nothing applied: ambiguous, and find answers "no such case"."""
    h.sim.inject("timeout_unapplied", operation="NopHoSo")
    ho = handover(NoOptions())
    with pytest.raises(TransientPeerError) as info:
        h.profile.hand_over(ho)
    assert info.value.ambiguous
    assert h.profile.find(CaseRef(dossier_no=ho.dossier_no)) is None
    assert h.sim.ledger()["cases_opened"] == 0
