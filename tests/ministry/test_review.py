"""Correctness review of the ministry framework against real Redis: each test drives the rig
(or the lower-level steps) through one interleaving or failure and holds the fix of one bug in
the hand-over, tracking or callback guarantees."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis
from pydantic import SecretStr, ValidationError

from gateway.api import create_app
from gateway.connectors.ministry import ClientCredentials
from gateway.connectors.ministry.connector import MinistryConnector
from gateway.connectors.ministry.http import system_client
from gateway.connectors.ministry.profile import CaseRef, CaseStatus, HandOver
from gateway.connectors.ministry.settings import SystemConfig
from gateway.errors import PeerReplyError
from gateway.sandbox.faults import Faults
from gateway.testing.asgi import asgi_call as call
from gateway.testing.ministry import CALLBACK_SECRET, MinistryRig, build_ministry_rig, lltp_forms
from gateway.testing.records import AGENCY, DOSSIER_NO
from tests.connectors.ministry.test_oauth import _Lgsp

CHANNEL = "lltp.nhanHoSoDangKy"
_NEVER = 10_000_000.0  # a poll or feed interval no test reaches
_CALLBACK = "/v1/ministries/lltp/callback"


@pytest.fixture
def rig(redis_client: redis.Redis) -> Iterator[MinistryRig]:
    r = build_ministry_rig(redis_client)
    yield r
    r.gateway.close()


def connector(rig: MinistryRig) -> MinistryConnector:
    assert rig.gateway.ministry is not None
    return rig.gateway.ministry.connectors["lltp"]


def test_unreadable_handover_reply_is_ambiguous_and_the_case_is_tracked(
    rig: MinistryRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ministry opens the case, then answers with a body we cannot read (not JSON, no ID):
    the case may exist, so the retry asks first, finds it and tracks it. It used to be a
    permanent refusal: dead-lettered, the ministry's case never tracked, its result never
    flowed back, and a replay sent the dossier again without asking."""
    c = connector(rig)
    real = c.profile.hand_over
    garbled: list[int] = []

    def hand_over(handover: HandOver) -> CaseRef:
        real(handover)  # applied at the ministry …
        if not garbled:
            garbled.append(1)
            # … but the answer cannot be read
            raise PeerReplyError("reply_not_json", system="lltp", operation=CHANNEL)
        raise AssertionError("handed over again")

    monkeypatch.setattr(c.profile, "hand_over", hand_over)
    assert rig.dossier(DOSSIER_NO)
    rig.settle()
    assert rig.gateway.outbox.dead_letter_count() == 0
    assert rig.lltp.ledger()["calls"]["nhanHoSoDangKy"] == 1
    case = rig.gateway.ministry.case("lltp", DOSSIER_NO)  # type: ignore[union-attr]  # configured
    assert case is not None
    assert case["settled"] is True
    assert [e["data"]["status"] for e in rig.events()][-1] == "5"


