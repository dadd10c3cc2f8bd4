"""Connector for the National Public Service Portal (DVCQG), adapter-style profile.

Protocol (see the domain notes, §2.1): log in with username/password for a session token, then
``POST`` JSON envelopes ``{"session", "madonvi", "service", ...params}``; every request carries the
``dstcode`` routing header. Replies are ``{"error_code", "message", "result"}``.

What the portal does not publish is configuration (:class:`DvcqgConfig`): the paths, which
``error_code`` values mean success, an expired session or "try again later", and the wording of
"already exists" and "not found" messages.
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
import threading
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, field_validator

from gateway.connectors._http import status_error, transport_error
from gateway.connectors.base import ChannelSpec, Entry, Item, Mode, PeerReply
from gateway.connectors.registry import PeerType
from gateway.errors import (
    ConfigurationError,
    ContractError,
    PeerAuthError,
    PeerError,
    PermanentPeerError,
    TransientPeerError,
)

if TYPE_CHECKING:
    from gateway.schemas.national import DossierRecord, ProgressRecord

__all__ = ["RATINGS_CHANNEL", "DvcqgConfig", "DvcqgConnector", "Service", "entries"]

WireRecord = Mapping[str, Any] | orjson.Fragment
"""A national record: a mapping, or its JSON already encoded (``orjson.Fragment``)."""

_log = logging.getLogger(__name__)

SYSTEM = "dvcqg"
_UPSERT_SERVICE = "DongBoHoSoMC"
_PROGRESS_SERVICE = "CapNhatTienDoHoSoMC"
_RATINGS_SERVICE = "DongBoDanhGia"
RATINGS_CHANNEL = f"{SYSTEM}.{_RATINGS_SERVICE}"
"""Monthly satisfaction summaries, one latest-state subject per agency, month and procedure."""
_LOOKUP_SERVICE = "TraCuuHoSo"


class Service(StrEnum):
    """The DVCQG services the gateway delivers; each value is the id of its channel."""

    DOSSIER = f"{SYSTEM}.{_UPSERT_SERVICE}"
    PROGRESS = f"{SYSTEM}.{_PROGRESS_SERVICE}"

    @property
    def national_name(self) -> str:
        """The DVCQG service name."""
        return self.value.split(".", 1)[1]

    @classmethod
    def from_national(cls, name: str) -> Service:
        """The service for a DVCQG service name; ValueError for any other."""
        for service in cls:
            if service.national_name == name:
                return service
        raise ValueError(f"not a delivered service: {name}")


def entries(
    service: Service,
    records: Sequence[DossierRecord] | Sequence[ProgressRecord],
    flags: Sequence[Sequence[str]] | None = None,
) -> list[Entry]:
    """The outbox entries for accepted DVCQG records (subject: ``MaHoSo``).

    One Rust call gives the stored body; equal records give equal bytes (fields in model order),
    so the body's digest is the record's fingerprint. A step is ordered by ``ThoiDiemXuLy``; a
    dossier state by its newest event time (:attr:`DossierRecord.version`), so that an older
    state arriving after a newer one is refused as stale. ``flags[i]`` are the intake rules
    record ``i`` raised (stored with it).
    """
    out: list[Entry] = []
    for rec in records:
        body = rec.__pydantic_serializer__.to_json(rec, by_alias=True, exclude_none=True)
        order = rec.handled_at if service is Service.PROGRESS else rec.version  # type: ignore[union-attr]  # the service says which model it is
        out.append(
            Entry(
                subject=rec.dossier_no,
                fingerprint=hashlib.sha256(body).hexdigest()[:32],
                body=body,
                order=int(order),
                status=rec.status.value,
                flags=() if flags is None else tuple(flags[len(out)]),
            )
        )
    return out


def _norm(field: str, value: Any) -> str:
    text = _fold("" if value is None else str(value)).strip()
    if field.startswith(("ThoiDiem", "Ngay")):
        # Dates may come back formatted ("2025-01-02 09:00:00"): compare their digits.
        return "".join(ch for ch in text if ch.isdigit())
    return text


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
    session_rejected_codes: tuple[str, ...] = ()
    """``error_code`` values that mean "session expired". None by default: ``-1`` is the
    portal's generic failure, and an expired session is HTTP 401/403."""
    session_expired_markers: tuple[str, ...] = ()
    """Message wording that means "session expired" (compared case- and accent-folded)."""
    transient_codes: tuple[str, ...] = ()
    already_exists_markers: tuple[str, ...] = ("đã tồn tại",)
    not_found_markers: tuple[str, ...] = ("không tìm thấy", "không tồn tại")
    lookup_param: str = Field(default="mahoso", min_length=1)
    """How ``TraCuuHoSo`` names the dossier number (lowercase in public implementers' code)."""
    step_list_fields: tuple[str, ...] = ("TienDo", "QuaTrinhXuLy", "DanhSachTienDo")
    """Where a ``TraCuuHoSo`` reply lists the steps the portal holds (not public)."""
    step_identity_fields: tuple[str, ...] = (
        "ThoiDiemXuLy",
        "TrangThai",
        "NoiDungXuLy",
        "NguoiXuLy",
    )
    """What identifies a step at the portal; a look-up matches only on those its echo carries."""

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
        self._expired_markers = tuple(_fold(m) for m in config.session_expired_markers)
        self.channels: tuple[ChannelSpec, ...] = (
            ChannelSpec(
                SYSTEM, _UPSERT_SERVICE, Mode.LATEST, max_batch=config.batch_size, guarded=True
            ),
            ChannelSpec(
                SYSTEM,
                _PROGRESS_SERVICE,
                Mode.APPEND,
                max_batch=config.batch_size,
                after=Service.DOSSIER.value,
                guarded=True,
            ),
            ChannelSpec(SYSTEM, _RATINGS_SERVICE, Mode.LATEST, max_batch=config.batch_size),
        )
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

    def send(self, channel: ChannelSpec, partition: str, items: Sequence[Item]) -> PeerReply:
        """Deliver one claimed batch: ``partition`` is the agency (``madonvi``); a dossier whose
        subject exists at the portal goes as an update."""
        records = [orjson.Fragment(i.body) for i in items]
        updating = channel.operation == _UPSERT_SERVICE and bool(items) and items[0].exists
        return self.push(channel.operation, partition, records, updating=updating)

    def reconcile(
        self,
        channel: ChannelSpec,
        partition: str,
        subject: str,
        items: Sequence[Item],
        *,
        delivered: Sequence[Item] = (),
    ) -> list[int]:
        """Which of a dossier's possibly-sent ``items`` the portal lacks.

        Dossier states are full-state upserts: sending one again has the same effect, so all
        are resent without asking. Steps are appended, so ``TraCuuHoSo`` is asked: a step is held
        when the echo lists a step equal on every identity field the echo carries, counting
        copies, after the ``delivered`` steps have taken their own matches.
        """
        if channel.operation != _PROGRESS_SERVICE or not items:
            return list(range(len(items)))
        held = self.lookup(partition, subject)
        if held is None:
            return list(range(len(items)))
        echoed = self._echoed_steps(held)
        pools: dict[tuple[str, ...], Counter[tuple[str, ...]]] = {}
        for step in echoed:
            fields = tuple(f for f in self._config.step_identity_fields if f in step)
            pools.setdefault(fields, Counter())[tuple(_norm(f, step[f]) for f in fields)] += 1

        def take(body: bytes) -> bool:
            record = orjson.loads(body)
            for fields, pool in pools.items():
                key = tuple(_norm(f, record.get(f)) for f in fields)
                if pool[key] > 0:
                    pool[key] -= 1
                    return True
            return False

        for old in delivered:
            take(old.body)
        return [n for n, item in enumerate(items) if not take(item.body)]

    def _echoed_steps(self, held: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        for name in self._config.step_list_fields:
            steps = held.get(name)
            if isinstance(steps, list):
                return [s for s in steps if isinstance(s, Mapping)]
            if steps is None and name in held:
                return []
        # A reply naming no step list cannot prove a step absent: the operator must look.
        names = ", ".join(self._config.step_list_fields)
        raise PermanentPeerError(
            f"TraCuuHoSo reply lists no steps under any of {names} (set step_list_fields)",
            system=SYSTEM,
            operation=_LOOKUP_SERVICE,
        )

    def push(
        self,
        service: str,
        agency: str,
        records: Sequence[WireRecord],
        *,
        updating: bool = False,
    ) -> PeerReply:
        """Send ``records`` to ``service`` (``DongBoHoSoMC``, ``CapNhatTienDoHoSoMC`` …).

        The records go in batches of ``batch_size``, one call each. For ``DongBoHoSoMC`` a create
        that the portal answers with "already exists" is sent again as an update, and an update
        answered "not found" again as a create, once. Raises ``TransientPeerError`` or
        ``PermanentPeerError``; batches before a failing one were delivered.
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
            {self._config.lookup_param: dossier_no},
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
        # A create of a dossier the portal holds may answer success ("0") and apply nothing:
        # the wording, not the code, tells. It goes again as an update; an update of a dossier
        # the portal lacks goes again as a create. A batch of several is refused instead, so
        # the engine sends each dossier alone and each finds its own way.
        exists = upsert and not updating and self._mentions(reply.message, self._exists_markers)
        missing = upsert and updating and not reply.ok
        missing = missing and self._mentions(reply.message, self._not_found_markers)
        if reply.ok and not exists:
            return reply, False
        if (exists or missing) and len(batch) > 1:
            raise PermanentPeerError(
                f"{len(batch)} dossiers answered {'already exists' if exists else 'not found'}"
                f" (error_code={reply.code or '<none>'}): sending each alone",
                system=SYSTEM,
                operation=service,
                status=reply.status,
                peer_code=reply.code or None,
            )
        if exists or missing:
            _log.debug("dvcqg %s: %s, resending", service, "exists" if exists else "not found")
            params["isUpdating"] = "True" if exists else "False"
            reply = self._call(path, service, agency, params, writes=True)
            again = not exists and self._mentions(reply.message, self._exists_markers)
            if reply.ok and not again:
                return reply, exists
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
        message = _peer_text(payload.get("message"))
        return _Reply(
            status,
            code,
            message,
            items,
            ok=code in self._success,
            session_rejected=code in self._session_codes
            or (bool(self._expired_markers) and self._mentions(message, self._expired_markers)),
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


def _build(config: DvcqgConfig) -> DvcqgConnector:
    return DvcqgConnector(config)


PEER = PeerType(SYSTEM, DvcqgConfig, _build)
