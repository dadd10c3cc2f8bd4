"""Traces, when ``[traces] enabled``: what the gateway asks of a tracer, and how one is opened.

The rest of the gateway sees only :class:`Tracing` (and ``None`` when traces are off, the
default), so nothing of OpenTelemetry is imported unless a configuration asks for it:
:func:`open_tracing` imports :mod:`gateway.observability.otel` (the SDK) on demand, and a
gateway without the ``otel`` extra installed starts as before.

Spans carry names, peers, channels, counts, outcomes, status codes and correlation ids, never
record bodies, personal data or credentials (``tests/observability/test_traces.py`` checks a
run's spans).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from gateway.errors import ConfigurationError
from gateway.observability.trace_settings import TraceSettings

__all__ = ["CORRELATION_ATTRIBUTE", "Attribute", "Span", "Tracing", "open_tracing"]

CORRELATION_ATTRIBUTE = "gateway.correlation_id"
"""The span attribute that ties an intake request to the deliveries of what it brought."""

Attribute = str | int | float | bool
"""A span attribute's value."""


class Span(Protocol):
    """The part of a span the gateway sets."""

    def set_attribute(self, key: str, value: Attribute) -> None:
        """Add or replace one attribute."""


class Tracing(Protocol):
    """A tracer with the gateway's three uses: intake requests, peer calls, outbound headers."""

    def server_span(
        self,
        name: str,
        headers: Iterable[tuple[bytes, bytes]],
        attributes: dict[str, Attribute],
    ) -> AbstractContextManager[Span]:
        """The current span of an incoming request, child of the caller's ``traceparent``."""

    def client_span(
        self, name: str, attributes: dict[str, Attribute], links: Sequence[str] = ()
    ) -> AbstractContextManager[Span]:
        """The current span of a call to a peer (an exception leaves it marked as an error),
        linked to the spans the ``links`` traceparents name."""

    def traceparent(self) -> str | None:
        """The current span's ``traceparent``; None outside a recorded span."""

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Put the current span's ``traceparent`` (W3C trace context) on outbound headers."""

    def flush(self) -> None:
        """Export the finished spans now (tests, benchmarks)."""

    def shutdown(self) -> None:
        """Export what is left and stop the exporter."""


def open_tracing(settings: TraceSettings, *, exporter: object | None = None) -> Tracing | None:
    """The configured tracer; None when traces are off.

    ``exporter``, an OpenTelemetry ``SpanExporter``, replaces the configured one (tests, the
    benchmark). Enabled without the packages is a :class:`ConfigurationError` naming the extra.
    """
    if not settings.enabled:
        return None
    try:
        from gateway.observability import otel
    except ImportError as exc:
        raise ConfigurationError(
            "traces.enabled needs the OpenTelemetry packages:"
            " pip install 'tthc-gateway[otel]'"
            f" ({exc.name or 'opentelemetry'} is not installed)"
        ) from None
    return otel.OtelTracing(settings, exporter=exporter)
