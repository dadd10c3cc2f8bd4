"""Traces: an intake span and the delivery spans of what it brought, tied by the correlation id;
nothing personal or secret on any span; off by default, and then nothing of OpenTelemetry loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.api import create_app
from gateway.config import ClientConfig, Settings, load_settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.errors import ConfigurationError
from gateway.identity import IdentityService
from gateway.identity_settings import IdentitySettings
from gateway.observability.trace_settings import TraceSettings
from gateway.observability.traces import CORRELATION_ATTRIBUTE, open_tracing
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.population import PopulationSimulator
from gateway.testing.records import Clock
from tests.api.conftest import AGENCY, DOSSIER_NO, ApiClient, provincial_dossier

API_KEY = "prov-key-0123456789"
PROV = {"Authorization": f"Bearer {API_KEY}"}
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"
DOSSIER = "DongBoHoSoMC"


class Capture(httpx.BaseTransport):
    """Passes requests to ``inner`` and keeps each one's ``traceparent`` header."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.traceparents: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.traceparents.append(request.headers.get("traceparent"))
        return self.inner.handle_request(request)


class Run:
    """A traced gateway around a fake portal, its in-memory spans, and its API."""

    def __init__(self, client: redis.Redis) -> None:
        self.clock = Clock()
        self.portal = FakePortal()
        self.capture = Capture(self.portal.transport())
        self.exporter = InMemorySpanExporter()
        settings = Settings(
            namespace="traces",
            clients=(ClientConfig(id="prov", api_key=API_KEY, agencies=frozenset({AGENCY})),),
            traces=TraceSettings(enabled=True, exporter="console"),
        )
        connector = DvcqgConnector(
            self.portal.connector_config("http://portal.test"), transport=self.capture
        )
        self.service = GatewayService(
            settings, client, connector, clock=self.clock, span_exporter=self.exporter
        )
        self.api = ApiClient(create_app(self.service))

    def push(
        self, record: dict[str, Any], key: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        answer = self.api.post(
            "/v1/dossiers", json=record, headers={**PROV, "Idempotency-Key": key, **(headers or {})}
        )
        assert answer.status_code == 202, answer.text
        return answer

    def spans(self) -> tuple[ReadableSpan, ...]:
        assert self.service.tracing is not None
        self.service.tracing.flush()
        return self.exporter.get_finished_spans()

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]


@pytest.fixture
def run(redis_client: redis.Redis) -> Iterator[Run]:
    r = Run(redis_client)
    yield r
    r.service.close()


def test_intake_span_and_delivery_span_share_the_correlation_id(run: Run) -> None:
    """The push is a server span under the caller's trace; the portal call a client span with
    the same correlation id, whose ``traceparent`` reaches the portal."""
    run.push(
        provincial_dossier(),
        "k1",
        {"X-Correlation-ID": "case-4711", "traceparent": CALLER_TRACEPARENT},
    )
    run.service.flush(Service.DOSSIER, AGENCY)

    (intake,) = run.named("POST ")
    assert intake.kind is SpanKind.SERVER
    assert intake.name == "POST /v1/dossiers"
    assert intake.attributes is not None
    assert intake.attributes[CORRELATION_ATTRIBUTE] == "case-4711"
    assert intake.attributes["http.route"] == "/v1/dossiers"
    assert intake.attributes["http.response.status_code"] == 202
    assert f"{intake.context.trace_id:032x}" == CALLER_TRACE

    (delivery,) = run.named("deliver ")
    assert delivery.kind is SpanKind.CLIENT
    assert delivery.name == f"deliver dvcqg.{DOSSIER}"
    assert dict(delivery.attributes or {}) == {
        "gateway.peer": "dvcqg",
        "gateway.channel": f"dvcqg.{DOSSIER}",
        "gateway.batch.size": 1,
        "gateway.outcome": "delivered",
        CORRELATION_ATTRIBUTE: "case-4711",
    }
    # The delivery is a trace of its own, linked to the request's span (its traceparent kept by
    # correlation id); the portal's calls (login, then the records) continue it.
    assert [(x.context.trace_id, x.context.span_id) for x in delivery.links] == [
        (intake.context.trace_id, intake.context.span_id)
    ]
    ctx = delivery.context
    sent = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
    assert run.capture.traceparents == [sent, sent]


def test_a_batch_links_to_each_request_it_holds(run: Run) -> None:
    """Two requests (no caller trace), one portal call: linked to both, both ids on it."""
    run.push(provincial_dossier(), "k1", {"X-Correlation-ID": "req-1"})
    run.push(
        provincial_dossier(no=DOSSIER_NO.replace("7", "8")), "k2", {"X-Correlation-ID": "req-2"}
    )
    run.service.flush(Service.DOSSIER, AGENCY)
    intakes = {(s.context.trace_id, s.context.span_id) for s in run.named("POST ")}
    (delivery,) = run.named("deliver ")
    assert {(x.context.trace_id, x.context.span_id) for x in delivery.links} == intakes
    assert (delivery.attributes or {})[CORRELATION_ATTRIBUTE] == "req-1,req-2"
    assert (delivery.attributes or {})["gateway.batch.size"] == 2


