"""Connector for the National Public Service Portal (DVCQG), adapter-style profile.

Protocol (see the domain notes, §2.1): log in with username/password for a session token, then
``POST`` JSON envelopes ``{"session", "madonvi", "service", ...params}``; every request carries the
``dstcode`` routing header. Replies are ``{"error_code", "message", "result"}``.

What the portal does not publish is configuration (:class:`DvcqgConfig`): the paths, which
``error_code`` values mean success, an expired session or "try again later", and the wording of
"already exists" and "not found" messages.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, field_validator

from gateway.connectors._http import status_error, transport_error
from gateway.connectors.base import PeerReply, WireRecord
from gateway.errors import (
    ConfigurationError,
    ContractError,
    PeerAuthError,
    PeerError,
    PermanentPeerError,
    TransientPeerError,
)

__all__ = ["DvcqgConfig", "DvcqgConnector"]

_log = logging.getLogger(__name__)

SYSTEM = "dvcqg"
_UPSERT_SERVICE = "DongBoHoSoMC"
_LOOKUP_SERVICE = "TraCuuHoSo"
_SESSION_STATUSES = frozenset({401, 403})
# Peer messages end up in errors, dead letters and logs; they may echo a personal id number or a
# phone number from the record (Decree 13/2023), so long digit runs are masked and length capped.
_LONG_DIGITS = re.compile(r"\d{9,}")
_MESSAGE_LIMIT = 300


def _fold(text: str) -> str:
    # Vietnamese text may arrive decomposed (NFD) from some systems; compare in one form.
    return unicodedata.normalize("NFC", text).casefold()


def _code(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _peer_text(value: Any) -> str:
    text = _LONG_DIGITS.sub("***", "" if value is None else str(value))
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "…"


class DvcqgConfig(BaseModel):
    """Settings for one DVCQG account; build it at the edge (CLI, app factory) and pass it in.

    Timeouts are in seconds. Code lists are compared as strings, so ``0``, ``"0"`` and ``"00"`` may
    all be listed as written in a settings file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    auth_path: str = "/api/auth"
    integration_path: str = "/api/integration"
    share_path: str = "/api/share"
    username: str = Field(min_length=1)
    password: SecretStr
    dstcode: str = Field(min_length=1)
    batch_size: int = Field(default=50, ge=1, le=1000)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    write_timeout: float = Field(default=30.0, gt=0)
    pool_timeout: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=10, ge=1)
    ca_bundle: FilePath | None = None
    success_codes: tuple[str, ...] = ("0", "00")
    session_rejected_codes: tuple[str, ...] = ("401", "-1")
    transient_codes: tuple[str, ...] = ()
    already_exists_markers: tuple[str, ...] = ("đã tồn tại",)
    not_found_markers: tuple[str, ...] = ("không tìm thấy", "không tồn tại")

    @field_validator("success_codes", "session_rejected_codes", "transient_codes", mode="before")
    @classmethod
    def _codes_as_strings(cls, value: Any) -> Any:
        if isinstance(value, list | tuple | set | frozenset):
            return tuple(_code(v) for v in value)
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local test portal)")
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            # httpx would print user:password@ in its request logs.
            raise ValueError("must not carry credentials; use username and password")
        return value.rstrip("/")

    @field_validator("auth_path", "integration_path", "share_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    code: str
    message: str
    result: tuple[Any, ...]
    ok: bool
    session_rejected: bool


class DvcqgConnector:
    """Sends dossiers and progress to DVCQG and looks dossiers up; one instance per account.

    Thread-safe: worker threads share one ``httpx.Client`` and one session token, and at most one
    thread logs in at a time. ``transport`` replaces the network (tests, in-process fakes).
    Raises :class:`ConfigurationError` when the TLS bundle cannot be loaded.
    """

    system = SYSTEM

    def __init__(self, config: DvcqgConfig, *, transport: httpx.BaseTransport | None = None):
        self._config = config
        self._success = frozenset(config.success_codes)
        self._session_codes = frozenset(config.session_rejected_codes)
        self._transient_codes = frozenset(config.transient_codes)
        self._exists_markers = tuple(_fold(m) for m in config.already_exists_markers)
        self._not_found_markers = tuple(_fold(m) for m in config.not_found_markers)
        self._session: str | None = None
        self._login_lock = threading.Lock()
        verify: ssl.SSLContext | bool = True
        if config.ca_bundle is not None:
            try:
                verify = ssl.create_default_context(cafile=str(config.ca_bundle))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(f"dvcqg: cannot load ca_bundle: {exc}") from exc
        self._client = httpx.Client(
            base_url=config.base_url,
            headers={
                "dstcode": config.dstcode,
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(
                connect=config.connect_timeout,
                read=config.read_timeout,
                write=config.write_timeout,
                pool=config.pool_timeout,
            ),
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            verify=verify,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    @property
    def max_batch(self) -> int:
        """Records per portal call (``batch_size``)."""
        return self._config.batch_size

    @property
    def max_call_seconds(self) -> float:
        """Worst case of one send: a re-login and a resend as update make up to four requests."""
        c = self._config
        return 4 * (c.connect_timeout + c.write_timeout + c.read_timeout + c.pool_timeout)

    def send(
        self,
        service: str,
        agency: str,
        records: Sequence[WireRecord],
        *,
        updating: bool = False,
    ) -> PeerReply:
        """Send ``records`` to ``service`` (``DongBoHoSoMC``, ``CapNhatTienDoHoSoMC`` …).

        The records go in batches of ``batch_size``, one call each. For ``DongBoHoSoMC`` a create
        that the portal answers with "already exists" is sent again as an update, once. Raises
        ``TransientPeerError``/``PermanentPeerError``; batches before a failing one were delivered.
        """
        size = self._config.batch_size
        results: list[Any] = []
        resent = False
        code = message = ""
        for start in range(0, len(records), size):
            reply, was_resent = self._send_batch(
                service, agency, records[start : start + size], updating
            )
            results.extend(reply.result)
            resent = resent or was_resent
            code, message = reply.code, reply.message
        return PeerReply(code, message, tuple(results), resent)

    def lookup(self, agency: str, dossier_no: str) -> Mapping[str, Any] | None:
        """Return the dossier the portal holds under ``MaHoSo`` ``dossier_no``, or ``None``.

        A reply whose message matches ``not_found_markers``, or an empty result, means ``None``.
        """
        reply = self._call(
            self._config.integration_path,
            _LOOKUP_SERVICE,
            agency,
            {"MaHoSo": dossier_no},
            writes=False,
        )
        if not reply.ok:
            if self._mentions(reply.message, self._not_found_markers):
                return None
            raise self._rejection(_LOOKUP_SERVICE, reply)
        found = [item for item in reply.result if isinstance(item, Mapping)]
        for item in found:
            if item.get("MaHoSo") == dossier_no:
                return item
        # Some deployments answer the bare record without repeating its number.
        if len(found) == 1 and "MaHoSo" not in found[0]:
            return found[0]
        return None

    def fetch(
        self,
        service: str,
        agency: str,
        params: Mapping[str, str] | None = None,
        *,
        catalogue: bool = False,
    ) -> PeerReply:
        """Run a read-only call: procedure look-ups (``LayThuTuc``) or, with ``catalogue``, the
        share endpoint's catalogues (``LayDanhMucCoQuan`` …). Raises like :meth:`send`."""
        path = self._config.share_path if catalogue else self._config.integration_path
        reply = self._call(path, service, agency, dict(params or {}), writes=False)
        if not reply.ok:
            raise self._rejection(service, reply)
        return PeerReply(reply.code, reply.message, reply.result)

    # -- one batch ---------------------------------------------------------------------------

    def _send_batch(
        self,
        service: str,
        agency: str,
        batch: Sequence[WireRecord],
        updating: bool,
    ) -> tuple[_Reply, bool]:
        params: dict[str, Any] = {
            "data": [r if isinstance(r, dict | orjson.Fragment) else dict(r) for r in batch]
        }
        upsert = service == _UPSERT_SERVICE
        if upsert:
            params["isUpdating"] = "True" if updating else "False"
        path = self._config.integration_path
        reply = self._call(path, service, agency, params, writes=True)
        if reply.ok:
            return reply, False
        if upsert and not updating and self._mentions(reply.message, self._exists_markers):
            _log.debug("dvcqg %s: already exists, resending %d as update", service, len(batch))
            params["isUpdating"] = "True"
            reply = self._call(path, service, agency, params, writes=True)
            if reply.ok:
                return reply, True
        raise self._rejection(service, reply)

    def _rejection(self, service: str, reply: _Reply, *, context: str = "") -> PeerError:
        detail = reply.message or "<no message>"
        message = f"{context}error_code={reply.code or '<none>'}: {detail}"
        peer_code = reply.code or None
        if reply.code in self._transient_codes:
            return TransientPeerError(
                message, system=SYSTEM, operation=service, status=reply.status, peer_code=peer_code
            )
        return PermanentPeerError(
            message, system=SYSTEM, operation=service, status=reply.status, peer_code=peer_code
        )

    @staticmethod
    def _mentions(message: str, markers: tuple[str, ...]) -> bool:
        folded = _fold(message)
        return any(marker in folded for marker in markers)

    # -- session and transport ---------------------------------------------------------------

    def _call(
        self, path: str, service: str, agency: str, params: dict[str, Any], *, writes: bool
    ) -> _Reply:
        """One service call, logging in again once if the portal says the session is gone."""
        # Encoded before logging in, so a record JSON cannot carry fails without any traffic,
        # and only once, however often the call is repeated.
        try:
            encoded = orjson.dumps(params)
        except TypeError as exc:
            raise ContractError.single(
                "data", "not_json_serialisable", f"{service}: {exc}"
            ) from exc
        token = self._session_token(service)
        reply = self._exchange(path, service, agency, token, encoded, writes=writes)
        if not reply.session_rejected:
            return reply
        _log.debug("dvcqg %s: session rejected, logging in again", service)
        self._forget_session(token)
        token = self._session_token(service)
        reply = self._exchange(path, service, agency, token, encoded, writes=writes)
        if reply.session_rejected:
            raise PeerAuthError(
                "session rejected again right after a fresh login (check account and dstcode)",
                system=SYSTEM,
                operation=service,
                status=reply.status,
                peer_code=reply.code or None,
            )
        return reply

    def _session_token(self, service: str) -> str:
        token = self._session
        if token is not None:
            return token
        with self._login_lock:
            # Another thread may have logged in while this one waited for the lock.
            if self._session is None:
                self._session = self._login(service)
            return self._session

    def _forget_session(self, stale: str) -> None:
        with self._login_lock:
            # Only drop the token that failed: a newer one from another thread is still good.
            if self._session == stale:
                self._session = None

    def _login(self, service: str) -> str:
        body = {
            "username": self._config.username,
            "password": self._config.password.get_secret_value(),
        }
        response = self._post(self._config.auth_path, service, orjson.dumps(body), writes=False)
        # A refused login is the gateway's configuration, never the records': PeerAuthError
        # backs delivery off instead of dead-lettering a whole backlog record by record.
        if response.status_code in _SESSION_STATUSES:
            raise PeerAuthError(
                "login refused (check username, password and dstcode)",
                system=SYSTEM,
                operation=service,
                status=response.status_code,
            )
        payload = self._decode(response, service, writes=False)
        code = _code(payload.get("error_code"))
        token = payload.get("session")
        if code not in self._success:
            message = _peer_text(payload.get("message"))
            raise PeerAuthError(
                f"login refused: {message}",
                system=SYSTEM,
                operation=service,
                status=response.status_code,
                peer_code=code,
            )
        if not isinstance(token, str) or not token:
            raise PeerAuthError(
                "login reply carries no session token",
                system=SYSTEM,
                operation=service,
                status=response.status_code,
                peer_code=code,
            )
        _log.debug("dvcqg: logged in")
        return token

    def _exchange(
        self,
        path: str,
        service: str,
        agency: str,
        token: str,
        encoded_params: bytes,
        *,
        writes: bool,
    ) -> _Reply:
        # Splice the envelope and the pre-encoded params: both are JSON objects.
        envelope = orjson.dumps({"session": token, "madonvi": agency, "service": service})
        rest = b"," + encoded_params[1:] if encoded_params != b"{}" else b"}"
        response = self._post(path, service, envelope[:-1] + rest, writes=writes)
        status = response.status_code
        if status in _SESSION_STATUSES:
            return _Reply(status, "", "", (), ok=False, session_rejected=True)
        payload = self._decode(response, service, writes=writes)
        code = _code(payload.get("error_code"))
        result = payload.get("result")
        items: tuple[Any, ...] = (
            tuple(result) if isinstance(result, list) else () if result is None else (result,)
        )
        _log.debug("dvcqg %s: HTTP %d error_code=%s items=%d", service, status, code, len(items))
        return _Reply(
            status,
            code,
            _peer_text(payload.get("message")),
            items,
            ok=code in self._success,
            session_rejected=code in self._session_codes,
        )

    def _post(self, path: str, service: str, content: bytes, *, writes: bool) -> httpx.Response:
        try:
            return self._client.post(path, content=content)
        except httpx.TransportError as exc:
            raise transport_error(exc, system=SYSTEM, operation=service, writes=writes) from exc
        except httpx.RequestError as exc:
            # A reply arrived but could not be read (bad compression, …): as for non-JSON.
            raise PermanentPeerError(
                f"unreadable reply ({type(exc).__name__}: {exc})", system=SYSTEM, operation=service
            ) from exc

    @staticmethod
    def _decode(response: httpx.Response, service: str, *, writes: bool) -> dict[str, Any]:
        """The reply's JSON object; non-2xx statuses and non-JSON bodies raise."""
        failure = status_error(response, system=SYSTEM, operation=service, writes=writes)
        if failure is not None:
            raise failure
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            kind = response.headers.get("Content-Type", "no content type")
            raise PermanentPeerError(
                f"reply is not JSON ({kind})",
                system=SYSTEM,
                operation=service,
                status=response.status_code,
            ) from exc
        if not isinstance(payload, dict):
            raise PermanentPeerError(
                f"reply is JSON {type(payload).__name__}, not an object",
                system=SYSTEM,
                operation=service,
                status=response.status_code,
            )
        return payload
