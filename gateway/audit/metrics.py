"""The audit chain in Prometheus: whether it can be written, entries appended, write failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.audit.chain import AuditChain

__all__ = ["AuditCollector"]


class AuditCollector(Collector):
    """``gateway_audit_writable`` (1/0, with the reason while 0) and this process's counters."""

    def __init__(self, chain: AuditChain | None) -> None:
        self.chain = chain

    def collect(self) -> Iterator[Any]:
        """Yield the audit metric families."""
        writable = GaugeMetricFamily(
            "gateway_audit_writable",
            "1 while the audit chain can be written; 0 means the intake refuses new work (503)",
            labels=["reason"],
        )
        appended = CounterMetricFamily(
            "gateway_audit_entries", "Audit chain entries appended by this process"
        )
        failures = CounterMetricFamily(
            "gateway_audit_write_failures", "Failed writes to the audit store in this process"
        )
        if self.chain is not None:
            ok = self.chain.writable()
            writable.add_metric(["" if ok else (self.chain.failure or "unknown")], 1 if ok else 0)
            appended.add_metric([], self.chain.appended)
            failures.add_metric([], self.chain.failures)
        yield writable
        yield appended
        yield failures
