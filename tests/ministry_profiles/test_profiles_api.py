"""Over HTTP: the REST ministry's callbacks at ``/v1/ministries/rest_ministry/callback`` are
authenticated, refused by field when unreadable (422, never 500), and idempotent."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
import redis

from gateway.api import create_app
from gateway.testing.asgi import asgi_call as call
from gateway.testing.ministry_profiles import REST_CALLBACK_SECRET, ProfilesRig, build_profiles_rig

_CALLBACK = "/v1/ministries/rest_ministry/callback"
NO = "000.00.01.H22-251201-0301"


_AUTH = {"Authorization": f"Bearer {REST_CALLBACK_SECRET}"}


@pytest.fixture
def rig(redis_client: redis.Redis) -> Iterator[ProfilesRig]:
    # The ministry's own pushes are off: this test pushes by hand, over HTTP.
    built = build_profiles_rig(redis_client, rest_callbacks=False)
    yield built
    built.gateway.close()


def test_callback_over_http_is_recorded_once(rig: ProfilesRig) -> None:
    """A pushed completion is recorded and flows back once; the repeat is a duplicate."""
    assert rig.dossier(NO, "rest_ministry")
    rig.deliver()
    app = create_app(rig.gateway)
    body = orjson.dumps(
        {
            "receiptKey": NO,
            "caseId": "RE00000001",
            "status": "completed",
            "updatedAt": "2025-12-01T11:05:00+07:00",
            "result": {"number": "KQ-1", "issuedAt": "2025-12-01T11:05:00+07:00"},
        }
    )
    first = call(app, "POST", _CALLBACK, content=body, headers=_AUTH)
    again = call(app, "POST", _CALLBACK, content=body, headers=_AUTH)
    assert first.status_code == 200
    assert first.json()["recorded"] == 1
    assert again.json() == {"recorded": 0, "duplicates": 1}
    rig.deliver()
    events = rig.events("rest_ministry")
    assert [e["data"]["status"] for e in events] == ["completed"]
    assert events[0]["data"]["result"]["number"] == "KQ-1"


def test_callback_without_the_token_is_401(rig: ProfilesRig) -> None:
    """The system's callback secret is required."""
    app = create_app(rig.gateway)
    answer = call(app, "POST", _CALLBACK, content=b"{}")
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("body", "path", "rule"),
    [
        (b'{"status":"completed"}', "receiptKey", "missing"),
        (b'[{"receiptKey":"X","status":"lost"}]', "0.status", "status_unknown"),
        (b"\xff\x00", "", "json_invalid"),
    ],
)
def test_unreadable_callback_is_422_naming_field_and_rule(
    rig: ProfilesRig, body: bytes, path: str, rule: str
) -> None:
    """Bad input answers 422 with the field path and the rule, never 500."""
    app = create_app(rig.gateway)
    answer = call(app, "POST", _CALLBACK, content=body, headers=_AUTH)
    assert answer.status_code == 422
    error = answer.json()["errors"][0]
    assert (error["path"], error["rule"]) == (path, rule)
