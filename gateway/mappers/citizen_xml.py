"""Read the population database's reply: a SOAP envelope whose body holds ``CongdanCollection``.

Both connector profiles end here (the LGSP profile carries the envelope inside a JSON
``message``; the SOAP profile receives it as the HTTP body), so the reply of either is parsed
by :func:`gateway.mappers.xml_safety.parse_xml` (no DTD, no entities, bounded size) and checked
the same way. Errors are :class:`~gateway.errors.ContractError` with a stable rule and messages
that never quote the reply's content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree
from pydantic import ValidationError

from gateway.errors import ContractError
from gateway.mappers.xml_safety import parse_xml
from gateway.schemas.citizen import Citizen

__all__ = ["CITIZEN_NAMESPACE", "SOAP_NAMESPACES", "CitizenReply", "read_citizen_reply"]

CITIZEN_NAMESPACE = "http://www.mic.gov.vn/dancu/1.0"
"""Where deployed replies put ``CongdanCollection`` (national-formats.md §3)."""

SOAP_NAMESPACES = frozenset(
    {"http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"}
)
_MAX_DEPTH = 8  # CongDan > ThuongTru > MaTinhThanh is 3; anything much deeper is not a record


@dataclass(frozen=True, slots=True)
class CitizenReply:
    """What the database said: the citizens found (none: no such person), or a SOAP fault.

    ``fault_code`` is the local part of ``faultcode`` (``Server``, ``Client`` …); the fault's
    text is not kept, since it is the peer's free text.
    """

    citizens: tuple[Citizen, ...] = ()
    fault_code: str | None = None


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _ns(element: etree._Element) -> str | None:
    return etree.QName(element).namespace


def _value(element: etree._Element, depth: int = 0) -> Any:
    """An element as text (a leaf) or a dict of its children by local name (the first wins)."""
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return (element.text or "").strip() or None
    if depth >= _MAX_DEPTH:
        raise ContractError.single("CongDan", "reply_too_deep", "the citizen record nests too deep")
    out: dict[str, Any] = {}
    for child in children:
        out.setdefault(_local(child), _value(child, depth + 1))
    return out


def _fault_code(fault: etree._Element) -> str:
    for child in fault.iter():
        if isinstance(child.tag, str) and _local(child) in ("faultcode", "Value"):
            code = (child.text or "").strip()
            return code.rpartition(":")[2] or "unknown"
    return "unknown"


def read_citizen_reply(
    data: bytes, *, namespace: str = CITIZEN_NAMESPACE, max_bytes: int = 1024 * 1024
) -> CitizenReply:
    """Parse a reply envelope into citizens or a fault.

    Raises ContractError with rule ``xml_too_large``, ``xml_encoding``, ``xml_malformed`` (a
    truncated envelope), ``xml_dtd_forbidden``/``xml_entity_forbidden`` (UnsafeXMLError),
    ``reply_not_envelope``, ``reply_no_body``, ``reply_no_collection``, ``reply_namespace``
    (the collection is not in ``namespace``), ``reply_too_deep`` or ``reply_citizen_invalid``.
    """
    root = parse_xml(data, max_bytes=max_bytes)
    if _local(root) != "Envelope" or _ns(root) not in SOAP_NAMESPACES:
        raise ContractError.single("", "reply_not_envelope", "the reply is not a SOAP envelope")
    body = next((c for c in root if isinstance(c.tag, str) and _local(c) == "Body"), None)
    if body is None or _ns(body) != _ns(root):
        raise ContractError.single("Envelope", "reply_no_body", "the envelope has no SOAP Body")
    for child in body:
        if isinstance(child.tag, str) and _local(child) == "Fault" and _ns(child) == _ns(root):
            return CitizenReply(fault_code=_fault_code(child))
    collection = next(
        (e for e in body.iter() if isinstance(e.tag, str) and _local(e) == "CongdanCollection"),
        None,
    )
    if collection is None:
        raise ContractError.single(
            "Envelope.Body", "reply_no_collection", "the body holds no CongdanCollection"
        )
    if _ns(collection) != namespace:
        raise ContractError.single(
            "Envelope.Body.CongdanCollection",
            "reply_namespace",
            f"CongdanCollection must be in namespace {namespace}",
        )
    citizens: list[Citizen] = []
    for index, element in enumerate(collection):
        if not isinstance(element.tag, str):
            continue
        if _local(element) != "CongDan" or _ns(element) != namespace:
            raise ContractError.single(
                f"CongdanCollection.{index}",
                "reply_namespace",
                f"CongdanCollection may only hold CongDan elements of namespace {namespace}",
            )
        value = _value(element)
        try:
            citizens.append(Citizen.model_validate(value if isinstance(value, dict) else {}))
        except ValidationError as exc:
            field = ".".join(str(p) for p in exc.errors()[0]["loc"])
            raise ContractError.single(
                f"CongdanCollection.{index}.{field}",
                "reply_citizen_invalid",
                "the citizen record does not have the expected shape",
            ) from None
    return CitizenReply(citizens=tuple(citizens))
