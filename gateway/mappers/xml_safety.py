"""Safe parsing of untrusted XML: the one place the XML attack surface is handled.

Every byte of an XML packet reaches lxml through :func:`parse_xml`, so the parser settings, the
resolver and the prolog check live here and nowhere else; the codec
(:mod:`gateway.mappers.xml`) only ever sees the tree this module hands back. Keeping them apart
means a change to the packet layout cannot loosen the parser, and a review of the XML defences
reads one short file.

A DOCTYPE is refused before libxml2 sees the document (the parser would otherwise read external
DTDs and parameter entities even with ``load_dtd=False``), so entity declarations, XXE and
billion laughs never reach the parser; the input must be UTF-8 so that check reads the bytes the
parser reads. A resolver that answers every external fetch with nothing stands behind it, and
documents over :data:`DEFAULT_MAX_XML_BYTES` are refused before parsing.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from lxml import etree

from gateway.errors import ContractError, UnsafeXMLError, Violation

__all__ = ["DEFAULT_MAX_XML_BYTES", "parse_xml"]

DEFAULT_MAX_XML_BYTES = 8 * 1024 * 1024
"""A batch of a few thousand dossiers; anything larger is refused before parsing."""


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
