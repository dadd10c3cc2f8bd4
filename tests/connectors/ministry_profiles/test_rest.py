"""The generic REST profile (gateway/connectors/ministry/rest): configuration, calls, callbacks."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import respx
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.connectors.ministry import (
    CaseRef,
    CaseState,
    MinistryProfile,
    NoOptions,
    SystemConfig,
    SystemContext,
)
from gateway.connectors.ministry.profile import profile_type
from gateway.connectors.ministry.rest import RestCaseProfile, build, pick
from gateway.errors import (
    ConfigurationError,
    ContractError,
    PeerAuthError,
    PeerReplyError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.sandbox import SimulatorTransport
from gateway.sandbox.callbacks import CallbackFaults
from gateway.sandbox.rest_ministry import REST_BASE_PATH, RestMinistrySimulator

from ._helpers import context, handover

NOW = 1_741_600_000.0
BASE = "http://rest.test/api/v1/"


def test_pick_follows_dotted_paths() -> None:
    """``a.b.0.c`` walks objects and lists; a missing step is None."""
    data = {"a": {"b": [{"c": 1}]}}
    assert pick(data, "a.b.0.c") == 1
    assert pick(data, "a.x.c") is None
    assert pick(data, None) is None


def _system(http: httpx.Client, **options: Any) -> SystemContext:
    config = SystemConfig(base_url=BASE, options=options)
    return SystemContext(name="land", config=config, http=http, clock=lambda: NOW)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=BASE) as client:
        yield client


@respx.mock
def test_submit_carries_key_in_body_and_header(http: httpx.Client) -> None:
    """The receipt key travels as ``receiptKey`` and ``Idempotency-Key``; fields are renamed."""
    route = respx.post(BASE + "cases").respond(201, json={"caseId": "C1", "status": "received"})
    profile = build(_system(http, fields={"procedure": "maThuTuc"}))
    ho = handover(NoOptions(), forms={"x": 1})
    assert profile.hand_over(ho) == CaseRef(dossier_no=ho.dossier_no, case_id="C1")
    request = route.calls[0].request
    assert request.headers["Idempotency-Key"] == ho.dossier_no
    assert orjson.loads(request.content) == {"receiptKey": ho.dossier_no, "maThuTuc": "1.001612"}


@respx.mock
def test_already_exists_is_success_and_asks_for_the_id(http: httpx.Client) -> None:
    """409 on submit means the case exists: success, and the status call gives its id."""
    respx.post(BASE + "cases").respond(409, json={"error": "exists"})
    ho = handover(NoOptions())
    respx.get(BASE + "cases/" + ho.dossier_no).respond(
        json={"caseId": "C9", "status": "processing"}
    )
    assert build(_system(http)).hand_over(ho).case_id == "C9"


@respx.mock
def test_custom_paths_and_fields(http: httpx.Client) -> None:
    """Another ministry's API is configuration: paths with {key}, nested fields, its statuses."""
    respx.get(BASE + "hoso/D%2F1/trangthai").respond(
        json={"data": {"ma": "X1", "tt": "DXL", "luc": "20250310164640"}}
    )
    profile = build(
        _system(
            http,
            status={"path": "hoso/{key}/trangthai"},
            case_id_field="data.ma",
            status_field="data.tt",
            changed_at_field="data.luc",
            detail_field=None,
            statuses={"DXL": "processing"},
        )
    )
    status = profile.find(CaseRef(dossier_no="D/1"))
    assert status is not None
    assert (status.status, status.state, status.case_id) == ("DXL", CaseState.PROCESSING, "X1")
    assert status.changed_at is not None
    assert status.changed_at.timestamp() == NOW


@respx.mock
def test_not_found_and_not_ready(http: httpx.Client) -> None:
    """404 on status is "no such case"; 409 on result is "not yet"."""
    respx.get(BASE + "cases/D1").respond(404)
    respx.get(BASE + "cases/D1/result").respond(409, json={"status": "processing"})
    profile = build(_system(http))
    assert profile.find(CaseRef("D1")) is None
    assert profile.result(CaseRef("D1")) is None


@respx.mock
@pytest.mark.parametrize(
    ("status", "error", "ambiguous"),
    [
        (503, TransientPeerError, False),
        (500, TransientPeerError, True),
        (429, TransientPeerError, False),
        (422, PermanentPeerError, None),
        (401, PeerAuthError, False),
    ],
)
def test_submit_statuses_are_classified(
    http: httpx.Client, status: int, error: type[Exception], ambiguous: bool | None
) -> None:
    """HTTP statuses: 503/429 transient, other 5xx maybe applied, 4xx permanent, 401 auth."""
    respx.post(BASE + "cases").respond(status, json={})
    with pytest.raises(error) as info:
        build(_system(http)).hand_over(handover(NoOptions()))
    assert type(info.value) is error
    if ambiguous is not None:
        assert info.value.ambiguous is ambiguous  # type: ignore[attr-defined]  # transient