def test_unsampled_requests_keep_no_trace(redis_client: redis.Redis) -> None:
    """``sample_ratio = 0``: no span is recorded, and nothing is written for the link."""
    portal = FakePortal()
    service = GatewayService(
        Settings(
            namespace="unsampled",
            clients=(ClientConfig(id="prov", api_key=API_KEY, agencies=frozenset({AGENCY})),),
            traces=TraceSettings(enabled=True, exporter="console", sample_ratio=0.0),
        ),
        redis_client,
        DvcqgConnector(portal.connector_config("http://p.test"), transport=portal.transport()),
        span_exporter=(exporter := InMemorySpanExporter()),
    )
    try:
        answer = ApiClient(create_app(service)).post(
            "/v1/dossiers", json=provincial_dossier(), headers={**PROV, "Idempotency-Key": "k"}
        )
        assert answer.status_code == 202, answer.text
        service.flush(Service.DOSSIER, AGENCY)
        assert service.tracing is not None
        service.tracing.flush()
        assert exporter.get_finished_spans() == ()
        assert redis_client.keys("unsampled:trace:*") == []
        assert DOSSIER_NO in portal.dossiers
    finally:
        service.close()


def test_failed_calls_are_classed(run: Run) -> None:
    """Transient (503), ambiguous (no reply), the look-up before the resend, the resend, and a
    permanent refusal: each call one span with its outcome class."""
    run.push(provincial_dossier(), "k1")
    run.portal.fail_next(1, status=503)
    run.service.flush(Service.DOSSIER, AGENCY)
    run.clock.advance(3600)
    run.portal.drop_next(1)
    run.service.flush(Service.DOSSIER, AGENCY)
    run.clock.advance(3600)
    run.service.flush(Service.DOSSIER, AGENCY)
    other = DOSSIER_NO.replace("0007", "0008")
    run.portal.reject(other)
    run.push(provincial_dossier(no=other), "k2")
    run.service.flush(Service.DOSSIER, AGENCY)

    outcomes = [
        (s.name.split()[0], (s.attributes or {}).get("gateway.outcome")) for s in run.spans()
    ]
    assert [o for o in outcomes if o[0] != "POST"] == [
        ("deliver", "transient"),
        ("deliver", "ambiguous"),
        ("reconcile", "answered"),
        ("deliver", "delivered"),
        ("deliver", "permanent"),
    ]
    assert DOSSIER_NO in run.portal.dossiers
    errors = {s.name: (s.attributes or {}).get("error.type") for s in run.named("deliver ")}
    assert set(errors.values()) <= {None, "TransientPeerError", "PermanentPeerError"}


