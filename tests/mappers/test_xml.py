"""The XML encoding of DongBoHoSoMC / CapNhatTienDoHoSoMC: round trips, errors, XML safety."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lxml import etree

from gateway.contracts import contracts_dir, packet_xsd, xml_codec
from gateway.errors import ContractError, UnsafeXMLError, Violation
from gateway.mappers import xml as xml_module
from gateway.mappers import xml_safety
from gateway.mappers.xml import (
    XmlCodec,
    dossiers_to_xml,
    parse_xml,
    steps_to_xml,
)
from gateway.schemas.envelope import SERVICE_DOSSIER_SYNC, SERVICE_PROGRESS
from gateway.schemas.national import DossierRecord
from gateway.schemas.wire import WireRules

SAMPLES = contracts_dir() / "samples" / "xml"
PASSWD_MARK = "root:"  # first field of /etc/passwd's first line


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.fixture(scope="module")
def codec() -> XmlCodec:
    return xml_codec()


@pytest.fixture(scope="module")
def dossiers(codec: XmlCodec) -> list[DossierRecord]:
    return codec.dossiers_from_xml(sample("dongbohosomc.xml"))


def refused(codec: XmlCodec, data: bytes) -> list[Violation]:
    with pytest.raises(ContractError) as excinfo:
        codec.dossiers_from_xml(data)
    return list(excinfo.value.violations)


def first_dossier_with(dossiers: list[DossierRecord], **changes: str) -> bytes:
    wire = {**dossiers[0].to_wire(), **changes}
    return dossiers_to_xml([DossierRecord.model_validate(wire)])


# --- round trips -------------------------------------------------------------------------------


def test_dossiers_round_trip(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """Dossier records → XML → records gives the same records."""
    assert codec.dossiers_from_xml(dossiers_to_xml(dossiers)) == dossiers


def test_steps_round_trip(codec: XmlCodec) -> None:
    """Step records → XML → records gives the same records."""
    steps = codec.steps_from_xml(sample("capnhattiendohosomc.xml"))
    assert len(steps) == 3
    assert codec.steps_from_xml(steps_to_xml(steps)) == steps


def test_updating_flag_round_trips(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """``isUpdating`` comes back as written, with the service name."""
    packet = codec.xml_to_packet(dossiers_to_xml(dossiers, updating=True))
    assert (packet.service, packet.updating) == (SERVICE_DOSSIER_SYNC, True)


def test_steps_packet_names_its_service(codec: XmlCodec) -> None:
    """A progress packet decodes as CapNhatTienDoHoSoMC with no update flag."""
    packet = codec.xml_to_packet(sample("capnhattiendohosomc.xml"))
    assert (packet.service, packet.updating, len(packet.records)) == (SERVICE_PROGRESS, False, 3)


def test_module_decoder_uses_shared_codec(dossiers: list[DossierRecord]) -> None:
    """dossiers_from_xml without a codec uses the process-wide one."""
    assert xml_module.dossiers_from_xml(dossiers_to_xml(dossiers)) == dossiers


def test_packet_unpacks_as_triple() -> None:
    """xml_to_packet's result unpacks as (service, updating, records)."""
    service, updating, records = xml_module.xml_to_packet(sample("capnhattiendohosomc.xml"))
    assert (service, updating, len(records)) == (SERVICE_PROGRESS, False, 3)


def test_threads_share_the_codec(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """Decoding from several threads at once gives every thread the right records."""
    data = dossiers_to_xml(dossiers)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: codec.dossiers_from_xml(data), range(200)))
    assert all(result == dossiers for result in results)