@respx.mock
def test_unknown_status_value_is_refused(http: httpx.Client) -> None:
    """A status the table lacks breaks the contract (never guessed)."""
    respx.get(BASE + "cases/D1").respond(json={"caseId": "C", "status": "weird"})
    with pytest.raises(PeerReplyError) as info:
        build(_system(http)).find(CaseRef("D1"))
    assert info.value.rule == "status_unknown"


def test_bad_options_are_a_configuration_error(http: httpx.Client) -> None:
    """A status table naming a state we lack fails at start-up, naming the system."""
    with pytest.raises(ConfigurationError) as info:
        build(_system(http, statuses={"x": "teleported"}))
    assert "peers.land" in str(info.value)


def test_callback_one_or_many(http: httpx.Client) -> None:
    """A callback body is one status object or a list of them."""
    profile = build(_system(http))
    one = profile.parse_callback({}, b'{"receiptKey":"D1","status":"completed","caseId":"C"}')
    assert [(s.dossier_no, s.state) for s in one] == [("D1", CaseState.COMPLETED)]
    many = profile.parse_callback(
        {}, b'[{"receiptKey":"D1","status":"received"},{"receiptKey":"D2","status":"refused"}]'
    )
    assert [s.state for s in many] == [CaseState.RECEIVED, CaseState.REFUSED]


@pytest.mark.parametrize(
    ("body", "path", "rule"),
    [
        (b"nope", "", "json_invalid"),
        (b'{"status":"received"}', "receiptKey", "missing"),
        (b'[{"receiptKey":"D1","status":"???"}]', "0.status", "status_unknown"),
    ],
)
def test_bad_callback_names_field_and_rule(
    http: httpx.Client, body: bytes, path: str, rule: str
) -> None:
    """An unreadable callback is a ContractError naming the field and the rule."""
    with pytest.raises(ContractError) as info:
        build(_system(http)).parse_callback({}, body)
    assert (info.value.violations[0].path, info.value.violations[0].rule) == (path, rule)


# --- against the sandbox ministry ----------------------------------------------------------


class Harness:
    def __init__(self, callback_faults: CallbackFaults | None = None) -> None:
        self.pushed: list[dict[str, Any]] = []
        self.sim = RestMinistrySimulator(
            clock=lambda: NOW,
            send=self._receive,
            callback_faults=callback_faults,
        )
        config = SystemConfig(
            base_url="http://rest.sandbox" + REST_BASE_PATH,
            token_url="http://rest.sandbox/token",
            client_id="gateway",
            client_secret="rest-sandbox-secret",
        )
        self.system = context("land", config, SimulatorTransport(self.sim), self.sim.clock)
        self.profile: RestCaseProfile = build(self.system)

    def _receive(self, payload: dict[str, Any]) -> str:
        self.pushed.append(payload)
        return "200"

    def advance(self, seconds: float) -> None:
        self.sim.handle("POST", "/_sandbox/advance", {}, orjson.dumps({"seconds": seconds}))


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.system.http.close()


def test_registered_and_a_profile(h: Harness) -> None:
    """``rest`` is registered; instances satisfy the protocol."""
    assert profile_type("rest").build is build
    assert isinstance(h.profile, MinistryProfile)
    assert h.profile.natural_key is True


def _known(orders: list[int | None]) -> list[int]:
    """``orders``, every one known (``sorted`` could not compare a ``None`` anyway)."""
    known = [o for o in orders if o is not None]
    assert len(known) == len(orders)
    return known


def test_hand_over_then_callbacks_carry_progress_and_polling_agrees(h: Harness) -> None:
    """A case opens; each stage is pushed and parsed; polling and the result agree."""
    ho = handover(NoOptions())
    ref = h.profile.hand_over(ho)
    assert ref.case_id == "RE00000001"
    h.advance(60)
    h.advance(60)
    seen = [s.state for p in h.pushed for s in h.profile.parse_callback({}, orjson.dumps(p))]
    assert seen == [CaseState.RECEIVED, CaseState.PROCESSING, CaseState.COMPLETED]
    orders = _known(
        [s.order for p in h.pushed for s in h.profile.parse_callback({}, orjson.dumps(p))]
    )
    assert orders == sorted(orders)  # a late callback is recognisably older
    assert len(set(orders)) == 3
    assert h.profile.find(ref).state is CaseState.COMPLETED  # type: ignore[union-attr]  # found
    result = h.profile.result(ref)
    assert result is not None
    assert result.number == "RE-KQ-000001"
    assert result.issued_at is not None


def test_duplicate_callbacks_have_one_fingerprint() -> None:
    """The sandbox sends every callback twice; both parse to the same fingerprint."""
    harness = Harness(CallbackFaults(duplicate_rate=1.0))
    harness.profile.hand_over(handover(NoOptions()))
    assert len(harness.pushed) == 2
    prints = {
        s.fingerprint
        for p in harness.pushed
        for s in harness.profile.parse_callback({}, orjson.dumps(p))
    }
    assert len(prints) == 1
    assert harness.sim.ledger()["callbacks"][0]["fate"] == "duplicate"
    harness.system.http.close()


