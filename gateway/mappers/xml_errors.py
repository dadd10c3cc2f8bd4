"""Explaining why a packet failed the XSD: ``xmlschema`` errors as violations with element paths.

The codec (:mod:`gateway.mappers.xml`) validates with libxml2's compiled XSD, which is fast but
reports little more than "invalid". Only when that check fails does this module run the same XSD
through ``xmlschema`` to name each broken element and rule. It is separate because it is the one
user of ``xmlschema`` (~0.2 s to import, >10x slower to validate, so imported inside the functions
that need it), it runs only on packets that have already failed, and it never sits on the path of
a valid packet.

Paths and rule names follow the convention in :mod:`gateway.mappers.xml`: element paths without
the root, 1-based on repeated elements, and the rule names the pydantic models use for the same
mistake in JSON. Which elements repeat is the codec's layout, so the caller passes it in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from lxml import etree

from gateway.errors import Violation

if TYPE_CHECKING:
    # Only failures need xmlschema (~0.2 s to import): the code imports it where it explains one.
    import xmlschema

__all__ = ["explain_schema_errors"]

_MAX_EXPLAINED = 50  # xmlschema costs milliseconds per error: cap the work a bad packet buys


def explain_schema_errors(
    schema: xmlschema.XMLSchema,
    root: etree._Element,
    fallback: list[tuple[str, str]],
    *,
    repeated: frozenset[str],
) -> list[Violation]:
    """The violations of ``root``, a tree libxml2 has already found invalid against ``schema``.

    ``repeated`` names the elements numbered in paths (``HoSo[1]``). At most 50 violations; if
    ``xmlschema`` finds none, ``fallback`` (libxml2's path and message pairs) is reported instead.
    """
    violations: list[Violation] = []
    for error in schema.iter_errors(root):
        violations.append(_violation(error, repeated))
        if len(violations) >= _MAX_EXPLAINED:
            break
    # Two validators of one XSD should agree; if xmlschema does not, libxml2's word stands.
    return violations or [Violation(path, "xml_schema", msg) for path, msg in fallback]


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


def _violation(error: xmlschema.XMLSchemaValidationError, repeated: frozenset[str]) -> Violation:
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
        return _children_violation(error, element, repeated)
    validator = error.validator
    type_name = _local(getattr(getattr(validator, "parent", None), "name", None) or "")
    # The roots' only simple content is their one attribute.
    path = "@isUpdating" if element.getparent() is None else _path(element, repeated)
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
    error: xmlschema.XMLSchemaChildrenValidationError,
    element: etree._Element,
    repeated: frozenset[str],
) -> Violation:
    from xmlschema.validators import XsdGroup

    parent = _path(element, repeated)
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
        return Violation(_path(invalid, repeated), "extra_forbidden", f"{name} is not allowed here")
    expected = ", ".join(str(getattr(p, "local_name", p)) for p in error.expected or ())
    return Violation(
        _path(invalid, repeated),
        "xml_element_order",
        f"{name} is out of order; expected {expected}",
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _path(element: etree._Element, repeated: frozenset[str]) -> str:
    """``HoSo[1]/TaiLieuNop/TaiLieu[2]`` for an element; '' for the root."""
    parts: list[str] = []
    node: etree._Element | None = element
    while node is not None and node.getparent() is not None:
        name = _local(node.tag)
        if name in repeated:
            name += f"[{sum(1 for _ in node.itersiblings(node.tag, preceding=True)) + 1}]"
        parts.append(name)
        node = node.getparent()
    return "/".join(reversed(parts))
