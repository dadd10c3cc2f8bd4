"""XML encoding of the national packets ``DongBoHoSoMC`` and ``CapNhatTienDoHoSoMC``.

The layout is ``contracts/dvcqg-packets.xsd`` (namespace :data:`XML_NAMESPACE`): one element per
national field in the models' field order, lists as a wrapper holding repeated items. Encoding is
pure (records in, UTF-8 bytes out). Decoding goes: safe parse → libxml2's compiled XSD validator
→ our own walk of the tree into wire dicts → the pydantic models.

This module is the codec only; the two concerns around it have modules of their own:

- :mod:`gateway.mappers.xml_safety` parses untrusted bytes (:func:`parse_xml`, re-exported here)
  and is the one place the XML attack surface (DOCTYPE, entities, external fetches, size,
  encoding) is handled, so the codec never touches a parser setting.
- :mod:`gateway.mappers.xml_errors` explains a packet that failed the XSD, with ``xmlschema``;
  it is >10x slower, so it never sits on the path of a valid packet.

Paths in violations are element paths without the root, 1-based on repeated elements:
``HoSo[1]/TaiLieuNop/TaiLieu[2]/TenTepDinhKem``; ``@isUpdating`` for the attribute. Rules match the
ones the pydantic models report for the same mistake in JSON (``missing``, ``enum``,
``wire_datetime``, ``string_too_long`` …), plus ``xml_*`` rules for what only XML can get wrong.

Imports: :class:`XmlCodec` is given its compiled schemas, so with it this module needs only
:mod:`gateway.schemas`. The module-level decoders default to :func:`gateway.contracts.xml_codec`,
which finds the XSD file, compiles it once and caches it: a lazy import against the grain,
kept in one function (``_default_codec``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast, get_args

from lxml import etree
from pydantic import BaseModel, ValidationError

from gateway.errors import ContractError, Violation
from gateway.mappers.errors import contract_error_from
from gateway.mappers.xml_errors import explain_schema_errors
from gateway.mappers.xml_safety import DEFAULT_MAX_XML_BYTES, parse_xml
from gateway.schemas.codes import TextBool
from gateway.schemas.envelope import SERVICE_DOSSIER_SYNC, SERVICE_PROGRESS
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.wire import WireRules

if TYPE_CHECKING:
    # Only for the explainer's type: xml_errors imports xmlschema, and only when a packet fails.
    import xmlschema

__all__ = [
    "DEFAULT_MAX_XML_BYTES",
    "ITEM_NAMES",
    "XML_NAMESPACE",
    "XmlCodec",
    "XmlPacket",
    "dossiers_from_xml",
    "dossiers_to_xml",
    "parse_xml",
    "steps_from_xml",
    "steps_to_xml",
    "xml_to_packet",
]

XML_NAMESPACE = "urn:tthc-gateway:dvcqg:1"

_NS = "{" + XML_NAMESPACE + "}"
_M = TypeVar("_M", bound=BaseModel)


# --- layout: element order and list items, derived from the models ------------------------------

# Item element of each list: the list's name without "DanhSach"/"DS" (see the XSD annotation).
ITEM_NAMES: Mapping[str, str] = {
    "DinhDanhCHS": "DinhDanh",
    "DSKetNoiCSDL": "KetNoiCSDL",
    "TaiLieuNop": "TaiLieu",
    "DanhSachLePhi": "LePhi",
    "DanhSachTepDinhKemKhac": "TepDinhKemKhac",
    "DanhSachHoSoBoSung": "HoSoBoSung",
    "DanhSachGiayToKetQua": "GiayToKetQua",
    "DanhSachGiayToBoSung": "GiayToBoSung",
    "DanhSachLePhiBoSung": "LePhiBoSung",
}


@dataclass(frozen=True, slots=True)
class _Layout:
    """A record's fields in XSD order; ``lists`` maps a list field to (item name, item layout)."""

    order: tuple[str, ...]
    lists: Mapping[str, tuple[str, _Layout]]


def _layout(model: type[BaseModel]) -> _Layout:
    order: list[str] = []
    lists: dict[str, tuple[str, _Layout]] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        order.append(alias)
        if alias in ITEM_NAMES:
            (item_model,) = get_args(info.annotation)
            lists[alias] = (ITEM_NAMES[alias], _layout(item_model))
    return _Layout(tuple(order), lists)