def test_repeat_submit_opens_one_case(h: Harness) -> None:
    """The Idempotency-Key de-duplicates: two submissions, one case."""
    ho = handover(NoOptions())
    assert h.profile.hand_over(ho) == h.profile.hand_over(ho)
    ledger = h.sim.ledger()
    assert ledger["cases_opened"] == 1
    assert ledger["submissions"] == {ho.dossier_no: 2}


def test_applied_then_drop_then_find(h: Harness) -> None:
    """Applied, then the connection drops: ambiguous; the case is found, none opened twice."""
    h.sim.inject("drop", operation="submit")
    ho = handover(NoOptions())
    with pytest.raises(TransientPeerError) as info:
        h.profile.hand_over(ho)
    assert info.value.ambiguous
    assert h.profile.find(CaseRef(ho.dossier_no)) is not None
    h.profile.hand_over(ho)
    assert h.sim.ledger()["duplicate_cases"] == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("unavailable", TransientPeerError),
        ("error", TransientPeerError),
        ("422", PermanentPeerError),
    ],
)
def test_sandbox_faults_open_nothing(h: Harness, fault: str, error: type[Exception]) -> None:
    """The sandbox's failures reach the framework classified, with no case opened."""
    h.sim.inject(fault, operation="submit")
    with pytest.raises(error):
        h.profile.hand_over(handover(NoOptions()))
    assert h.sim.ledger()["cases_opened"] == 0


README = Path(__file__).parents[3] / "README.md"


@respx.mock
def test_readme_rest_example_is_configuration_only() -> None:
    """The README's "Adding a ministry" REST example loads and reads its API as described."""
    text = README.read_text(encoding="utf-8")
    section = text.split("**A REST ministry: configuration only.**", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    peers = tomllib.loads(block)["peers"]["land"]
    config = SystemConfig.model_validate(
        {**peers, "token_url": None, "client_id": None, "client_secret": None}
    )
    base = config.base_url
    respx.post(base + "hoso").respond(200, json={"data": {"ma": "X1", "tt": "TN"}})
    respx.get(base + "hoso/D1").respond(
        json={"data": {"ma": "X1", "tt": "HT", "luc": "20251201090000", "soGiayPhep": "GP-7"}}
    )
    with httpx.Client(base_url=base) as client:
        system = SystemContext(name="land", config=config, http=client, clock=lambda: NOW)
        profile = build(system)
        ho = handover(NoOptions(), MaHoSo="000.00.01.H22-250310-0009")
        ref = profile.hand_over(ho)
        sent = orjson.loads(respx.calls[0].request.content)
        assert "Idempotency-Key" not in respx.calls[0].request.headers
        assert sent["soBienNhan"] == ho.dossier_no
        assert sent["maThuTuc"] == ho.procedure
        assert ref.case_id == "X1"
        status = profile.find(CaseRef("D1"))
    assert status is not None
    assert status.state is CaseState.COMPLETED
    assert status.result is not None
    assert status.result.number == "GP-7"


def test_request_lost_before_the_ministry_acted(h: Harness) -> None:
    """No answer, nothing applied: ambiguous, and find answers "no such case"."""
    h.sim.inject("timeout_unapplied", operation="submit")
    ho = handover(NoOptions())
    with pytest.raises(TransientPeerError) as info:
        h.profile.hand_over(ho)
    assert info.value.ambiguous
    assert h.profile.find(CaseRef(ho.dossier_no)) is None
    assert h.sim.ledger()["cases_opened"] == 0


_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9]{0,8}", fullmatch=True)
_paths = st.lists(_names, min_size=1, max_size=3, unique=True).map(".".join)


def _put(path: str, value: object, into: dict[str, Any]) -> None:
    *parents, last = path.split(".")
    for part in parents:
        into = into.setdefault(part, {})
    into[last] = value


@settings(max_examples=100)
@given(
    key_path=_paths,
    status_path=_paths,
    value=_names,
    state=st.sampled_from(list(CaseState)),
    case_id=_names,
)
def test_status_fields_round_trip_through_configuration(
    key_path: str, status_path: str, value: str, state: CaseState, case_id: str
) -> None:
    """Whatever dotted paths and status values a ministry uses, a status object written at
    them reads back as the configured state (the callback path: key, id and status)."""
    assume(not key_path.startswith(status_path) and not status_path.startswith(key_path))
    assume(not {key_path.split(".")[0], status_path.split(".")[0]} & {"caseId", "result"})
    item: dict[str, Any] = {"caseId": case_id}
    _put(key_path, "D1", item)
    _put(status_path, value, item)
    if state is CaseState.COMPLETED:
        item["result"] = {"number": "N1"}
    with httpx.Client(base_url=BASE) as client:
        profile = build(
            _system(
                client,
                key_field=key_path,
                status_field=status_path,
                changed_at_field=None,
                statuses={value: state.value},
            )
        )
        [status] = profile.parse_callback({}, orjson.dumps(item))
    assert (status.dossier_no, status.status, status.state, status.case_id) == (
        "D1",
        value,
        state,
        case_id,
    )
    assert (status.result is not None) == (state is CaseState.COMPLETED)
