"""One call of the generic REST profile: any method, a status the profile expects (a 404 for
"no such case") let through, the body read no further than a byte limit.

The framework's :func:`~gateway.connectors.ministry.post_json` posts only and treats every
non-2xx as a failure; a REST ministry says "not found" and "already exists" with statuses, so
this is its wider sibling, with the same classification (:mod:`gateway.connectors._http`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from gateway.connectors._http import status_error, transport_error
from gateway.errors import PeerAuthError, PeerReplyError

__all__ = ["JsonReply", "call_json"]


class JsonReply:
    """A reply read in full (within the limit): its status and its JSON value."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


def _read_bounded(response: httpx.Response, limit: int, *, system: str, operation: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PeerReplyError("reply_too_large", system=system, operation=operation)
    chunks: list[bytes] = []
    seen = 0
    for chunk in response.iter_bytes():
        seen += len(chunk)
        if seen > limit:
            raise PeerReplyError("reply_too_large", system=system, operation=operation)
        chunks.append(chunk)
    return b"".join(chunks)


def call_json(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    system: str,
    operation: str,
    writes: bool,
    max_bytes: int,
    json_body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    accept_statuses: frozenset[int] = frozenset(),
) -> JsonReply:
    """Send one request and read its JSON reply.

    ``url`` is relative to the client's base URL. ``writes`` says whether the call changes
    state at the peer (then a failure after sending is ``ambiguous``). A status in
    ``accept_statuses`` (a REST peer's 404 for "no such case") is returned like a 2xx, its
    body ``None`` when it is not JSON. Raises TransientPeerError, PeerAuthError (401/403),
    PermanentPeerError, PeerReplyError (``reply_too_large``, ``reply_not_json``) and
    ConfigurationError (an unusable URL).
    """
    content = None if json_body is None else orjson.dumps(json_body)
    all_headers = {"Accept": "application/json"}
    if content is not None:
        all_headers["Content-Type"] = "application/json; charset=utf-8"
    all_headers.update(headers or {})
    try:
        with client.stream(method, url, content=content, headers=all_headers) as response:
            accepted = response.status_code in accept_statuses
            if not accepted and response.status_code in (401, 403):
                # After the auth's own refresh: our credentials, never the dossier's fault.
                raise PeerAuthError(
                    f"HTTP {response.status_code}: the LGSP refused our token",
                    system=system,
                    operation=operation,
                    status=response.status_code,
                )
            if not accepted:
                failure = status_error(response, system=system, operation=operation, writes=writes)
                if failure is not None:
                    raise failure
            raw = _read_bounded(response, max_bytes, system=system, operation=operation)
    except httpx.TransportError as exc:
        raise transport_error(exc, system=system, operation=operation, writes=writes) from exc
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        if accepted:
            body = None
        else:
            raise PeerReplyError(
                "reply_not_json", system=system, operation=operation, status=response.status_code
            ) from None
    return JsonReply(response.status_code, body)
