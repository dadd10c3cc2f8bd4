"""The Grafana dashboard in deploy/grafana/ imports (valid shape) and uses only exported metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import redis
from prometheus_client import generate_latest

from gateway.api.health import metrics_registry
from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import AGENCY, national_dossier

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "tthc-gateway.json"
_METRIC = re.compile(r"\bgateway_[a-z_]+\b")
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("", "_created")}


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text("utf-8"))
    return data


def _exported(redis_client: redis.Redis) -> set[str]:
    """Sample names the gateway's /metrics can carry, after one delivery (families known)."""
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    service = GatewayService(Settings(), redis_client, connector)
    try:
        service.accept(Service.DOSSIER, AGENCY, [national_dossier()], client="t")
        service.flush(Service.DOSSIER.value, AGENCY)
        text = generate_latest(metrics_registry(service)).decode()
    finally:
        service.close()
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names |= {name + s for s in _SUFFIXES.get(kind, ("",))}
    return names


def test_dashboard_has_the_shape_grafana_imports() -> None:
    """uid, title, schemaVersion, a Prometheus data-source input, and panels with targets."""
    dash = _dashboard()
    assert dash["uid"] == "tthc-gateway"
    assert isinstance(dash["schemaVersion"], int)
    assert [i["pluginId"] for i in dash["__inputs"]] == ["prometheus"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    for panel in dash["panels"]:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"


def test_dashboard_uses_only_exported_metrics(redis_client: redis.Redis) -> None:
    """Every metric an expression names is one the collector exports; every family is shown."""
    used = {
        name
        for panel in _dashboard()["panels"]
        for target in panel["targets"]
        for name in _METRIC.findall(target["expr"])
    }
    exported = _exported(redis_client)
    assert used, "no metric referenced"
    assert used - exported == set()
    families = {n.removesuffix("_total") for n in exported if not n.endswith("_created")}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    assert {f for f in families if re.sub(r"_(bucket|sum|count)$", "", f) not in shown} == set()
