"""XML encoding of the national packets ``DongBoHoSoMC`` and ``CapNhatTienDoHoSoMC``.

The layout is ``contracts/dvcqg-packets.xsd`` (namespace :data:`XML_NAMESPACE`): one element per
national field in the models' field order, lists as a wrapper holding repeated items. Encoding is
pure (records in, UTF-8 bytes out). Decoding goes: safe parse → libxml2's compiled XSD validator
→ our own walk of the tree into wire dicts → the pydantic models. Only when the XSD check fails
does ``xmlschema`` run, to name each broken element and rule; it is >10x slower, so it never
sits on the path of a valid packet.

Paths in violations are element paths without the root, 1-based on repeated elements:
``HoSo[1]/TaiLieuNop/TaiLieu[2]/TenTepDinhKem``; ``@isUpdating`` for the attribute. Rules match the
ones the pydantic models report for the same mistake in JSON (``missing``, ``enum``,
``wire_datetime``, ``string_too_long`` …), plus ``xml_*`` rules for what only XML can get wrong.

Safety: a DOCTYPE is refused before libxml2 sees the document (the parser would otherwise read
external DTDs and parameter entities even with ``load_dtd=False``), so entity declarations, XXE
and billion laughs never reach the parser; the input must be UTF-8 so that check reads the bytes
the parser reads.

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

from gateway.errors import ContractError, UnsafeXMLError, Violation
from gateway.mappers.errors import contract_error_from
from gateway.schemas.codes import TextBool
from gateway.schemas.envelope import SERVICE_DOSSIER_SYNC, SERVICE_PROGRESS
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.wire import WireRules

if TYPE_CHECKING:
    # Only failures need xmlschema (~0.2 s to import): the code imports it where it explains one.
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
DEFAULT_MAX_XML_BYTES = 8 * 1024 * 1024
"""A batch of a few thousand dossiers; anything larger is refused before parsing."""

_NS = "{" + XML_NAMESPACE + "}"
_M = TypeVar("_M", bound=BaseModel)
_MAX_EXPLAINED = 50  # xmlschema costs milliseconds per error: cap the work a bad packet buys


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


# --- safe parsing --------------------------------------------------------------------------------


class _RefuseExternal(etree.Resolver):
    """Answers every external fetch with nothing: a second wall behind the DOCTYPE refusal."""

    # lxml calls resolve(url, public_id, context); lxml-stubs omit the context argument.
    def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:
        return self.resolve_string("", context, base_url=None)


_per_thread = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; one per thread, built once.
    parser: etree.XMLParser | None = getattr(_per_thread, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            encoding="utf-8",  # the prolog check reads bytes: the parser must read the same
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,  # libxml2's depth and text-size limits stay on
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        parser.resolvers.add(_RefuseExternal())
        _per_thread.parser = parser
    return parser


_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]*)["']""")
_UTF8 = frozenset({b"utf-8", b"utf8"})
_ERR_UNDECLARED_ENTITY = 26  # libxml2 xmlParserErrors.XML_ERR_UNDECLARED_ENTITY


def _check_prolog(data: bytes) -> None:
    """Refuse a DOCTYPE (or any other markup declaration) and a non-UTF-8 encoding.

    Only the prolog can hold a DOCTYPE; after the root element starts, ``<!`` can only open a
    comment or CDATA, which the parser handles without any DTD machinery.
    """
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = len(data)
    while pos < end:
        if data[pos] in b" \t\r\n":
            pos += 1
        elif data.startswith(b"<?", pos):
            close = data.find(b"?>", pos)
            if close < 0:
                return  # malformed: the parser reports where
            if data.startswith(b"<?xml", pos) and data[pos + 5 : pos + 6].isspace():
                declared = _ENCODING.search(data, pos, close)
                if declared and declared.group(1).lower() not in _UTF8:
                    raise ContractError.single(
                        "",
                        "xml_encoding",
                        "packets must be UTF-8, not " + declared.group(1).decode(),
                    )
            pos = close + 2
        elif data.startswith(b"<!--", pos):
            close = data.find(b"-->", pos + 4)
            if close < 0:
                return
            pos = close + 3
        elif data.startswith(b"<!", pos):
            raise UnsafeXMLError(
                [Violation("", "xml_dtd_forbidden", "a DOCTYPE or markup declaration is refused")]
            )
        else:
            return


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> etree._Element:
    """Parse untrusted XML safely and return its root element.

    Raises ContractError ``xml_too_large`` (over ``max_bytes``), ``xml_encoding`` (not UTF-8),
    ``xml_malformed`` (with line and column); UnsafeXMLError ``xml_dtd_forbidden`` (any DOCTYPE)
    and ``xml_entity_forbidden`` (any entity reference other than the five predefined ones and
    character references). Nothing is ever fetched or expanded.
    """
    if len(data) > max_bytes:
        raise ContractError.single(
            "", "xml_too_large", f"the document is {len(data)} bytes, over the {max_bytes} limit"
        )
    _check_prolog(data)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        if getattr(exc, "code", None) == _ERR_UNDECLARED_ENTITY:
            raise UnsafeXMLError(
                [
                    Violation(
                        "", "xml_entity_forbidden", f"line {line}: entity references are refused"
                    )
                ]
            ) from None
        raise ContractError.single(
            "", "xml_malformed", f"line {line}, column {column}: {exc.msg}"
        ) from exc
    docinfo = root.getroottree().docinfo
    # Unreachable after _check_prolog, kept so a future edit of it cannot open the door.
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXMLError([Violation("", "xml_dtd_forbidden", "a DOCTYPE is refused")])
    return root


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
            raise ContractError(self._explain(root, fallback))
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

    def _explain(self, root: etree._Element, fallback: list[tuple[str, str]]) -> list[Violation]:
        violations: list[Violation] = []
        for error in self._explainer().iter_errors(root):
            violations.append(_violation(error))
            if len(violations) >= _MAX_EXPLAINED:
                break
        # Two validators of one XSD should agree; if xmlschema does not, libxml2's word stands.
        return violations or [Violation(path, "xml_schema", msg) for path, msg in fallback]


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