_DOSSIER = _layout(DossierRecord)
_STEP = _layout(ProgressRecord)
# Root element → (service, layout of its records); service → its record element.
_ROOTS: Mapping[str, tuple[str, _Layout]] = {
    _NS + SERVICE_DOSSIER_SYNC: (SERVICE_DOSSIER_SYNC, _DOSSIER),
    _NS + SERVICE_PROGRESS: (SERVICE_PROGRESS, _STEP),
}
_RECORD_TAGS: Mapping[str, str] = {SERVICE_DOSSIER_SYNC: "HoSo", SERVICE_PROGRESS: "TienDo"}
# Elements numbered in violation paths (``HoSo[1]``); xml_errors is given them, not the layout.
_REPEATED = frozenset({*_RECORD_TAGS.values(), *ITEM_NAMES.values()})


# lxml keys the default namespace by None, which lxml-stubs do not allow for.
_NSMAP: Any = {None: XML_NAMESPACE}


# --- encoding ------------------------------------------------------------------------------------


def dossiers_to_xml(records: Sequence[DossierRecord], *, updating: bool = False) -> bytes:
    """A ``DongBoHoSoMC`` packet (UTF-8, with XML declaration) holding ``records``.

    Raises ValueError for an empty batch, ContractError ``xml_illegal_char`` for a value XML 1.0
    cannot carry (control characters).
    """
    root = etree.Element(_NS + SERVICE_DOSSIER_SYNC, nsmap=_NSMAP)
    root.set("isUpdating", TextBool.of(updating).value)
    return _encode(root, _RECORD_TAGS[SERVICE_DOSSIER_SYNC], _DOSSIER, records)


def steps_to_xml(records: Sequence[ProgressRecord]) -> bytes:
    """A ``CapNhatTienDoHoSoMC`` packet (UTF-8, with XML declaration) holding ``records``."""
    root = etree.Element(_NS + SERVICE_PROGRESS, nsmap=_NSMAP)
    return _encode(root, _RECORD_TAGS[SERVICE_PROGRESS], _STEP, records)


def _encode(
    root: etree._Element,
    tag: str,
    layout: _Layout,
    records: Sequence[DossierRecord | ProgressRecord],
) -> bytes:
    if not records:
        raise ValueError("a packet holds at least one record")
    for index, record in enumerate(records, 1):
        wire = record.to_wire()
        try:
            _fill(etree.SubElement(root, _NS + tag), wire, layout)
        except ValueError:
            # lxml refuses control characters; find which field, for the error only.
            path = _illegal_path(wire, layout, f"{tag}[{index}]")
            raise ContractError.single(
                path, "xml_illegal_char", "contains a character XML 1.0 cannot carry"
            ) from None
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def _fill(parent: etree._Element, wire: Mapping[str, Any], layout: _Layout) -> None:
    for name in layout.order:
        value = wire.get(name)
        if value is None or value == []:
            continue
        child = etree.SubElement(parent, _NS + name)
        listed = layout.lists.get(name)
        if listed is None:
            child.text = value
            continue
        item_tag, item_layout = _NS + listed[0], listed[1]
        for item in value:
            _fill(etree.SubElement(child, item_tag), item, item_layout)


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _illegal_path(wire: Mapping[str, Any], layout: _Layout, path: str) -> str:
    for name in layout.order:
        value = wire.get(name)
        listed = layout.lists.get(name)
        if isinstance(value, str) and _XML_ILLEGAL.search(value):
            return f"{path}/{name}"
        if listed is not None and value:
            for index, item in enumerate(value, 1):
                found = _illegal_path(item, listed[1], f"{path}/{name}/{listed[0]}[{index}]")
                if found:
                    return found
    return ""


# --- decoding ------------------------------------------------------------------------------------


class XmlPacket(NamedTuple):
    """A decoded packet: the service, ``isUpdating`` (False for steps) and the wire dicts."""

    service: str
    updating: bool
    records: list[dict[str, Any]]


def _read(element: etree._Element, layout: _Layout) -> dict[str, Any]:
    # The XSD has already checked the structure, so the walk trusts it: that is what makes it fast.
    out: dict[str, Any] = {}
    cut = len(_NS)
    for child in element:
        name = child.tag[cut:]
        listed = layout.lists.get(name)
        if listed is None:
            out[name] = child.text or ""
        else:
            out[name] = [_read(item, listed[1]) for item in child]
    return out


