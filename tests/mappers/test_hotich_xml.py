"""The civil-status registration ↔ its XML document (gateway/mappers/hotich_xml.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import ContractError, UnsafeXMLError
from gateway.mappers.hotich_xml import (
    build_registration_xml,
    read_registration_xml,
    registration_from_dossier,
)
from gateway.schemas import DossierRecord
from gateway.schemas.hotich import HoTichModule, HoTichRegistration, HoTichRequester

from .strategies import national_dossier_dicts

# Text XML 1.0 can carry: no control characters but tab and newline, no surrogates. Carriage
# returns are included: lxml writes them as &#13; so they survive the parser's newline rule.
_xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\t\n\r"),
    max_size=40,
)
_nonempty = _xml_text.filter(lambda s: len(s) > 0)
_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True)

# Through a lambda: st.builds(Model, ...) would also infer the aliased required fields.
registrations = st.builds(
    lambda **kw: HoTichRegistration(**kw),
    dossier_no=_nonempty,
    module=st.sampled_from(HoTichModule),
    procedure_code=_nonempty,
    received_on=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    requester=st.builds(
        lambda **kw: HoTichRequester(**kw),
        full_name=_nonempty,
        paper_no=st.none() | _xml_text,
        phone=st.none() | _xml_text,
        email=st.none() | _xml_text,
    ),
    summary=st.none() | _xml_text,
    details=st.lists(st.tuples(_names, _xml_text), max_size=5).map(tuple),
    documents=st.lists(st.tuples(_nonempty, st.none() | _xml_text), max_size=3).map(tuple),
)


@settings(max_examples=200)
@given(registrations)
def test_registration_round_trips_through_xml(registration: HoTichRegistration) -> None:
    """Whatever the registration holds comes back unchanged from its XML document."""
    assert read_registration_xml(build_registration_xml(registration)) == registration


def _sample() -> HoTichRegistration:
    return HoTichRegistration(
        dossier_no="000.00.01.H22-250314-0001",
        module=HoTichModule.BIRTH,
        procedure_code="1.001193",
        received_on=date(2025, 3, 14),
        requester=HoTichRequester(full_name="Nguyễn Văn A", paper_no="001085012345"),
        details=(("tenTre", "Nguyễn Văn B"), ("ngaySinh", "01/03/2025")),
        documents=(("Tờ khai đăng ký khai sinh", "https://files.example/1.pdf"),),
    )


def test_document_is_utf8_with_national_names() -> None:
    """The document declares UTF-8 and carries the dates as dd/mm/yyyy."""
    xml = build_registration_xml(_sample())
    assert xml.startswith("<?xml version='1.0' encoding='UTF-8'?>")
    assert "<ngayTiepNhan>14/03/2025</ngayTiepNhan>" in xml
    assert "<module>KS</module>" in xml
    assert "<tenTre>Nguyễn Văn B</tenTre>" in xml


def test_markup_in_values_is_escaped() -> None:
    """A value that looks like markup stays text."""
    reg = _sample().model_copy(update={"summary": "</trichYeu><x>&amp;"})
    xml = build_registration_xml(reg)
    assert "<x>" not in xml
    assert read_registration_xml(xml).summary == "</trichYeu><x>&amp;"


def test_control_character_is_refused_naming_the_field() -> None:
    """A character XML cannot carry is a contract error on its field, not a crash."""
    reg = _sample().model_copy(update={"summary": "a\x01b"})
    with pytest.raises(ContractError) as info:
        build_registration_xml(reg)
    assert info.value.violations[0].path == "trichYeu"
    assert info.value.violations[0].rule == "xml_char"


def test_doctype_is_refused_when_read() -> None:
    """A document with a DTD (entity expansion) is refused, never expanded."""
    evil = (
        '<?xml version="1.0"?><!DOCTYPE hoSo [<!ENTITY x "boom">]><hoSo><maHoSo>&x;</maHoSo></hoSo>'
    )
    with pytest.raises(UnsafeXMLError):
        read_registration_xml(evil)


def test_other_root_is_refused() -> None:
    """Only a <hoSo> document is a registration."""
    with pytest.raises(ContractError) as info:
        read_registration_xml("<other/>")
    assert info.value.violations[0].rule == "xml_root"


def test_missing_field_is_named() -> None:
    """A registration without its number names ``maHoSo``."""
    xml = build_registration_xml(_sample()).replace(
        "<maHoSo>000.00.01.H22-250314-0001</maHoSo>", ""
    )
    with pytest.raises(ContractError) as info:
        read_registration_xml(xml)
    assert any(v.path == "maHoSo" for v in info.value.violations)


def test_bad_date_is_named() -> None:
    """``ngayTiepNhan`` must be dd/mm/yyyy."""
    xml = build_registration_xml(_sample()).replace("14/03/2025", "2025-03-14")
    with pytest.raises(ContractError) as info:
        read_registration_xml(xml)
    assert info.value.violations[0].path == "ngayTiepNhan"


_SAMPLES = Path(__file__).parents[2] / "contracts" / "samples" / "national"


@settings(max_examples=50)
@given(national_dossier_dicts())
def test_registration_from_any_owned_dossier(wire: dict[str, object]) -> None:
    """A dossier with an owner becomes a registration carrying its number and its live files."""
    wire["ChuHoSo"] = "Trần Thị C"
    record = DossierRecord.model_validate(wire)
    reg = registration_from_dossier(record, module=HoTichModule.DEATH, details={"a": "b"})
    assert reg.dossier_no == record.dossier_no
    assert reg.requester.full_name == "Trần Thị C"
    assert reg.details == (("a", "b"),)
    live = [d for d in record.documents if d.deleted.value == "False"]
    assert len(reg.documents) == len(live)
    assert read_registration_xml(build_registration_xml(reg)) == reg


def test_dossier_without_owner_is_refused() -> None:
    """The ministry needs the requester's name: a dossier without ``ChuHoSo`` is refused."""
    sample = next(_SAMPLES.glob("*.json"))
    data = orjson.loads(sample.read_bytes())
    wire = data[0] if isinstance(data, list) else data.get("data", [data])[0]
    wire.pop("ChuHoSo", None)
    record = DossierRecord.model_validate(wire)
    with pytest.raises(ContractError) as info:
        registration_from_dossier(record, module=HoTichModule.BIRTH)
    assert any(v.path.startswith("nguoiYeuCau") for v in info.value.violations)
