"""``[traces]``: OpenTelemetry traces, off by default (the ``otel`` extra installs the packages).

Plain pydantic, so reading a configuration never imports OpenTelemetry; what the settings
build is in :mod:`gateway.observability.traces`.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TraceSettings"]


class TraceSettings(BaseModel):
    """Whether to trace, where the spans go, and how many traces are kept.

    ``exporter``: ``otlp`` posts spans (OTLP over HTTP, protobuf) to ``endpoint``, e.g. a
    collector's ``http://127.0.0.1:4318/v1/traces``; ``console`` writes them to standard output
    (trying it out). ``sample_ratio`` is the share of traces started here that are kept; a
    caller's ``traceparent`` decides for its own trace.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    exporter: Literal["otlp", "console"] = "otlp"
    endpoint: str | None = Field(None, min_length=1, pattern=r"^https?://")
    """The collector's traces URL (``otlp``); when absent, the SDK's own default and
    ``OTEL_EXPORTER_OTLP_*`` variables apply."""
    service_name: str = Field("tthc-gateway", min_length=1, max_length=128)
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _endpoint_is_for_otlp(self) -> Self:
        if self.endpoint is not None and self.exporter != "otlp":
            raise ValueError("endpoint is for exporter = 'otlp'")
        return self
