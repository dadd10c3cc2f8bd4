"""The DVCQG-compatible intake: provincial systems call the gateway as they call the portal.

``POST /dvcqg/auth`` logs in (``{"username", "password"}`` → ``session``) and
``POST /dvcqg/integration`` takes the adapter envelope (national-formats.md §2.1) for
``DongBoHoSoMC`` and ``CapNhatTienDoHoSoMC``. Answers keep the portal's shape
(``error_code``/``message``/``result``); errors are problem documents that also carry
``error_code`` and ``message``, so an existing client needs no change — in particular
``error_code`` "401" makes it log in again, as the portal's session rejection does. Repeated
failed logins answer 429 (``error_code`` "429", ``Retry-After``): :mod:`gateway.api.throttle`.
``error_code`` is always a string ("0" on success).

Bad input must not hurt: the session is checked before the body is parsed (a regular
expression finds the ``session`` strings, so an unauthenticated 4 MB body costs a scan, not a
parse), JSON objects are counted before parsing, the record count is checked before any record
is validated, and records are validated one by one on a worker thread, never on the event loop.

Quirks of real senders (:mod:`gateway.mappers.quirks`) are refused or accepted and flagged by
the ``[intake] policies``. Bare JSON arrays are taken at ``/dvcqg/DongBoHoSoMC`` and
``/dvcqg/CapNhatTienDoHoSoMC`` (``?MaDinhDanhDV=…&isUpdating=True``, as Hà Giang calls) and at
the URLs of ``[intake] bare_routes`` (TD.DichVuCongApi), with the session in a ``session``
query parameter or header, or ``Authorization: Bearer <session>``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import ValidationError

from gateway.api.auth import SessionStore
from gateway.api.deps import get_service, parse_json, raw_body, request_body
from gateway.api.intake import RecordResult, accept_records, intake_rules, national_record
from gateway.api.problems import Problem
from gateway.api.throttle import LoginAttempt, LoginThrottle
from gateway.config import BareRoute, ClientConfig
from gateway.connectors.dvcqg import Service
from gateway.errors import Violation
from gateway.mappers import contract_error_from
from gateway.mappers.quirks import dossier_quirks, step_quirks
from gateway.schemas.codes import TextBool
from gateway.schemas.envelope import CallEnvelope, LoginRequest
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.policy import Quirk
from gateway.service import GatewayService

__all__ = ["add_bare_routes", "router"]

log = logging.getLogger("gateway.api")
router = APIRouter(prefix="/dvcqg", tags=["dvcqg"])

Gateway = Annotated[GatewayService, Depends(get_service)]
Body = Annotated[bytes, Depends(raw_body)]

_FIELD_OF_RULE = {
    Service.DOSSIER: {
        "status_transition": "TrangThaiHoSo",
        "state_out_of_order": "TrangThaiHoSo",
        "agency_not_allowed": "MaHoSo",
        "agency_unknown": "MaHoSo",
    },
    Service.PROGRESS: {
        "status_transition": "TrangThai",
        "step_out_of_order": "ThoiDiemXuLy",
        "agency_not_allowed": "MaHoSo",
        "agency_unknown": "MaHoSo",
    },
}
# A "session" member with a plain string value (a token has no escapes). Found before the body is
# parsed; whatever it finds is checked again against the parsed envelope.
_SESSION = re.compile(rb'"session"\s*:\s*"([^"\\]{1,256})"')
_EARLY_SESSIONS = 3


def _fail(status: int, code: str, message: str, *, kind: str, **kw: Any) -> Problem:
    return Problem(
        status, message, kind=kind, extensions={"error_code": code, "message": message}, **kw
    )


@router.post("/auth", openapi_extra=request_body(LoginRequest))
def login(request: Request, body: Body, gateway: Gateway) -> dict[str, Any]:
    """Open a session for a client's DVCQG-style username and password.

    Repeated failures for one username or from one address answer 429 with ``Retry-After``
    (``[login]`` settings) until their window closes.
    """
    ext = {"error_code": "1", "message": "invalid login request"}
    payload = parse_json(body, extensions=ext)
    try:
        req = LoginRequest.model_validate(payload)
    except ValidationError as exc:
        err = contract_error_from(exc)
        raise _fail(
            400,
            "1",
            "invalid login request: username and password are required",
            kind="invalid-body",
            errors=err.violations,
        ) from exc
    throttle = LoginThrottle(
        gateway.client, namespace=gateway.settings.namespace, settings=gateway.settings.login
    )
    # uvicorn puts the X-Forwarded-For address here when the proxy is trusted (--proxy-headers,
    # FORWARDED_ALLOW_IPS); otherwise it is the peer address.
    attempt = throttle.admit(req.username, request.client.host if request.client else "unknown")
    if not isinstance(attempt, LoginAttempt):
        # Said the same whichever limit was reached, and before the password is looked at.
        log.info("dvcqg login throttled")
        raise _fail(
            429,
            "429",
            f"too many failed logins; try again in {attempt} s",
            kind="login-throttled",
            headers={"Retry-After": str(attempt)},
        )
    client = gateway.settings.client_by_login(req.username, req.password)
    if client is None:
        # Neither the username nor the reason is echoed: no hint for guessing either.
        log.info("dvcqg login refused")
        raise _fail(401, "401", "wrong username or password", kind="login-failed")
    throttle.succeeded(attempt)
    session = SessionStore(gateway).open(client)
    log.info("dvcqg login client=%s", client.id)
    return {"error_code": "0", "message": "login successful", "session": session}


def _session_rejected() -> Problem:
    return _fail(
        401,
        "401",
        "session rejected: unknown, expired or missing; log in again",
        kind="session-rejected",
    )


def _session_members(body: bytes) -> Iterator[re.Match[bytes]]:
    """The first few ``"session": "…"`` members of the raw body.

    ``bytes.find`` jumps between candidates at memchr speed; a regex scan of the whole body
    (``finditer``) ran at ~13 MB/s, 300 ms for one 3.9 MB body of ``{}``.
    """
    at, found = 0, 0
    while found < _EARLY_SESSIONS:
        at = body.find(b'"session"', at)
        if at < 0:
            return
        match = _SESSION.match(body, at)
        at += 9
        if match is not None:
            found += 1
            yield match


def _early_client(body: bytes, gateway: GatewayService) -> ClientConfig:
    """The client of a ``session`` string in the raw body; 401 before any parsing otherwise."""
    store = SessionStore(gateway)
    for match in _session_members(body):
        try:
            token = match.group(1).decode("ascii")
        except UnicodeDecodeError:
            continue
        client = store.client(token)
        if client is not None:
            return client
    raise _session_rejected()


def _bounded(body: bytes, gateway: GatewayService) -> None:
    """413 when the body holds more JSON objects than a full call may: counted in C, before
    parsing, so a body of a million ``{}`` never becomes a million dicts."""
    intake = gateway.settings.intake
    cap = intake.max_records_per_call * intake.max_objects_per_record + 1
    if body.count(b"{") > cap:
        raise _fail(
            413,
            "413",
            f"more than {cap} JSON objects in one call"
            f" ({intake.max_records_per_call} records of {intake.max_objects_per_record})",
            kind="too-many-objects",
        )


def _request_quirk(
    gateway: GatewayService, quirk: Quirk, field: str, message: str, flags: list[str]
) -> None:
    """A quirk of the call itself: refused whole (400 naming the field), or flagged on every
    record."""
    if gateway.settings.intake.policy().refuses(quirk):
        raise _fail(
            400,
            "1",
            message,
            kind="refused-quirk",
            errors=[Violation(field, quirk.value, message)],
        )
    flags.append(quirk.value)


def _is_updating(gateway: GatewayService, value: Any, field: str, flags: list[str]) -> Any:
    if isinstance(value, bool):
        _request_quirk(
            gateway,
            Quirk.IS_UPDATING_BOOLEAN,
            field,
            f'{field} is a JSON boolean; the portal\'s form is "True"/"False"',
            flags,
        )
        return TextBool.of(value).value
    return value


@router.post("/integration", openapi_extra=request_body(CallEnvelope))
def integration(body: Body, gateway: Gateway) -> Response:
    """Take one adapter call; answers per record, in input order, once all are durable.

    The session is checked before the body is parsed, the record count before any record is
    validated.
    """
    _early_client(body, gateway)
    _bounded(body, gateway)
    payload = parse_json(body, extensions={"error_code": "1", "message": "invalid request body"})
    flags: list[str] = []
    if isinstance(payload, dict) and "isUpdating" in payload:
        payload["isUpdating"] = _is_updating(gateway, payload["isUpdating"], "isUpdating", flags)
    env = _envelope(payload)
    # The early check may have matched a "session" nested in the records: check the real one.
    client = SessionStore(gateway).client(env.session)
    if client is None:
        raise _session_rejected()
    return _take(gateway, client, env.madonvi, env.service, env.data, flags)


def _take(
    gateway: GatewayService,
    client: ClientConfig,
    madonvi: str | None,
    service_name: str,
    data: list[Any] | None,
    flags: list[str],
) -> Response:
    policy = gateway.settings.intake.policy()
    queue = madonvi
    if madonvi is not None and madonvi in policy.account_codes:
        _request_quirk(
            gateway,
            Quirk.MADONVI_ACCOUNT_CODE,
            "madonvi",
            f"madonvi {madonvi} is an account code, not an agency",
            flags,
        )
        # Each record goes to the queue of its own dossier number's agency, and is scoped by it.
        queue = None
    elif madonvi is not None and not client.may_push_for(madonvi):
        raise _fail(
            403,
            "403",
            f"client {client.id} may not push for agency {madonvi}",
            kind="agency-not-allowed",
        )
    try:
        service = Service.from_national(service_name)
    except ValueError as exc:
        raise _fail(
            400,
            "1",
            f"service {service_name!r} is not supported by the gateway;"
            " supported: DongBoHoSoMC, CapNhatTienDoHoSoMC",
            kind="unknown-service",
        ) from exc
    if data is None:
        raise _fail(
            400, "1", f"{service_name} needs a data array of records", kind="invalid-envelope"
        )
    limit = gateway.settings.intake.max_records_per_call
    if len(data) > limit:
        raise _fail(
            413,
            "413",
            f"{len(data)} records in one call; at most {limit} allowed",
            kind="too-many-records",
        )
    fields = _FIELD_OF_RULE[service]

    def path_of(index: int, rule: str) -> str:
        field = fields.get(rule)
        return f"data.{index}.{field}" if field else f"data.{index}"

    relaxed = not policy.refuses(Quirk.DOSSIER_NUMBER_NONSTANDARD)
    rules = intake_rules(gateway, relaxed=relaxed)
    quirks = dossier_quirks if service is Service.DOSSIER else step_quirks
    items: list[DossierRecord | ProgressRecord | RecordResult] = []
    found: list[Sequence[str]] = []
    # One record at a time: each validation is short, so the event loop (which shares the GIL
    # with this worker thread) gets its turn between records.
    for i, raw in enumerate(data):
        seen = quirks(raw, policy, path=f"data.{i}")
        items.append(
            national_record(
                service, i, seen.record, prefix="data", rules=rules, refused=seen.violations
            )
        )
        found.append((*flags, *seen.flags))
    results = accept_records(
        gateway, service, client, items, path_of=path_of, agency=queue, flags=found
    )
    accepted = sum(r.accepted for r in results)
    log.info(
        "dvcqg push client=%s madonvi=%s service=%s records=%d accepted=%d",
        client.id,
        madonvi,
        service_name,
        len(results),
        accepted,
    )
    everything = accepted == len(results)
    reply = {
        "error_code": "0" if everything else "1",
        "message": f"accepted {accepted} of {len(results)} records",
        "result": [_result(r) for r in results],
    }
    # Encoded here: FastAPI's generic encoder walks a 1,000-record reply in Python.
    return Response(orjson.dumps(reply), media_type="application/json")


def _envelope(payload: Any) -> CallEnvelope:
    """The envelope alone (records stay raw, to be validated one by one)."""
    try:
        return CallEnvelope.model_validate(payload)
    except ValidationError as exc:
        err = contract_error_from(exc)
        raise _fail(
            400, "1", "invalid call envelope", kind="invalid-envelope", errors=err.violations
        ) from exc


def _result(r: RecordResult) -> dict[str, Any]:
    return {
        "MaHoSo": r.dossier_no,
        "accepted": r.accepted,
        "delivery_id": r.delivery_id,
        "duplicate": r.duplicate,
        "flags": list(r.flags),
        "errors": [{"path": v.path, "rule": v.rule, "message": v.message} for v in r.errors],
    }


# --- bare arrays -------------------------------------------------------------------------------


def _bare_session(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query_params.get("session") or request.headers.get("session") or ""


def _bare_handler(route: BareRoute) -> Any:
    def bare(request: Request, body: Body, gateway: Gateway) -> Response:
        client = SessionStore(gateway).client(_bare_session(request))
        if client is None:
            raise _session_rejected()
        _bounded(body, gateway)
        payload = parse_json(body, extensions={"error_code": "1", "message": "invalid body"})
        if not isinstance(payload, list):
            raise _fail(
                400,
                "1",
                "this URL takes a bare JSON array of records",
                kind="invalid-body",
                errors=[Violation("", "bare_array_expected", "the body must be a JSON array")],
            )
        flags: list[str] = []
        _request_quirk(
            gateway,
            Quirk.BARE_ARRAY,
            "",
            "the records came as a bare JSON array, without the call envelope",
            flags,
        )
        query = request.query_params
        updating = query.get("isUpdating")
        if updating is not None and updating not in ("True", "False"):
            raise _fail(
                400,
                "1",
                'isUpdating must be "True" or "False"',
                kind="invalid-envelope",
                errors=[Violation("isUpdating", "text_bool", 'must be "True" or "False"')],
            )
        madonvi = query.get("MaDinhDanhDV") or query.get("madonvi") or route.madonvi
        if madonvi is not None and not 0 < len(madonvi) <= 64:
            raise _fail(400, "1", "madonvi must be 1–64 characters", kind="invalid-envelope")
        return _take(gateway, client, madonvi, route.service, payload, flags)

    return bare


_DEFAULT_BARE = {
    "/dvcqg/DongBoHoSoMC": BareRoute(service="DongBoHoSoMC"),
    "/dvcqg/CapNhatTienDoHoSoMC": BareRoute(service="CapNhatTienDoHoSoMC"),
}


def add_bare_routes(app: FastAPI, configured: dict[str, BareRoute]) -> None:
    """Serve bare-array posts at the default URLs and at every configured one."""
    for path, route in {**_DEFAULT_BARE, **configured}.items():
        model = DossierRecord if route.service == "DongBoHoSoMC" else ProgressRecord
        app.add_api_route(
            path,
            _bare_handler(route),
            methods=["POST"],
            tags=["dvcqg"],
            summary=f"{route.service} records as a bare JSON array",
            description=(
                "The session comes as `Authorization: Bearer <session>`, a `session` header or"
                " query parameter; the agency as `MaDinhDanhDV` or `madonvi`."
            ),
            openapi_extra=request_body({"type": "array", "items": _schema_ref(model)}),
            operation_id=f"bare_{path.strip('/').replace('/', '_').replace('.', '_')}",
        )


def _schema_ref(model: type[DossierRecord] | type[ProgressRecord]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    defs[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}", "$defs": defs}
