"""The contract files: XSD loading, agreement with the models, JSON Schemas, samples."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import cast

import pytest
from lxml import etree
from pydantic import BaseModel
from xmlschema.validators import XsdComplexType, XsdElement, XsdGroup, XsdSimpleType

from gateway import contracts
from gateway.contracts import (
    JSON_SCHEMA_FILES,
    contracts_dir,
    packet_xmlschema,
    packet_xsd,
    reset_contracts,
    write_json_schemas,
    xml_codec,
)
from gateway.errors import ConfigurationError, ContractError
from gateway.mappers.xml import ITEM_NAMES
from gateway.schemas import codes
from gateway.schemas.national import (
    ConnectedDatabase,
    DossierRecord,
    NationalDocument,
    NationalFee,
    NationalOtherAttachment,
    NationalResultDocument,
    NationalSupplement,
    OwnerIdentifier,
    ProgressRecord,
)
from gateway.schemas.wire import DEFAULT_RULES

REPO_CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
XML_SAMPLES = ["dongbohosomc.xml", "capnhattiendohosomc.xml"]
BROKEN_SAMPLES = sorted(p.name for p in (REPO_CONTRACTS / "samples/xml/broken").glob("*.xml"))

# XSD complex type → the model it mirrors.
TYPES: dict[str, type[BaseModel]] = {
    "HoSoType": DossierRecord,
    "TienDoType": ProgressRecord,
    "DinhDanhType": OwnerIdentifier,
    "KetNoiCSDLType": ConnectedDatabase,
    "TaiLieuType": NationalDocument,
    "LePhiType": NationalFee,
    "TepDinhKemKhacType": NationalOtherAttachment,
    "HoSoBoSungType": NationalSupplement,
    "GiayToKetQuaType": NationalResultDocument,
}
# XSD code type → code table; the Opt* types also take "" (none, as on the JSON wire).
CODE_TYPES: dict[str, tuple[type[StrEnum], bool]] = {
    "DossierStatus": (codes.DossierStatus, False),
    "OptChannel": (codes.Channel, True),
    "ApplicantType": (codes.ApplicantType, False),
    "ResultDelivery": (codes.ResultDelivery, False),
    "FeeCollection": (codes.FeeCollection, False),
    "FeeType": (codes.FeeType, False),
    "IdentifierType": (codes.IdentifierType, False),
    "OptOnlinePayment": (codes.OnlinePayment, True),
    "OptFlag": (codes.Flag, True),
    "TextBool": (codes.TextBool, False),
}
LENGTH_TYPES = {
    "SummaryText": "TrichYeuHoSo",
    "HandlerText": "NguoiXuLy",
    "FileNameText": "TenTepDinhKem",
    "PaperNameText": "TenGiayTo",
}


@pytest.fixture
def fresh_contracts() -> Iterator[None]:
    reset_contracts()
    yield
    reset_contracts()


def test_contracts_dir_is_the_checkout() -> None:
    """In a source checkout the contracts come from <repo>/contracts."""
    assert contracts_dir() == REPO_CONTRACTS


def test_missing_contracts_raise_configuration_error(
    fresh_contracts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no XSD in either place, loading raises ConfigurationError."""
    monkeypatch.setattr(contracts, "_CANDIDATES", (tmp_path / "a", tmp_path / "b"))
    with pytest.raises(ConfigurationError, match="contracts not found"):
        packet_xsd()


def test_xsd_compiles_in_libxml2() -> None:
    """libxml2 compiles the XSD (the fast validator)."""
    assert isinstance(packet_xsd(), etree.XMLSchema)


def test_xsd_loads_in_xmlschema() -> None:
    """xmlschema loads the same XSD and finds both roots."""
    assert set(packet_xmlschema().elements) == {"DongBoHoSoMC", "CapNhatTienDoHoSoMC"}


def test_schemas_load_once(fresh_contracts: None) -> None:
    """The compiled schemas and the codec are built once and shared."""
    assert packet_xsd() is packet_xsd()
    assert xml_codec() is xml_codec()