# --- explaining XSD failures ---------------------------------------------------------------------

# Rules named as the pydantic models name the same mistake, so JSON and XML inputs read alike.
_PATTERN_RULES = {
    "WireDateTime": "wire_datetime",
    "OptWireDateTime": "wire_datetime",
    "DossierNumber": "dossier_number_shape",
    "Amount": "amount_format",
}
_PATTERN_MESSAGES = {
    "wire_datetime": "must be yyyyMMddHHmmss on a 24-hour clock (hours 00-23), UTC+7",
    "dossier_number_shape": (
        "MaHoSo must look like <agency code>-<YYMMDD>-<NNNN>, e.g. 000.00.01.H22-250101-0001"
    ),
    "amount_format": "must be a whole number of VND, digits only",
}


def _violation(error: xmlschema.XMLSchemaValidationError) -> Violation:
    from xmlschema import XMLSchemaChildrenValidationError
    from xmlschema.validators import (
        XsdEnumerationFacets,
        XsdMaxLengthFacet,
        XsdMinLengthFacet,
        XsdPatternFacets,
    )

    # We validate lxml trees, so xmlschema hands back lxml elements (its stubs say ElementTree's).
    element = cast(etree._Element, error.elem)
    if isinstance(error, XMLSchemaChildrenValidationError):
        return _children_violation(error, element)
    validator = error.validator
    type_name = _local(getattr(getattr(validator, "parent", None), "name", None) or "")
    # The roots' only simple content is their one attribute.
    path = "@isUpdating" if element.getparent() is None else _path(element)
    if isinstance(validator, XsdEnumerationFacets):
        return Violation(path, "enum", str(error.reason))
    if isinstance(validator, XsdMaxLengthFacet):
        return Violation(path, "string_too_long", str(error.reason))
    if isinstance(validator, XsdMinLengthFacet):
        return Violation(path, "string_too_short", str(error.reason))
    if isinstance(validator, XsdPatternFacets):
        rule = _PATTERN_RULES.get(type_name, "string_pattern_mismatch")
        return Violation(path, rule, _PATTERN_MESSAGES.get(rule, str(error.reason)))
    return Violation(path, "xml_schema", str(error.reason))


def _children_violation(
    error: xmlschema.XMLSchemaChildrenValidationError, element: etree._Element
) -> Violation:
    from xmlschema.validators import XsdGroup

    parent = _path(element)
    present = {_local(child.tag) for child in element}
    for particle in error.expected or ():
        name = getattr(particle, "local_name", None)
        if name and particle.min_occurs > 0 and name not in present:
            return Violation(_join(parent, name), "missing", f"{name} is required here")
    invalid = cast("etree._Element | None", error.invalid_child)
    if invalid is None:
        return Violation(parent, "xml_schema", str(error.reason))
    name = _local(invalid.tag)
    allowed = (
        {e.local_name for e in error.validator.iter_elements()}
        if isinstance(error.validator, XsdGroup)
        else set()
    )
    if name not in allowed:
        return Violation(_path(invalid), "extra_forbidden", f"{name} is not allowed here")
    expected = ", ".join(str(getattr(p, "local_name", p)) for p in error.expected or ())
    return Violation(
        _path(invalid), "xml_element_order", f"{name} is out of order; expected {expected}"
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _path(element: etree._Element) -> str:
    """``HoSo[1]/TaiLieuNop/TaiLieu[2]`` for an element; '' for the root."""
    parts: list[str] = []
    node: etree._Element | None = element
    while node is not None and node.getparent() is not None:
        name = _local(node.tag)
        if name in _REPEATED:
            name += f"[{sum(1 for _ in node.itersiblings(node.tag, preceding=True)) + 1}]"
        parts.append(name)
        node = node.getparent()
    return "/".join(reversed(parts))


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
