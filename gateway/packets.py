"""Reading packet files in any form the gateway speaks, and writing them in another.

A packet is a list of dossier records or of progress steps, in one of four shapes: provincial
JSON (our typed records), national JSON (a DVCQG envelope ``{"service", "data"}``, a list of
records or one record), or national XML (``contracts/dvcqg-packets.xsd``). The shape is detected
from the content unless the caller names it. Every problem comes back as one ``ContractError``
listing every violation found, each with its path and rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ValidationError

from gateway.errors import ContractError, Violation
from gateway.mappers import (
    contract_error_from,
    dossier_from_national,
    dossier_to_national,
    step_from_national,
    step_to_national,
)
from gateway.mappers.xml import dossiers_to_xml, steps_to_xml, xml_to_packet
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.provincial import Dossier, ProgressStep
from gateway.schemas.wire import WireRules

__all__ = ["Form", "Kind", "Packet", "read_packet", "write_packet"]


class Form(StrEnum):
    """Which record model a packet uses."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"


Kind = Literal["dossier", "step"]
Target = Literal["national", "provincial", "xml", "json"]


@dataclass(frozen=True)
class Packet:
    """Validated records of one kind, in national form (the pivot of every conversion)."""

    kind: Kind
    source_form: Form
    source_xml: bool
    records: list[DossierRecord] | list[ProgressRecord]
    updating: bool = False


def _detect_item(item: Any) -> tuple[Form, Kind] | None:
    if not isinstance(item, dict):
        return None
    if "MaHoSo" in item:
        return Form.NATIONAL, "step" if "ThoiDiemXuLy" in item else "dossier"
    if "dossier_no" in item:
        return Form.PROVINCIAL, "step" if "handled_at" in item else "dossier"
    return None


_SERVICE_KIND: dict[str, Kind] = {"DongBoHoSoMC": "dossier", "CapNhatTienDoHoSoMC": "step"}


def read_packet(
    data: bytes,
    *,
    form: Form | None = None,
    kind: Kind | None = None,
    rules: WireRules | None = None,
    source: str | None = None,
) -> Packet:
    """Parse, detect, validate and map ``data`` to national records.

    Raises ``ContractError`` (``UnsafeXMLError`` for XML tricks) listing every violation.
    """
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        service, updating, items = xml_to_packet(data)
        xml_kind = _SERVICE_KIND[service]
        return _validate(items, Form.NATIONAL, kind or xml_kind, rules, source, True, updating)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ContractError([Violation("", "json_malformed", str(exc))], source=source) from None
    updating = False
    envelope_kind: Kind | None = None
    if isinstance(doc, dict) and "data" in doc and "service" in doc:
        envelope_kind = _SERVICE_KIND.get(str(doc["service"]))
        if envelope_kind is None:
            raise ContractError.single(
                "service", "unknown_service", f"service {doc['service']!r} carries no records"
            )
        updating = str(doc.get("isUpdating", "False")) == "True"
        doc = doc["data"]
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise ContractError.single("", "empty_packet", "the packet holds no records")
    detected = _detect_item(items[0])
    if detected is None and (form is None or (kind is None and envelope_kind is None)):
        raise ContractError.single(
            "0",
            "unknown_form",
            "cannot tell the form: a record needs MaHoSo (national) or dossier_no (provincial);"
            " or give --form and --kind",
        )
    det_form, det_kind = detected or (Form.NATIONAL, "dossier")
    chosen_kind = kind or envelope_kind or det_kind
    return _validate(items, form or det_form, chosen_kind, rules, source, False, updating)


def _validate(
    items: Sequence[Any],
    form: Form,
    kind: Kind,
    rules: WireRules | None,
    source: str | None,
    from_xml: bool,
    updating: bool,
) -> Packet:
    violations: list[Violation] = []
    records: list[Any] = []
    multi = len(items) > 1
    for i, item in enumerate(items):
        prefix = f"{i}." if multi else ""
        try:
            records.append(_one(item, form, kind, rules))
        except ValidationError as exc:
            violations.extend(contract_error_from(exc, prefix=prefix).violations)
        except ContractError as exc:
            violations.extend(Violation(prefix + v.path, v.rule, v.message) for v in exc.violations)
    if violations:
        raise ContractError(violations, source=source)
    return Packet(kind, form, from_xml, records, updating)


def _one(item: Any, form: Form, kind: Kind, rules: WireRules | None) -> BaseModel:
    if form is Form.NATIONAL:
        model: type[BaseModel] = DossierRecord if kind == "dossier" else ProgressRecord
        return model.model_validate(item, context=rules)
    if kind == "dossier":
        return dossier_to_national(Dossier.model_validate(item), rules=rules)
    return step_to_national(ProgressStep.model_validate(item), rules=rules)


def write_packet(packet: Packet, target: Target) -> bytes:
    """Render a packet: ``national``/``json`` (DVCQG envelope-free JSON list), ``provincial``
    (our typed JSON), or ``xml`` (national XML)."""
    if target == "xml":
        if packet.kind == "dossier":
            return dossiers_to_xml(packet.records, updating=packet.updating)  # type: ignore[arg-type]
        return steps_to_xml(packet.records)  # type: ignore[arg-type]
    if target == "provincial":
        items: list[dict[str, Any]] = [
            (
                dossier_from_national(r) if isinstance(r, DossierRecord) else step_from_national(r)
            ).model_dump(mode="json", exclude_none=True)
            for r in packet.records
        ]
    else:
        items = [r.to_wire() for r in packet.records]
    return orjson.dumps(items, option=orjson.OPT_INDENT_2) + b"\n"