def _elements(xsd_type: object) -> list[XsdElement]:
    """The elements of a complex type's sequence (``.content`` of any other type fails)."""
    assert isinstance(xsd_type, XsdComplexType)
    group = xsd_type.content
    assert isinstance(group, XsdGroup)
    return cast("list[XsdElement]", list(group))  # the packet's sequences hold only elements


def _sequence(type_name: str) -> list[XsdElement]:
    """The elements of the packet schema's complex type ``type_name``."""
    return _elements(packet_xmlschema().types[type_name])


def _simple(type_name: str) -> XsdSimpleType:
    """The packet schema's simple type ``type_name`` (a complex one has no facets to read)."""
    xsd_type = packet_xmlschema().types[type_name]
    assert isinstance(xsd_type, XsdSimpleType)
    return xsd_type


def _enumeration(type_name: str) -> list[object]:
    """The enumeration facet of a simple type (``set(None)`` would fail the test anyway)."""
    values = _simple(type_name).enumeration
    assert values is not None
    return list(values)


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_xsd_sequence_matches_model(type_name: str) -> None:
    """Each record type lists the model's fields, in order, required where the model requires."""
    model = TYPES[type_name]
    in_xsd = [(e.local_name, e.min_occurs > 0) for e in _sequence(type_name)]
    in_model = [(f.alias, f.is_required()) for f in model.model_fields.values()]
    assert in_xsd == in_model


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_xsd_list_items_are_named_as_documented(type_name: str) -> None:
    """Every list wrapper holds repeated items named as ITEM_NAMES says."""
    for element in _sequence(type_name):
        if element.local_name is not None and element.local_name in ITEM_NAMES:
            (item,) = _elements(element.type)
            assert (item.local_name, item.max_occurs) == (ITEM_NAMES[element.local_name], None)


@pytest.mark.parametrize("type_name", sorted(CODE_TYPES))
def test_xsd_codes_match_code_tables(type_name: str) -> None:
    """Each XSD enumeration is exactly its code table (plus "" for optional ones)."""
    table, optional = CODE_TYPES[type_name]
    expected = {member.value for member in table} | ({""} if optional else set())
    assert set(_enumeration(type_name)) == expected


@pytest.mark.parametrize("type_name", sorted(LENGTH_TYPES))
def test_xsd_lengths_match_wire_defaults(type_name: str) -> None:
    """The XSD's maximum lengths are WireRules' defaults."""
    limit = DEFAULT_RULES.max_lengths[LENGTH_TYPES[type_name]]
    assert _simple(type_name).max_length == limit


def test_json_schemas_match_committed_files(tmp_path: Path) -> None:
    """The committed JSON Schemas are the models' (to regenerate: python -m gateway.contracts)."""
    written = write_json_schemas(tmp_path)
    assert sorted(p.name for p in written) == sorted(JSON_SCHEMA_FILES)
    for path in written:
        assert path.read_bytes() == (REPO_CONTRACTS / path.name).read_bytes(), path.name


def test_national_json_schema_uses_national_names() -> None:
    """National models are exported by alias (MaHoSo, not dossier_no)."""
    schema = contracts.json_schemas()["national-dossier.schema.json"]
    assert "MaHoSo" in schema["properties"]


@pytest.mark.parametrize("name", XML_SAMPLES)
def test_samples_validate_in_libxml2(name: str) -> None:
    """The XML samples pass the compiled XSD."""
    document = etree.parse(str(REPO_CONTRACTS / "samples/xml" / name))
    assert packet_xsd().validate(document)


@pytest.mark.parametrize("name", XML_SAMPLES)
def test_samples_validate_in_xmlschema(name: str) -> None:
    """The XML samples pass xmlschema too: the two validators agree."""
    assert packet_xmlschema().is_valid(str(REPO_CONTRACTS / "samples/xml" / name))


@pytest.mark.parametrize("name", BROKEN_SAMPLES)
def test_broken_samples_are_refused(name: str) -> None:
    """Every hand-broken sample is refused by the codec."""
    data = (REPO_CONTRACTS / "samples/xml/broken" / name).read_bytes()
    with pytest.raises(ContractError):
        xml_codec().xml_to_packet(data)
