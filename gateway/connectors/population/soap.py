"""The plain SOAP profile: our WSDL (``contracts/population.wsdl``), zeep's async client.

zeep builds and posts the envelope over httpx (so respx and the simulator's transport see the
call); zeep returns the raw reply (``raw_response``), which is read by the same safe parser as
the LGSP profile's (:mod:`gateway.mappers.citizen_xml`), so one set of XML defences and one
namespace check cover both profiles. The WSDL is read from a local file once, at start-up;
zeep's WSDL client can fetch nothing.
"""

from __future__ import annotations

from typing import Any

import httpx
import zeep
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from gateway.connectors._http import parse_retry_after
from gateway.connectors.population._bounded import BoundedTransport
from gateway.connectors.population.base import (
    SYSTEM,
    LookupRequest,
    fault_error,
    reply_from,
    translated,
)
from gateway.connectors.population.config import PopulationConfig
from gateway.errors import (
    ConfigurationError,
    PeerReplyError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.mappers.citizen_xml import CitizenReply

__all__ = ["SoapConnector"]

_NS = "http://dancuquocgia.bca"
_BINDING = f"{{{_NS}}}DanCuBinding"


def _no_fetch(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("the WSDL client fetches nothing", request=request)


class SoapConnector:
    """Look-ups by the configured SOAP ``operation``; ``transport`` replaces the network."""

    profile = "soap"

    def __init__(
        self, config: PopulationConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._config = config
        inner = transport if transport is not None else httpx.AsyncHTTPTransport()
        self._http = httpx.AsyncClient(
            transport=BoundedTransport(inner, config.max_reply_bytes),
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
        )
        settings = zeep.Settings(
            strict=True,
            raw_response=True,
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
            xml_huge_tree=False,
        )
        wsdl_http = httpx.Client(transport=httpx.MockTransport(_no_fetch))
        try:
            # zeep ships no type hints: its constructors are untyped calls.
            zeep_transport = AsyncTransport(client=self._http, wsdl_client=wsdl_http)  # type: ignore[no-untyped-call]
            client = zeep.AsyncClient(str(config.wsdl), transport=zeep_transport, settings=settings)  # type: ignore[no-untyped-call]
            binding = client.wsdl.bindings[_BINDING]
            self._service: Any = AsyncServiceProxy(client, binding, address=config.endpoint)  # type: ignore[no-untyped-call]
            self._service[config.operation]
        except (OSError, KeyError, AttributeError, zeep.exceptions.Error) as exc:
            raise ConfigurationError(
                f"population SOAP profile: cannot use {config.wsdl.name} with operation"
                f" {config.operation} ({type(exc).__name__})"
            ) from None
        finally:
            wsdl_http.close()

    async def look_up(self, request: LookupRequest) -> CitizenReply:
        """Call the operation for one person."""
        c = self._config
        operation = c.operation
        async with translated(operation, total_timeout=c.total_timeout):
            response = await self._service[operation](
                MaYeuCau=request.request_id,
                MaDVC=c.service_code,
                MaTichHop=c.integration_code,
                MaCanBo=c.officer_code,
                SoDinhDanh=request.id_number,
                SoCMND=request.old_id_number,
                HoVaTen=request.full_name,
                NgayThangNamSinh=request.birth_date or str(request.birth_year),
            )
            status = int(response.status_code)
            content = bytes(response.content or b"")
            if status not in (200, 500):
                raise _status_failure(status, operation, response.headers.get("Retry-After"))
            try:
                reply = reply_from(
                    content,
                    operation=operation,
                    namespace=c.reply_namespace,
                    max_bytes=c.max_reply_bytes,
                    status=status,
                )
            except PeerReplyError:
                if status == 200:
                    raise
                # A 500 that is no SOAP fault (a proxy's error page): the service is failing.
                raise _status_failure(status, operation, None) from None
            if reply.fault_code is not None:
                raise fault_error(reply.fault_code, operation=operation, status=status)
            if status != 200:
                raise _status_failure(status, operation, None)
            return reply

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


def _status_failure(status: int, operation: str, retry_after: str | None) -> Exception:
    """408, 429 and 5xx are transient (honouring ``Retry-After``); other statuses permanent."""
    if status in (408, 429) or status >= 500:
        return TransientPeerError(
            f"HTTP {status}",
            system=SYSTEM,
            operation=operation,
            status=status,
            retry_after=parse_retry_after(retry_after),
        )
    return PermanentPeerError(f"HTTP {status}", system=SYSTEM, operation=operation, status=status)