def test_decoded_dicts_are_the_wire_form(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """xml_to_packet yields each record's to_wire() dict, empty lists aside."""
    records = codec.xml_to_packet(dossiers_to_xml(dossiers)).records
    expected = [{k: v for k, v in d.to_wire().items() if v != []} for d in dossiers]
    assert records == expected


def test_encoded_packets_are_valid(dossiers: list[DossierRecord]) -> None:
    """What the encoder writes passes the XSD (elements in the schema's order)."""
    assert packet_xsd().validate(etree.fromstring(dossiers_to_xml(dossiers)))


def test_empty_optional_element_means_none(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """An empty optional element reads as absent, as "" does on the JSON wire."""
    data = dossiers_to_xml(dossiers[:1]).replace(
        b"<NgayTra>20250410150500</NgayTra>", b"<NgayTra/>"
    )
    assert codec.dossiers_from_xml(data)[0].returned_at is None


def test_carriage_return_survives(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """A CR LF inside a value is not normalised away by the round trip."""
    data = first_dossier_with(dossiers, GhiChu="dòng 1\r\ndòng 2")
    assert codec.dossiers_from_xml(data)[0].note == "dòng 1\r\ndòng 2"


def test_comment_inside_value_does_not_split_it(
    codec: XmlCodec, dossiers: list[DossierRecord]
) -> None:
    """Comments are dropped and the text around them joined."""
    data = dossiers_to_xml(dossiers[:1]).replace(
        b"<GhiChu>C", b"<GhiChu><!-- note -->C<![CDATA[]]>"
    )
    assert codec.dossiers_from_xml(data)[0].note == dossiers[0].note


def test_control_character_cannot_be_encoded(dossiers: list[DossierRecord]) -> None:
    """A value XML 1.0 cannot carry is refused with its path."""
    with pytest.raises(ContractError) as excinfo:
        first_dossier_with(dossiers, GhiChu="bell \x07")
    violation = excinfo.value.violations[0]
    assert (violation.path, violation.rule) == ("HoSo[1]/GhiChu", "xml_illegal_char")


def test_empty_batch_is_a_caller_error() -> None:
    """Encoding no records raises ValueError: the XSD needs at least one."""
    with pytest.raises(ValueError, match="at least one"):
        steps_to_xml([])


# --- validation errors -------------------------------------------------------------------------


def test_hour_24_names_path_and_rule(codec: XmlCodec) -> None:
    """A 24:00 timestamp fails the XSD with the element path and the wire_datetime rule."""
    (violation,) = refused(codec, sample("broken/bad-hour-24.xml"))
    assert (violation.path, violation.rule) == ("HoSo[2]/NgayHenTra", "wire_datetime")


def test_missing_element_is_named(codec: XmlCodec) -> None:
    """A missing required element is reported at its own path with rule ``missing``."""
    (violation,) = refused(codec, sample("broken/missing-mahoso.xml"))
    assert (violation.path, violation.rule) == ("HoSo[1]/MaHoSo", "missing")


def test_unknown_element_is_extra(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """An element the XSD does not know is ``extra_forbidden`` at its path."""
    data = dossiers_to_xml(dossiers).replace(b"</HoSo>", b"<Foo>x</Foo></HoSo>", 1)
    (violation,) = refused(codec, data)
    assert (violation.path, violation.rule) == ("HoSo[1]/Foo", "extra_forbidden")


def test_misplaced_element_is_out_of_order(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """A known element in the wrong place is ``xml_element_order``."""
    data = dossiers_to_xml(dossiers[:1]).replace(
        b"<MaTTHC>2.000720</MaTTHC><TenTTHC>", b"<TenTTHC>"
    )
    data = data.replace(b"</TenTTHC>", b"</TenTTHC><MaTTHC>2.000720</MaTTHC>")
    violations = refused(codec, data)
    assert (violations[0].path, violations[0].rule) == ("HoSo[1]/TenTTHC", "xml_element_order")


def test_bad_code_is_enum(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """A value outside a code table is ``enum`` at its path."""
    data = dossiers_to_xml(dossiers).replace(b"<TrangThaiHoSo>10<", b"<TrangThaiHoSo>11<")
    (violation,) = refused(codec, data)
    assert (violation.path, violation.rule) == ("HoSo[1]/TrangThaiHoSo", "enum")


def test_bad_attribute_is_enum(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """A bad ``isUpdating`` is reported on ``@isUpdating``."""
    data = dossiers_to_xml(dossiers).replace(b'isUpdating="False"', b'isUpdating="yes"')
    (violation,) = refused(codec, data)
    assert (violation.path, violation.rule) == ("@isUpdating", "enum")


def test_list_item_path_is_indexed(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """Errors inside list items carry 1-based item indexes."""
    data = dossiers_to_xml(dossiers).replace(b"<Gia>16000</Gia>", b"<Gia>-16000</Gia>")
    (violation,) = refused(codec, data)
    assert violation.path == "HoSo[2]/DanhSachLePhi/LePhi[1]/Gia"
    assert violation.rule == "amount_format"


def test_model_rules_run_after_the_xsd(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """What only the model checks (due before received) is reported with an XML path."""
    data = dossiers_to_xml(dossiers).replace(
        b"<NgayHenTra>20250410163000", b"<NgayHenTra>20240410163000"
    )
    (violation,) = refused(codec, data)
    assert (violation.path, violation.rule) == ("HoSo[1]/NgayHenTra", "due_before_received")


def test_nested_model_error_path(codec: XmlCodec, dossiers: list[DossierRecord]) -> None:
    """A model error inside a list item gets the item's element path."""
    data = dossiers_to_xml(dossiers).replace(
        b"<SoDinhDanh>048195006789", b"<SoDinhDanh>999195006789"
    )
    (violation,) = refused(codec, data)
    assert violation.path == "HoSo[2]/DinhDanhCHS/DinhDanh[1]/SoDinhDanh"
    assert violation.rule == "personal_id_province"


def test_configured_rules_apply(codec: XmlCodec) -> None:
    """WireRules passed in tighten the limits for XML input too."""
    rules = WireRules(max_lengths={"TrichYeuHoSo": 20})
    with pytest.raises(ContractError) as excinfo:
        codec.dossiers_from_xml(sample("dongbohosomc.xml"), rules=rules)
    assert {v.rule for v in excinfo.value.violations} == {"string_too_long"}


def test_steps_packet_is_not_dossiers(codec: XmlCodec) -> None:
    """Asking for dossiers from a progress packet is ``xml_wrong_service``."""
    (violation,) = refused(codec, sample("capnhattiendohosomc.xml"))
    assert violation.rule == "xml_wrong_service"


def test_root_without_namespace_is_unknown(codec: XmlCodec) -> None:
    """A root outside our namespace is ``xml_unknown_root``, not a pile of XSD errors."""
    data = sample("dongbohosomc.xml").replace(b' xmlns="urn:tthc-gateway:dvcqg:1"', b"")
    (violation,) = refused(codec, data)
    assert violation.rule == "xml_unknown_root"


# --- safe parsing ------------------------------------------------------------------------------


def test_doctype_refused() -> None:
    """A plain DOCTYPE is refused as ``xml_dtd_forbidden``."""
    with pytest.raises(UnsafeXMLError) as excinfo:
        parse_xml(b"<!DOCTYPE r><r/>")
    assert excinfo.value.violations[0].rule == "xml_dtd_forbidden"


def test_internal_entity_refused() -> None:
    """An internal entity declaration is refused with the DTD holding it."""
    with pytest.raises(UnsafeXMLError):
        parse_xml(b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>')


def test_undeclared_entity_reference_refused() -> None:
    """An entity reference without any DTD is ``xml_entity_forbidden``."""
    with pytest.raises(UnsafeXMLError) as excinfo:
        parse_xml(b"<r>&e;</r>")
    assert excinfo.value.violations[0].rule == "xml_entity_forbidden"


def test_predefined_entities_and_char_refs_allowed() -> None:
    """``&amp;``, ``&lt;`` and ``&#13;`` are plain text, not refused."""
    assert parse_xml(b"<r>&amp;&lt;&#13;</r>").text == "&<\r"


def test_xxe_refused_without_reading(codec: XmlCodec) -> None:
    """XXE is refused and nothing of /etc/passwd reaches the error."""
    with pytest.raises(UnsafeXMLError) as excinfo:
        codec.steps_from_xml(sample("broken/xxe.xml"))
    assert excinfo.value.violations[0].rule == "xml_dtd_forbidden"
    assert PASSWD_MARK not in str(excinfo.value)


def test_resolver_keeps_local_files_out(tmp_path: Path) -> None:
    """Behind the DOCTYPE refusal, the parser's resolver hands libxml2 no file to read."""
    (tmp_path / "leak.dtd").write_text('<!ENTITY leak "SECRET-MARK">')
    data = f'<!DOCTYPE r [<!ENTITY % x SYSTEM "{tmp_path.as_uri()}/leak.dtd"> %x;]><r>&leak;</r>'

    def read(guarded: bool) -> str:
        # Entity substitution on: the worst case, to show what the resolver alone prevents.
        parser = etree.XMLParser(resolve_entities=True, no_network=True, load_dtd=False)
        if guarded:
            parser.resolvers.add(xml_safety._RefuseExternal())
        try:
            return etree.tostring(etree.fromstring(data.encode(), parser), encoding="unicode")
        except etree.XMLSyntaxError as exc:
            return str(exc)

    assert "SECRET-MARK" in read(guarded=False)  # libxml2 alone reads it, load_dtd=False or not
    assert "SECRET-MARK" not in read(guarded=True)


def test_billion_laughs_refused_fast(codec: XmlCodec) -> None:
    """Billion laughs is refused in well under a second, never expanded."""
    started = time.perf_counter()
    with pytest.raises(UnsafeXMLError):
        codec.steps_from_xml(sample("broken/billion-laughs.xml"))
    assert time.perf_counter() - started < 0.1


def test_doctype_after_comment_and_bom_refused() -> None:
    """The DOCTYPE check looks past a BOM, the declaration and comments."""
    data = b'\xef\xbb\xbf<?xml version="1.0"?><!-- x --> <!DOCTYPE r [<!ENTITY e "x">]><r/>'
    with pytest.raises(UnsafeXMLError):
        parse_xml(data)


def test_utf16_document_refused() -> None:
    """A UTF-16 document (whose DOCTYPE a byte check could miss) is refused."""
    data = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'
    with pytest.raises(ContractError) as excinfo:
        parse_xml(data.encode("utf-16"))
    assert excinfo.value.violations[0].rule in {"xml_encoding", "xml_malformed"}


def test_declared_non_utf8_encoding_refused() -> None:
    """A declared encoding other than UTF-8 is ``xml_encoding``."""
    with pytest.raises(ContractError) as excinfo:
        parse_xml('<?xml version="1.0" encoding="ISO-8859-1"?><r>é</r>'.encode("latin-1"))
    assert excinfo.value.violations[0].rule == "xml_encoding"


def test_size_cap() -> None:
    """A document over ``max_bytes`` is ``xml_too_large`` before any parsing."""
    with pytest.raises(ContractError) as excinfo:
        parse_xml(b"<r>" + b"x" * 100 + b"</r>", max_bytes=64)
    assert excinfo.value.violations[0].rule == "xml_too_large"


def test_codec_applies_its_size_cap() -> None:
    """The codec's ``max_bytes`` is the cap its decoders use."""
    small = XmlCodec(packet_xsd(), lambda: pytest.fail("no explaining expected"), max_bytes=64)
    with pytest.raises(ContractError) as excinfo:
        small.xml_to_packet(sample("dongbohosomc.xml"))
    assert excinfo.value.violations[0].rule == "xml_too_large"


def test_malformed_reports_line_and_column() -> None:
    """Malformed XML is ``xml_malformed`` with the line and column of the fault."""
    with pytest.raises(ContractError) as excinfo:
        parse_xml(b"<r>\n<a>\n</b></r>")
    violation = excinfo.value.violations[0]
    assert violation.rule == "xml_malformed"
    assert violation.message.startswith("line 3, column ")


def test_samples_directory_exists() -> None:
    """The samples the tests read are where contracts_dir() says."""
    assert Path(SAMPLES, "broken").is_dir()
