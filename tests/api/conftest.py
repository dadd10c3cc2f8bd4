"""Fixtures for the HTTP API tests: a gateway on the session's Redis and a fake portal.

Nothing here starts worker threads: tests deliver by calling ``service.engine.flush`` directly.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis

from gateway.api import create_app
from gateway.config import ClientConfig, IntakeSettings, Settings
from gateway.connectors.dvcqg import DvcqgConnector
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal

SAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "samples"
AGENCY = "000.00.01.H22"
OTHER_AGENCY = "000.00.02.H22"
DOSSIER_NO = "000.00.01.H22-250310-0007"


def sample(kind: str, name: str) -> Any:
    """A fresh copy of one sample under contracts/samples/<kind>/<name>.json."""
    return copy.deepcopy(json.loads((SAMPLES / kind / f"{name}.json").read_text("utf-8")))


def national_dossier(status: str = "received", no: str | None = None) -> dict[str, Any]:
    """A valid national dossier record (status by sample name), optionally renumbered."""
    names = {
        "received": "dossier-1-received",
        "processing": "dossier-2-processing",
        "returned": "dossier-5-returned",
    }
    rec: dict[str, Any] = sample("national", names[status])
    if no is not None:
        rec["MaHoSo"] = no
    return rec


def provincial_dossier(status: str = "received", no: str | None = None) -> dict[str, Any]:
    """A valid provincial dossier (status by sample name), optionally renumbered."""
    names = {
        "received": "dossier-1-received",
        "processing": "dossier-2-processing",
        "returned": "dossier-5-returned",
    }
    rec: dict[str, Any] = sample("provincial", names[status])
    if no is not None:
        rec["dossier_no"] = no
    return rec


@pytest.fixture
def settings() -> Settings:
    """Three clients: a province (one agency), another province, and an operator."""
    return Settings(
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
                api_key="other-key",
                username="other-user",
                password="other-pass",
                agencies=frozenset({OTHER_AGENCY}),
            ),
            ClientConfig(id="ops", api_key="ops-key", operator=True, agencies=frozenset({"*"})),
        ),
        intake=IntakeSettings(max_body_bytes=256 * 1024, max_records_per_call=5),
    )


@pytest.fixture
def portal() -> FakePortal:
    """The fake national portal the gateway delivers to."""
    return FakePortal()


@pytest.fixture
def service(
    settings: Settings, redis_client: redis.Redis, portal: FakePortal
) -> Iterator[GatewayService]:
    """A gateway on the test's (empty) Redis, delivering to ``portal``; no workers."""
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    gateway = GatewayService(settings, redis_client, connector)
    yield gateway
    gateway.close()


class ApiClient:
    """A synchronous test client over ``httpx.ASGITransport`` (in-process, no sockets).

    Starlette's own TestClient warns that its httpx backend is deprecated, and warnings are
    errors here; each call runs the ASGI app in a fresh event loop instead. Requests come from
    ``client_address`` (what the app sees as ``request.client``).
    """

    def __init__(self, app: Any, *, client_address: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self.app = app
        self.client_address = client_address

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request to the app and return the (fully read) response."""

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=self.client_address)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
                return await c.request(method, url, **kwargs)

        return anyio.run(go)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET ``url``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST ``url``."""
        return self.request("POST", url, **kwargs)


@pytest.fixture
def api(service: GatewayService) -> ApiClient:
    """The app around ``service``, driven in-process (no sockets)."""
    return ApiClient(create_app(service))


@pytest.fixture
def api_from(service: GatewayService) -> Callable[[str], ApiClient]:
    """``api_from("192.0.2.1")``: the app around ``service``, called from that client address."""
    app = create_app(service)

    def make(host: str) -> ApiClient:
        return ApiClient(app, client_address=(host, 40000))

    return make


@pytest.fixture
def login(api: ApiClient) -> Callable[..., str]:
    """``login(user="prov-user", password="prov-pass")`` → a DVCQG-style session token."""

    def do(user: str = "prov-user", password: str = "prov-pass") -> str:  # noqa: S107 - fixture login
        answer = api.post("/dvcqg/auth", json={"username": user, "password": password})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["session"])

    return do


@pytest.fixture
def make_national() -> Callable[..., dict[str, Any]]:
    """``make_national(status="received", no=None)``: a valid national dossier record."""
    return national_dossier


@pytest.fixture
def make_provincial() -> Callable[..., dict[str, Any]]:
    """``make_provincial(status="received", no=None)``: a valid provincial dossier."""
    return provincial_dossier


@pytest.fixture
def national_steps() -> list[dict[str, Any]]:
    """The sample national progress steps of dossier ``DOSSIER_NO``, oldest first."""
    steps: list[dict[str, Any]] = sample("national", "steps")
    return steps


@pytest.fixture
def provincial_steps() -> list[dict[str, Any]]:
    """The sample provincial progress steps of dossier ``DOSSIER_NO``, oldest first."""
    steps: list[dict[str, Any]] = sample("provincial", "steps")
    return steps
