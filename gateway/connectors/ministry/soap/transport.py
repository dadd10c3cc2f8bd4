"""zeep over httpx, synchronously: a :class:`zeep.transports.Transport` that posts through the
system's ``httpx.Client``.

Why a sync subclass and not ``zeep.AsyncClient``: the delivery core calls profiles from its
worker threads, synchronously (:class:`~gateway.connectors.ministry.MinistryProfile`); an async
client would need an event loop per call or a loop thread to hand calls to, for no gain. zeep's
own sync transport uses ``requests``, which respx cannot see and which would bypass the system's
client (its OAuth2 auth, timeouts, pool). Posting through ``httpx.Client`` gives respx and the
sandbox's in-process transport the SOAP call (SOAPAction and envelope), and one connection pool
and one token per system, as for the JSON profiles.

The transport fetches nothing: the WSDL is read from a local file once, when the profile is
built, and any remote ``load`` (an imported schema by URL) is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from zeep.transports import Transport

__all__ = ["HttpxTransport", "NotSoapStatus"]


class NotSoapStatus(Exception):
    """The reply's HTTP status is neither 200 nor 500: a SOAP service answers faults with 500,
    so this is the platform or a proxy speaking (a 503 page, a 401), classified by status."""

    def __init__(self, status: int, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class HttpxTransport(Transport):
    """Posts zeep's envelopes through ``http`` (an ``httpx.Client``); loads local files only."""

    def __init__(self, http: httpx.Client) -> None:
        # Not super().__init__(): it builds a requests.Session we never use.
        self.cache = None
        self.load_timeout = None
        self.operation_timeout = None
        self.logger = logging.getLogger(__name__)
        self._close_session = False
        self._http = http

    def post(self, address: str, message: Any, headers: dict[str, str]) -> httpx.Response:
        """POST the envelope; httpx errors and :class:`NotSoapStatus` propagate for the profile
        to classify (zeep would try to read a proxy's HTML page as a fault)."""
        response = self._http.post(address, content=message, headers=headers)
        if response.status_code not in (200, 500):
            raise NotSoapStatus(response.status_code, response.headers.get("Retry-After"))
        return response

    def get(self, address: str, params: Any, headers: dict[str, str]) -> httpx.Response:
        """GET (zeep's HTTP binding; unused by SOAP operations)."""
        return self._http.get(address, params=params, headers=headers)

    def load(self, url: str) -> bytes:
        """Read a local WSDL or schema; refuse anything remote."""
        if not url:
            raise ValueError("No url given to load")
        scheme = urlparse(url).scheme
        if scheme in ("http", "https"):
            raise ValueError(f"the WSDL client fetches nothing remote ({scheme} refused)")
        path = url.removeprefix("file://") if scheme == "file" else url
        return Path(path).expanduser().read_bytes()
