"""Reading the population database's reply envelope, including hostile ones."""

from __future__ import annotations

import pytest

from gateway.errors import ContractError, UnsafeXMLError
from gateway.mappers.citizen_xml import CITIZEN_NAMESPACE, read_citizen_reply

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def envelope(inner: str, *, ns: str = CITIZEN_NAMESPACE, prolog: str = "") -> bytes:
    return (
        f'{prolog}<s:Envelope xmlns:s="{SOAP}"><s:Body>'
        f'<r:TraCuuThongTinCongDanResponse xmlns:r="http://dancuquocgia.bca">'
        f'<CongdanCollection xmlns="{ns}">{inner}</CongdanCollection>'
        f"</r:TraCuuThongTinCongDanResponse></s:Body></s:Envelope>"
    ).encode()


AN = (
    "<CongDan><SoDinhDanh>001090012345</SoDinhDanh>"
    "<HoVaTen><Ho>Nguyễn</Ho><ChuDem>Văn</ChuDem><Ten>An</Ten></HoVaTen>"
    "<NgayThangNamSinh><Nam>1990</Nam><NgayThangNam>19900215</NgayThangNam></NgayThangNamSinh>"
    "<Me><HoVaTen>Trần Thị Cúc</HoVaTen></Me><Unknown>kept out</Unknown></CongDan>"
)


def rule_of(data: bytes, **kwargs: object) -> str:
    with pytest.raises(ContractError) as caught:
        read_citizen_reply(data, **kwargs)  # type: ignore[arg-type]  # test passes known kwargs
    return caught.value.violations[0].rule


def test_reads_a_citizen() -> None:
    """A CongDan becomes a Citizen; unknown children are ignored."""
    reply = read_citizen_reply(envelope(AN))
    [citizen] = reply.citizens
    assert citizen.id_number == "001090012345"
    assert citizen.name.text() == "Nguyễn Văn An"
    assert citizen.birth.date == "19900215"
    assert citizen.mother is not None
    assert citizen.mother.full_name == "Trần Thị Cúc"
    assert reply.fault_code is None


def test_an_empty_collection_is_no_one() -> None:
    """No CongDan: nobody holds the number."""
    assert read_citizen_reply(envelope("")).citizens == ()


def test_a_fault_gives_its_code_only() -> None:
    """A SOAP fault is read as its code's local part; its text is not kept."""
    data = (
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault><faultcode>s:Server</faultcode>'
        "<faultstring>lỗi 001090012345</faultstring></s:Fault></s:Body></s:Envelope>"
    ).encode()
    reply = read_citizen_reply(data)
    assert reply.fault_code == "Server"
    assert "001090012345" not in repr(reply)


def test_dtd_is_refused() -> None:
    """A DOCTYPE (entity expansion, XXE) is refused before parsing."""
    data = envelope(AN, prolog='<!DOCTYPE x [<!ENTITY a "aaaa">]>')
    with pytest.raises(UnsafeXMLError) as caught:
        read_citizen_reply(data)
    assert caught.value.violations[0].rule == "xml_dtd_forbidden"


def test_oversized_reply_is_refused() -> None:
    """A reply over max_bytes is refused before parsing."""
    data = envelope(AN * 100)
    assert rule_of(data, max_bytes=1024) == "xml_too_large"


def test_wrong_namespace_is_refused() -> None:
    """CongdanCollection outside the configured namespace is refused."""
    assert rule_of(envelope(AN, ns="http://evil.example/dancu")) == "reply_namespace"


def test_truncated_envelope_is_refused() -> None:
    """A cut-off envelope is malformed XML, without quoting it."""
    data = envelope(AN)[:-40]
    with pytest.raises(ContractError) as caught:
        read_citizen_reply(data)
    violation = caught.value.violations[0]
    assert violation.rule == "xml_malformed"
    assert "Nguyễn" not in violation.message


def test_not_an_envelope_and_no_collection() -> None:
    """Other XML, or a body without CongdanCollection, is named as such."""
    assert rule_of(b"<CongdanCollection/>") == "reply_not_envelope"
    empty = f'<s:Envelope xmlns:s="{SOAP}"><s:Body><x/></s:Body></s:Envelope>'.encode()
    assert rule_of(empty) == "reply_no_collection"
