"""The OpenTelemetry SDK behind :class:`~gateway.observability.traces.Tracing`.

Imported only by :func:`~gateway.observability.traces.open_tracing`, when traces are enabled.
The provider is this gateway's own, never the global one: two services in a process (tests)
keep their spans apart, and libraries that trace through the global provider (FastAPI's native
telemetry, redis-py) stay silent, so what leaves the gateway is only the spans written here,
whose attributes the gateway chose.

A batch span processor exports from its own thread: a request or a delivery only queues its
finished span (bounded; the SDK drops spans rather than block when the exporter falls behind).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.observability.trace_settings import TraceSettings
from gateway.observability.traces import Attribute, Span

__all__ = ["OtelTracing"]

_CONTEXT_HEADERS = frozenset({b"traceparent", b"tracestate"})


def _exporter(settings: TraceSettings) -> SpanExporter:
    if settings.exporter == "console":
        return ConsoleSpanExporter()
    # Imported here: a console-only set-up needs no OTLP exporter (nor protobuf).
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.endpoint)


class OtelTracing:
    """Spans of this gateway through its own provider (see the module)."""

    def __init__(self, settings: TraceSettings, *, exporter: object | None = None) -> None:
        if exporter is not None and not isinstance(exporter, SpanExporter):
            raise TypeError(f"not a SpanExporter: {type(exporter).__name__}")
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            # A caller's sampling decision (its traceparent's flag) is kept; traces started
            # here are kept at the configured ratio.
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        self.provider.add_span_processor(BatchSpanProcessor(exporter or _exporter(settings)))
        self.tracer = self.provider.get_tracer("gateway")
        self.propagator = TraceContextTextMapPropagator()

    @contextmanager
    def server_span(
        self,
        name: str,
        headers: Iterable[tuple[bytes, bytes]],
        attributes: dict[str, Attribute],
    ) -> Iterator[Span]:
        """The current span of an incoming request, child of the caller's ``traceparent``."""
        # Only the two trace-context headers are read: nothing else of the request is kept.
        carrier = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in headers if k in _CONTEXT_HEADERS
        }
        parent = self.propagator.extract(carrier) if carrier else Context()
        with self._span(name, SpanKind.SERVER, attributes, parent) as span:
            yield span

    @contextmanager
    def client_span(
        self, name: str, attributes: dict[str, Attribute], links: Sequence[str] = ()
    ) -> Iterator[Span]:
        """The current span of a call to a peer (an exception leaves it marked as an error),
        linked to the spans the ``links`` traceparents name."""
        found = []
        for value in links:
            linked = get_current_span(self.propagator.extract({"traceparent": value}))
            if linked.get_span_context().is_valid:
                found.append(Link(linked.get_span_context()))
        with self._span(name, SpanKind.CLIENT, attributes, None, found) as span:
            yield span

    def traceparent(self) -> str | None:
        """The current span's ``traceparent``; None outside a recorded span."""
        if not get_current_span().is_recording():
            return None
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier)
        return carrier.get("traceparent")

    @contextmanager
    def _span(
        self,
        name: str,
        kind: SpanKind,
        attributes: dict[str, Attribute],
        parent: Context | None,
        links: Sequence[Link] = (),
    ) -> Iterator[Span]:
        # The SDK's own exception handling would record the exception's message (an event and
        # the status description), which may quote a peer's answer: only its type is kept.
        with self.tracer.start_as_current_span(
            name,
            context=parent,
            kind=kind,
            attributes=attributes,
            links=links,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Put the current span's ``traceparent`` (W3C trace context) on outbound headers."""
        self.propagator.inject(headers)

    def flush(self) -> None:
        """Export the finished spans now (tests, benchmarks)."""
        self.provider.force_flush()

    def shutdown(self) -> None:
        """Export what is left and stop the exporter."""
        self.provider.shutdown()
