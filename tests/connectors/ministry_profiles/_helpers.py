"""Shared helpers for the profile tests: a system context over a simulator or respx, hand-overs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import BaseModel

from gateway.connectors.ministry import HandOver, SystemConfig, SystemContext, system_client
from gateway.schemas import DossierRecord

SAMPLE = (
    Path(__file__).parents[3] / "contracts" / "samples" / "national" / "dossier-1-received.json"
)


def record(**changes: Any) -> DossierRecord:
    """The first national sample dossier, with ``changes`` (national names)."""
    wire = orjson.loads(SAMPLE.read_bytes())
    wire.update(changes)
    return DossierRecord.model_validate(wire)


def handover(
    options: BaseModel, forms: Mapping[str, Any] | None = None, **changes: Any
) -> HandOver:
    """A hand-over of the sample dossier on route ``r1``."""
    rec = record(**changes)
    return HandOver(
        dossier_no=rec.dossier_no,
        procedure=rec.procedure_code,
        agency=rec.dossier_no.split("-")[0],
        route="r1",
        record=rec,
        options=options,
        forms=dict(forms or {}),
    )


def context(
    name: str,
    config: SystemConfig,
    transport: httpx.BaseTransport,
    clock: Callable[[], float],
) -> SystemContext:
    """A system context whose client goes through ``transport``."""
    http = system_client(name, config, transport=transport, clock=clock)
    return SystemContext(name=name, config=config, http=http, clock=clock)