def test_no_second_case_after_an_ambiguous_handover_was_dead_lettered(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ministry without a natural key: the first hand-over times out after the ministry
    applied it, and the look-up before the retry fails for good, so that item is
    dead-lettered. The province then sends corrected forms (a new item of the same dossier):
    it used to be sent without asking, as nothing flagged it, and opened a second case."""
    rig = build_ministry_rig(redis_client, dedupe=False, faults=Faults(timeout_rate=1.0))
    try:
        c = connector(rig)
        monkeypatch.setattr(c.profile, "natural_key", False)
        real_find = c.profile.find

        def broken_find(ref: CaseRef) -> CaseStatus | None:
            raise PeerReplyError("lltp_unknown_status", system="lltp", operation="traTrangThaiHs")

        assert rig.dossier(DOSSIER_NO)
        rig.gateway.flush(CHANNEL, AGENCY)
        rig.lltp.set_faults(Faults())
        monkeypatch.setattr(c.profile, "find", broken_find)
        rig.clock.advance(60)
        rig.deliver()
        assert rig.gateway.outbox.dead_letter_count() == 1
        monkeypatch.setattr(c.profile, "find", real_find)
        assert rig.dossier(DOSSIER_NO, TrangThaiHoSo="4", ThongTinKhac=lltp_forms(phone="0912"))
        rig.settle()
        ledger = rig.lltp.ledger()
        assert ledger["opened_twice"] == []
        assert ledger["cases"][DOSSIER_NO]["opened"] == 1
    finally:
        rig.gateway.close()


def test_callback_for_a_case_not_recorded_yet_is_refused_for_a_retry(
    redis_client: redis.Redis,
) -> None:
    """The ministry pushes the new case's first status while our hand-over call is still
    waiting for its answer (the case is not recorded yet). It used to be answered 200 and
    dropped: with callbacks as the only tracking, status 3 never reached the province. Now a
    retryable 409 asks the ministry to push it again, and the retry is recorded."""
    rig = build_ministry_rig(redis_client, poll_seconds=_NEVER, feed_seconds=_NEVER)
    try:
        app = create_app(rig.gateway)
        row = {"idReceivedDec": DOSSIER_NO, "DEC_STATUS_ID": 3, "ID": "77"}
        auth = {"Authorization": f"Bearer {CALLBACK_SECRET}"}
        assert rig.dossier(DOSSIER_NO)
        early = call(app, "POST", _CALLBACK, json=row, headers=auth)
        assert early.status_code == 409, early.text
        assert early.json()["errors"][0]["rule"] == "unknown_case"
        rig.deliver()  # the hand-over's answer arrives: the case is recorded
        again = call(app, "POST", _CALLBACK, json=row, headers=auth)
        assert again.status_code == 200
        assert again.json() == {"recorded": 1, "duplicates": 0}
        rig.deliver()
        assert [e["data"]["status"] for e in rig.events()] == ["3"]
    finally:
        rig.gateway.close()


def test_empty_callback_secret_authenticates_nobody(rig: MinistryRig) -> None:
    """``callback_secret = ""`` used to accept a callback carrying no token at all (an empty
    header compares equal to an empty secret): it is refused at load, and the endpoint
    refuses every callback of a system whose secret is empty."""
    with pytest.raises(ValidationError, match="callback_secret"):
        SystemConfig.model_validate({"base_url": "http://m.test/", "callback_secret": ""})
    c = connector(rig)
    c.config = c.config.model_copy(update={"callback_secret": SecretStr("")})
    app = create_app(rig.gateway)
    assert rig.dossier(DOSSIER_NO)
    rig.deliver()
    row = {"idReceivedDec": DOSSIER_NO, "DEC_STATUS_ID": 5, "ID": "77"}
    for headers in ({}, {"Authorization": "Bearer "}):
        answer = call(app, "POST", _CALLBACK, json=row, headers=headers)
        assert answer.status_code == 401
    assert rig.gateway.ministry.case("lltp", DOSSIER_NO)["status"] != "5"  # type: ignore[union-attr,index]  # configured, handed over


def test_max_call_seconds_bounds_the_clients_real_timeouts() -> None:
    """The lease check at start-up trusts ``max_call_seconds``. One hand-over is up to four
    requests (token, call, token again after a 401, call again), each bounded by the client's
    pool, connect, write and read timeouts; it used to count three requests of connect and
    read only (105 s by default against up to 380 s), so a lease could lapse mid-send and a
    second worker hand the dossier over again while the first call was still on the wire."""
    config = SystemConfig.model_validate(
        {
            "base_url": "http://m.test/",
            "token_url": "http://m.test/token",
            "client_id": "gw",
            "client_secret": "s",
        }
    )
    http: httpx.Client = system_client("m", config)
    try:
        t = http.timeout
        per_request = sum(x or 0.0 for x in (t.pool, t.connect, t.write, t.read))
        assert config.max_call_seconds >= 4 * per_request
        assert config.max_call_seconds < 300  # the default lease still fits
    finally:
        http.close()


def test_short_lived_token_is_reused_within_its_life() -> None:
    """A token the LGSP gives for no longer than the refresh margin (``expires_in`` 30 with the
    default margin of 60 s) used to be stale the moment it arrived: every call fetched a new
    one, one thread at a time under the lock. Now a token is refreshed at half its life at
    the latest, and reused until then."""
    lgsp, now = _Lgsp(lifetime=30), [0.0]
    transport = httpx.MockTransport(lgsp)
    auth = ClientCredentials(
        system="lltp",
        token_url="https://lgsp.test/token",
        client_id="gw",
        client_secret="s3cret",
        token_client=httpx.Client(transport=transport),
        refresh_margin=60,
        clock=lambda: now[0],
    )
    with httpx.Client(transport=transport, auth=auth, base_url="https://lgsp.test") as client:
        for _ in range(5):
            assert client.post("/api").status_code == 200
        assert lgsp.issued == 1
        now[0] = 16.0  # past half its life: refreshed before it expires
        assert client.post("/api").status_code == 200
        assert lgsp.issued == 2


def test_a_status_reached_again_later_is_a_new_change(rig: MinistryRig) -> None:
    """A case can come back to a status (supplement requested, processing, supplement requested
    again: hộ tịch's 2 → 3 → 2). Ordered by change time, the second 2 is newer than anything
    recorded; it used to be a duplicate of the first by its (case, status) fingerprint, at the
    store and again at the webhook's accept, so the province never heard of it. The same
    change seen again, or the first 2 seen late, still has no effect."""
    from gateway.connectors.ministry.profile import CaseState

    assert rig.dossier(DOSSIER_NO)
    rig.deliver()
    cases = rig.gateway.cases
    assert cases is not None

    def seen(status: str, state: CaseState, order: int) -> str:
        change = CaseStatus(DOSSIER_NO, status, state, case_id="77", order=order)
        return cases.observe("lltp", change).code

    assert seen("2", CaseState.SUPPLEMENT_REQUESTED, 1_000) == "new"
    assert seen("3", CaseState.PROCESSING, 2_000) == "new"
    assert seen("2", CaseState.SUPPLEMENT_REQUESTED, 3_000) == "new"
    assert seen("2", CaseState.SUPPLEMENT_REQUESTED, 3_000) == "dup"
    assert seen("2", CaseState.SUPPLEMENT_REQUESTED, 1_000) != "new"
    assert seen("3", CaseState.PROCESSING, 2_000) != "new"
    rig.track(force_feed=False)
    rig.deliver()
    assert [e["data"]["status"] for e in rig.events()] == ["2", "3", "2"]


def test_a_case_is_shown_only_to_the_client_that_sent_the_dossier(
    rig: MinistryRig, redis_client: redis.Redis
) -> None:
    """``GET /v1/ministries/<system>/cases/<MaHoSo>`` used to show any client any province's
    case (its ministry id, status, route); like a delivery, another client's case now answers
    404, the same as one never handed over, so dossier numbers cannot be probed."""
    app = create_app(rig.gateway)
    assert rig.dossier(DOSSIER_NO)
    rig.deliver()
    url = f"/v1/ministries/lltp/cases/{DOSSIER_NO}"
    mine = call(app, "GET", url, headers={"Authorization": "Bearer k1"})
    assert mine.status_code == 200
    cases = rig.gateway.cases
    assert cases is not None
    redis_client.hset(cases.case_key("lltp", DOSSIER_NO), "client", "another-province")
    theirs = call(app, "GET", url, headers={"Authorization": "Bearer k1"})
    assert theirs.status_code == 404
