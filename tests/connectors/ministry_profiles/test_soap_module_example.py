"""The README's "A SOAP ministry with its own WSDL" module, run as written against a WSDL with
other names: the small-module story holds (hooks, defaults, fault classes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from gateway.connectors.ministry import CaseRef, CaseState, NoOptions, SystemConfig, SystemContext
from gateway.connectors.ministry.profile import PROFILES
from gateway.errors import PermanentPeerError

from ._helpers import handover

README = Path(__file__).parents[3] / "README.md"
WSDL = Path(__file__).with_name("moc-land.wsdl")
ENDPOINT = "http://moc.test/land"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _module() -> dict[str, Any]:
    text = README.read_text(encoding="utf-8")
    section = text.split("**A SOAP ministry with its own WSDL", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README:moc_land", "exec"), namespace)  # noqa: S102 - our README's code
    return namespace


def _reply(inner: str) -> httpx.Response:
    body = (
        f'<soap:Envelope xmlns:soap="{ENV}" xmlns:m="urn:moc"><soap:Body>{inner}'
        "</soap:Body></soap:Envelope>"
    )
    return httpx.Response(200, text=body, headers={"Content-Type": "text/xml"})


@respx.mock
def test_readme_soap_module_speaks_another_wsdl() -> None:
    """The module maps our hand-over to GuiHoSo, reads its id, and polls TraCuu/KetQua."""
    module = _module()
    try:
        config = SystemConfig(
            base_url=ENDPOINT,
            options={
                "agency_code": "000.00.01.H22",
                "wsdl": str(WSDL),
                "binding": "{urn:moc}LandBinding",
                "operations": {"submit": "GuiHoSo", "status": "TraCuu", "result": "KetQua"},
                "statuses": {"1": "received", "9": "completed"},
            },
        )
        route = respx.post(ENDPOINT).mock(
            side_effect=[
                _reply(
                    "<m:GuiHoSoResponse><m:maHoSoDatDai>DD-7</m:maHoSoDatDai></m:GuiHoSoResponse>"
                ),
                _reply(
                    "<m:TraCuuResponse><m:TrangThai>9</m:TrangThai>"
                    "<m:ThoiDiemCapNhat>20251201110500</m:ThoiDiemCapNhat></m:TraCuuResponse>"
                ),
                _reply(
                    "<m:KetQuaResponse><m:SoKetQua>GCN-1</m:SoKetQua>"
                    "<m:NgayCap>20251201110500</m:NgayCap></m:KetQuaResponse>"
                ),
            ]
        )
        with httpx.Client() as http:
            system = SystemContext(name="moc", config=config, http=http, clock=lambda: 0.0)
            profile = module["build"](system)
            ho = handover(NoOptions())
            ref = profile.hand_over(ho)
            assert ref == CaseRef(ho.dossier_no, case_id="DD-7")
            sent = route.calls[0].request
            assert sent.headers["SOAPAction"] == '"urn:moc#GuiHoSo"'
            assert f"<ns0:soBienNhan>{ho.dossier_no}</ns0:soBienNhan>" in sent.content.decode()
            status = profile.find(ref)
        assert status is not None
        assert status.state is CaseState.COMPLETED
        assert status.result is not None
        assert status.result.number == "GCN-1"
        assert profile.operation == "GuiHoSo"
    finally:
        PROFILES.pop("moc_land", None)


@respx.mock
def test_readme_soap_module_keeps_the_base_fault_classes() -> None:
    """A Client fault from the other ministry is permanent through the module, unchanged."""
    module = _module()
    try:
        config = SystemConfig(
            base_url=ENDPOINT,
            options={
                "agency_code": "X",
                "wsdl": str(WSDL),
                "binding": "{urn:moc}LandBinding",
                "operations": {"submit": "GuiHoSo", "status": "TraCuu", "result": "KetQua"},
            },
        )
        fault = (
            f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body><soap:Fault><faultcode>soap:Client'
            "</faultcode><faultstring>x</faultstring></soap:Fault></soap:Body></soap:Envelope>"
        )
        respx.post(ENDPOINT).respond(500, text=fault, headers={"Content-Type": "text/xml"})
        with httpx.Client() as http:
            system = SystemContext(name="moc", config=config, http=http, clock=lambda: 0.0)
            with pytest.raises(PermanentPeerError):
                module["build"](system).hand_over(handover(NoOptions()))
    finally:
        PROFILES.pop("moc_land", None)