class XmlCodec:
    """Decodes XML packets with the compiled XSD; built by :func:`gateway.contracts.xml_codec`.

    ``validator`` is libxml2's compiled schema (the fast path); ``explainer`` returns the same
    XSD loaded by ``xmlschema``, called only when a packet fails, to name paths and rules.
    Safe to share between threads.
    """

    def __init__(
        self,
        validator: etree.XMLSchema,
        explainer: Callable[[], xmlschema.XMLSchema],
        *,
        max_bytes: int = DEFAULT_MAX_XML_BYTES,
    ) -> None:
        self._validator = validator
        self._explainer = explainer
        self.max_bytes = max_bytes
        # The compiled schema keeps one error log per instance; calls must not interleave.
        self._lock = threading.Lock()

    def xml_to_packet(self, data: bytes) -> XmlPacket:
        """Parse, validate against the XSD and decode ``data`` into wire dicts.

        The dicts still need the pydantic models (calendar dates, ID checks, configured codes):
        use :meth:`dossiers_from_xml` / :meth:`steps_from_xml` unless you validate yourself.
        Raises ContractError (UnsafeXMLError for unsafe documents) listing each violation.
        """
        root = parse_xml(data, max_bytes=self.max_bytes)
        known = _ROOTS.get(root.tag)
        if known is None:
            raise ContractError.single(
                "",
                "xml_unknown_root",
                f"root must be DongBoHoSoMC or CapNhatTienDoHoSoMC in namespace {XML_NAMESPACE}",
            )
        with self._lock:
            valid = self._validator.validate(root)
            # lxml-stubs declare the error log without its __iter__.
            log = () if valid else cast(Iterable[Any], self._validator.error_log)
            fallback = [(entry.path, entry.message) for entry in log]
        if not valid:
            raise ContractError(
                explain_schema_errors(self._explainer(), root, fallback, repeated=_REPEATED)
            )
        service, layout = known
        updating = root.get("isUpdating") == TextBool.TRUE.value
        return XmlPacket(service, updating, [_read(record, layout) for record in root])

    def dossiers_from_xml(
        self, data: bytes, *, rules: WireRules | None = None
    ) -> list[DossierRecord]:
        """The dossiers of a ``DongBoHoSoMC`` packet, validated like JSON ones.

        Raises ContractError (``xml_wrong_service`` for a progress packet). The ``isUpdating``
        flag is dropped: read it from :meth:`xml_to_packet` when it matters.
        """
        return self._records(data, SERVICE_DOSSIER_SYNC, DossierRecord, rules)

    def steps_from_xml(
        self, data: bytes, *, rules: WireRules | None = None
    ) -> list[ProgressRecord]:
        """The steps of a ``CapNhatTienDoHoSoMC`` packet, validated like JSON ones."""
        return self._records(data, SERVICE_PROGRESS, ProgressRecord, rules)

    def _records(
        self, data: bytes, service: str, model: type[_M], rules: WireRules | None
    ) -> list[_M]:
        packet = self.xml_to_packet(data)
        if packet.service != service:
            raise ContractError.single(
                "", "xml_wrong_service", f"expected a {service} packet, got {packet.service}"
            )
        tag = _RECORD_TAGS[service]
        records: list[_M] = []
        violations: list[Violation] = []
        for index, wire in enumerate(packet.records, 1):
            try:
                records.append(model.model_validate(wire, context=rules))
            except ValidationError as exc:
                for v in contract_error_from(exc).violations:
                    violations.append(
                        Violation(_xml_path(f"{tag}[{index}]", v.path), v.rule, v.message)
                    )
        if violations:
            raise ContractError(violations)
        return records


def xml_to_packet(data: bytes, *, codec: XmlCodec | None = None) -> XmlPacket:
    """:meth:`XmlCodec.xml_to_packet` with ``codec``, by default the process-wide one."""
    return (codec or _default_codec()).xml_to_packet(data)


def dossiers_from_xml(
    data: bytes, *, rules: WireRules | None = None, codec: XmlCodec | None = None
) -> list[DossierRecord]:
    """:meth:`XmlCodec.dossiers_from_xml` with ``codec``, by default the process-wide one."""
    return (codec or _default_codec()).dossiers_from_xml(data, rules=rules)


def steps_from_xml(
    data: bytes, *, rules: WireRules | None = None, codec: XmlCodec | None = None
) -> list[ProgressRecord]:
    """:meth:`XmlCodec.steps_from_xml` with ``codec``, by default the process-wide one."""
    return (codec or _default_codec()).steps_from_xml(data, rules=rules)


def _default_codec() -> XmlCodec:
    # The one import against the grain (mappers → contracts): the XSD is a file that
    # gateway.contracts finds, loads once and caches. Imported here, not at the top, so this
    # module loads without it and there is no import cycle; pass ``codec=`` to stay pure.
    from gateway.contracts import xml_codec

    return xml_codec()


# --- element paths of pydantic violations -------------------------------------------------------


def _xml_path(record: str, dotted: str) -> str:
    """A pydantic location (``TaiLieuNop.0.TenTepDinhKem``) as an element path under ``record``."""
    parts = [record]
    previous = ""
    for part in dotted.split(".") if dotted else ():
        if part.isdigit() and previous in ITEM_NAMES:
            parts.append(f"{ITEM_NAMES[previous]}[{int(part) + 1}]")
        else:
            parts.append(part)
        previous = part
    return "/".join(parts)