class AsyncCapture(httpx.AsyncBaseTransport):
    """The asynchronous twin of :class:`Capture` (the population database's calls)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.traceparents: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.traceparents.append(request.headers.get("traceparent"))
        return await self.inner.handle_async_request(request)


def test_identity_look_up_continues_the_request_trace(redis_client: redis.Redis) -> None:
    """A look-up is an intake span, and the population database's calls carry its trace; no ID
    number or name is on it."""
    sim = PopulationSimulator.from_seed()
    citizen = {
        "id_number": "001090012345",
        "full_name": "Nguyễn Văn An",
        "birth_date": "1990-02-15",
        "sex": "male",
    }
    identity = IdentitySettings(
        population=sim.config("lgsp", "http://population.test"), entitlements={"prov": "verify"}
    )
    settings = Settings(
        namespace="traces-id",
        clients=(ClientConfig(id="prov", api_key=API_KEY, agencies=frozenset({AGENCY})),),
        identity=identity,
        traces=TraceSettings(enabled=True, exporter="console"),
    )
    portal = FakePortal()
    exporter = InMemorySpanExporter()
    service = GatewayService(
        settings,
        redis_client,
        DvcqgConnector(portal.connector_config("http://p.test"), transport=portal.transport()),
        span_exporter=exporter,
    )
    try:
        app = create_app(service)
        capture = AsyncCapture(sim.transport())
        app.state.identity = IdentityService.build(
            identity, redis_client, "traces-id", transport=capture, tracing=service.tracing
        )
        answer = ApiClient(app).post("/v1/identity:verify", json=citizen, headers=PROV)
        assert answer.status_code == 200, answer.text
        assert service.tracing is not None
        service.tracing.flush()
        (span,) = exporter.get_finished_spans()
        assert span.name == "POST /v1/identity"
        ctx = span.context
        sent = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
        assert capture.traceparents
        assert set(capture.traceparents) == {sent}
        text = span.to_json()
        assert "001090012345" not in text
        assert "Nguy" not in text
    finally:
        service.close()


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def test_spans_hold_no_record_data_personal_data_or_secret(run: Run) -> None:
    """Every string of every span (names, attributes, events, resource) of a run with a refusal
    and a retry: none is a value of the records, an ID number, a key or the portal password."""
    first, second = provincial_dossier(), provincial_dossier(no=DOSSIER_NO.replace("7", "8"))
    run.push(first, "k1")
    run.portal.fail_next(1)
    run.service.flush(Service.DOSSIER, AGENCY)
    run.push(second, "k2")
    run.portal.reject(str(second["dossier_no"]))
    run.clock.advance(3600)
    run.service.flush(Service.DOSSIER, AGENCY)

    text = "\n".join(json.dumps(json.loads(s.to_json())) for s in run.spans())
    # Record values of 6 characters or more (shorter ones are codes such as "2" or "HDXD").
    forbidden = {v for r in (first, second) for v in _strings(r) if len(v) >= 6}
    forbidden |= {API_KEY, run.portal.password, str(second["dossier_no"]), "001186012345"}
    found = sorted(v for v in forbidden if v in text)
    assert not found, f"on spans: {[v[:2] + '…' for v in found]}"
    assert "Bearer" not in text


def test_off_by_default_loads_no_opentelemetry(tmp_path: Path) -> None:
    """A default gateway (intake, delivery, API) loads no OpenTelemetry module of its own: only
    what its libraries (redis-py, FastAPI) import by themselves, and never the SDK."""
    script = textwrap.dedent(
        """
        import sys
        import fakeredis, fastapi, redis  # what the libraries load by themselves
        before = {m for m in sys.modules if m.startswith("opentelemetry")}
        import anyio, httpx
        from gateway.api import create_app
        from gateway.config import Settings
        from gateway.connectors.dvcqg import DvcqgConnector, Service
        from gateway.service import GatewayService
        from gateway.testing.fake_portal import FakePortal
        from gateway.testing.records import AGENCY, national_dossier

        portal = FakePortal()
        config = portal.connector_config("http://p.test")
        connector = DvcqgConnector(config, transport=portal.transport())
        service = GatewayService(Settings(namespace="off"), fakeredis.FakeRedis(), connector)
        assert service.tracing is None
        app = create_app(service)
        async def health():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                return (await c.get("/health/live")).status_code
        anyio.run(health)
        service.accept(Service.DOSSIER, AGENCY, [national_dossier()], client="t")
        service.flush(Service.DOSSIER, AGENCY)
        assert portal.dossiers
        assert service.client.keys("off:trace:*") == []
        service.close()
        after = {m for m in sys.modules if m.startswith("opentelemetry")}
        print(sorted(after - before))
        print(sorted(m for m in sys.modules if m == "gateway.observability.otel"))
        """
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "[]"]


def test_enabled_without_the_packages_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the ``otel`` extra were not installed: a start-up error that says what to install."""
    import gateway.observability

    monkeypatch.delitem(sys.modules, "gateway.observability.otel", raising=False)
    monkeypatch.delattr(gateway.observability, "otel", raising=False)
    for name in [m for m in sys.modules if m.startswith("opentelemetry.sdk")] + [
        "opentelemetry.sdk"
    ]:
        monkeypatch.setitem(sys.modules, name, None)  # None: "import X" raises ImportError
    with pytest.raises(ConfigurationError, match=r"pip install 'tthc-gateway\[otel\]'"):
        open_tracing(TraceSettings(enabled=True))


def test_off_is_none() -> None:
    assert open_tracing(TraceSettings()) is None
    assert Settings().traces.enabled is False


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"enabled": True, "exporter": "jaeger"}, "traces.exporter"),
        ({"enabled": True, "sample_ratio": 1.5}, "traces.sample_ratio"),
        ({"enabled": True, "endpoint": "collector:4318"}, "traces.endpoint"),
        ({"enabled": True, "exporter": "console", "endpoint": "http://c:4318"}, "traces"),
        ({"enabled": True, "sampling": 0.5}, "traces.sampling"),
    ],
)
def test_a_bad_section_is_a_clear_error(
    tmp_path: Path, section: dict[str, Any], problem: str
) -> None:
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in section.items())
    path = tmp_path / "gateway.toml"
    path.write_text(f"[traces]\n{lines}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=rf"invalid configuration: {problem}"):
        load_settings(path)


def test_configured_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[traces]\nenabled = true\nendpoint = "http://127.0.0.1:4318/v1/traces"\n'
        "sample_ratio = 0.25\n",
        encoding="utf-8",
    )
    traces = load_settings(path).traces
    assert traces == TraceSettings(
        enabled=True, endpoint="http://127.0.0.1:4318/v1/traces", sample_ratio=0.25
    )
    tracing = open_tracing(traces)
    assert tracing is not None
    tracing.shutdown()
