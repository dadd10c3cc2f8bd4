"""The operations console at ``/console``: server-side pages, forms with CSRF tokens.

Pages read the same service objects as the JSON API (outbox depths and counters, dead letters,
replay jobs, breakers, the audit chain); actions go through the same audited dead-letter
operations, under the logged-in operator's client id. Every response forbids framing and
allows only this origin's stylesheet (CSP); pages are bounded (50 letters, a capped record).
"""

from __future__ import annotations

import logging
import secrets
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, cast

import jinja2
import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.console.charts import line_chart
from gateway.api.console.history import History
from gateway.api.console.letters import summarise
from gateway.api.console.sessions import COOKIE, ConsoleSession, ConsoleSessions
from gateway.api.deps import get_service
from gateway.api.native import ID_PATTERN
from gateway.api.throttle import LoginAttempt, LoginThrottle
from gateway.errors import NotFoundError
from gateway.pipeline.deadletters import DeadLetterFilter
from gateway.service import GatewayService

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = FilePath(__file__).parent / "static"
PAGE_SIZE = 50
RECENT_MINUTES = 15
RECORD_CHARS = 64 * 1024
_LOGIN_COOKIE = "gw_console_login"
_FORM_BYTES = 16 * 1024
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

log = logging.getLogger("gateway.api.console")
router = APIRouter(prefix="/console", include_in_schema=False)
Gateway = Annotated[GatewayService, Depends(get_service)]
LetterId = Annotated[str, Path(pattern=ID_PATTERN)]
# Notices come from this module's redirects; the pattern keeps a crafted link's text short/plain.
Notice = Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9 :_.,-]+$")]
_env = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway.api.console", "templates"),
    autoescape=True,
)


class _Redirect(Exception):
    """Raised by the session dependency: send the browser to the login page."""


def _sessions(gateway: GatewayService) -> ConsoleSessions:
    return ConsoleSessions(gateway.client, gateway.settings.namespace)


def _binding(request: Request) -> str:
    host = request.client.host if request.client else ""
    return ConsoleSessions.binding(host, request.headers.get("user-agent", ""))


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("refresh", None)
    context.setdefault("notice", request_notice(context))
    context.setdefault("audit_failure", None)
    context.setdefault("operator", None)
    context.setdefault("csrf", "")
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def request_notice(context: dict[str, Any]) -> str | None:
    """The one-line notice a redirect asked for (``?notice=``), if any."""
    value = context.get("notice_text")
    return str(value)[:300] if value else None


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_HEADERS)


def _session(request: Request, gateway: Gateway) -> ConsoleSession:
    session = _sessions(gateway).get(request.cookies.get(COOKIE), _binding(request))
    if session is None:
        raise _Redirect
    return session


Session = Annotated[ConsoleSession, Depends(_session)]


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _FORM_BYTES:
        return {}
    parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {k: v[0] for k, v in parsed.items()}


Form = Annotated[dict[str, str], Depends(_form)]


def _forbidden(why: str) -> HTMLResponse:
    return _page("base.html", 403, title="Refused", notice_text=why)


def _common(gateway: GatewayService, session: ConsoleSession) -> dict[str, Any]:
    return {
        "operator": session.client_id,
        "csrf": session.csrf,
        "audit_failure": gateway.audit_failure(),
    }


# -- login -------------------------------------------------------------------------------------


_LOGIN_ERRORS = {
    "key": "not an operator key",
    "wait": "too many failed logins: try again later",
}


@router.get("/login")
def login_page(error: Annotated[str | None, Query(max_length=10)] = None) -> HTMLResponse:
    """The login form; its CSRF token is also set as a cookie (double submit)."""
    token = secrets.token_urlsafe(24)
    # Only known error codes are shown: a link must not put its own words on this page.
    message = _LOGIN_ERRORS.get(error or "")
    response = _page("login.html", title="Log in", login_csrf=token, error=message)
    response.set_cookie(
        _LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/console", max_age=600
    )
    return response


@router.post("/login")
def login(request: Request, gateway: Gateway, form: Form) -> Response:
    """Open a session for an operator client's API key."""
    given, expected = form.get("csrf", ""), request.cookies.get(_LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
        return _forbidden("the login form's CSRF token is missing or wrong: reload the page")
    key = form.get("api_key", "").strip()
    # The DVCQG login's limiter ([login] settings), under its own keys: a province system
    # mistyping its DVCQG password does not lock the operators on its address out, nor the
    # reverse. The "username" is the key tried (hashed in the key name, never stored).
    throttle = LoginThrottle(
        gateway.client,
        namespace=f"{gateway.settings.namespace}:console",
        settings=gateway.settings.login,
    )
    attempt = throttle.admit(key, request.client.host if request.client else "unknown")
    if not isinstance(attempt, LoginAttempt):
        log.info("console login throttled")
        page = login_page(error="wait")
        page.status_code = 429
        page.headers["Retry-After"] = str(attempt)
        return page
    client = gateway.settings.client_by_key(key)
    if client is None or not client.operator:
        log.info("console login refused")
        return _redirect("/console/login?error=key")
    throttle.succeeded(attempt)
    token = _sessions(gateway).open(client.id, _binding(request))
    response = _redirect("/console")
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/console",
        max_age=_sessions(gateway).ttl_seconds,
    )
    response.delete_cookie(_LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
def logout(request: Request, gateway: Gateway, session: Session, form: Form) -> Response:
    """End the session."""
    if not session.csrf_ok(form.get("csrf")):
        return _forbidden("CSRF token missing or wrong")
    _sessions(gateway).close(request.cookies.get(COOKIE))
    response = _redirect("/console/login")
    response.delete_cookie(COOKIE, path="/console")
    return response


# -- overview ----------------------------------------------------------------------------------


def _payments_panel(request: Request) -> dict[str, Any] | None:
    """Payments awaiting confirmation, when payments are configured."""
    payments = getattr(request.app.state, "payments", None)
    if payments is None:
        return None
    awaiting = payments.store.awaiting()
    oldest = None
    if awaiting.oldest_ms is not None:
        oldest = _when(awaiting.oldest_ms / 1000)
    return {
        "count": awaiting.count,
        "oldest": oldest,
        "by_provider": awaiting.by_provider,
        "sampled": awaiting.sampled,
        "stale_after": payments.settings.stale_after_seconds,
    }


_OUTCOMES = ("match", "mismatch", "invalid", "unavailable")


def _identity_panel(request: Request) -> dict[str, Any] | None:
    """Identity look-ups per hour and outcome (last 24 h), when identity checks exist."""
    identity = getattr(request.app.state, "identity", None)
    if identity is None:
        return None
    rows = []
    totals: list[tuple[int, float]] = []
    for hour, counts in identity.volumes(hours=24):
        start = datetime.fromtimestamp(hour * 3600, tz=UTC).strftime("%m-%d %H:00")
        rows.append({"hour": start, **{o: counts.get(o, 0) for o in _OUTCOMES}})
        totals.append((hour * 3600, float(sum(counts.values()))))
    return {
        "outcomes": _OUTCOMES,
        "rows": [r for r in rows if any(r[o] for o in _OUTCOMES)],
        "total": int(sum(v for _, v in totals)),
        "chart": line_chart(totals, title="look-ups/hour"),
    }


@router.get("")
def overview(request: Request, gateway: Gateway, session: Session) -> HTMLResponse:
    """Peers' health, per channel depths, counters and the last hours as charts; payments
    awaiting confirmation and identity-check volumes, where those are configured."""
    history = History(gateway.outbox)
    history.sample()
    series = history.series()
    counters = gateway.outbox.metrics()
    depth = gateway.outbox.depth()
    channels: list[dict[str, Any]] = []
    for ch in gateway.channels:
        kinds = depth.get(ch.id, {})

        def count(kind: str, channel: str = ch.id) -> int:
            return int(counters.get(f"{kind}|{channel}", 0))

        dead = sum(v for k, v in counters.items() if k.startswith(f"dead|{ch.id}|"))
        s = series.get(ch.id, {"depth": [], "rate": []})
        channels.append(
            {
                "id": ch.id,
                "peer": ch.peer,
                "ready": kinds.get("ready", 0),
                "in_flight": kinds.get("in_flight", 0),
                "accepted": count("accepted"),
                "delivered": count("delivered"),
                "retried": count("retried"),
                "dead": int(dead),
                "depth_chart": line_chart(s["depth"], title="waiting"),
                "rate_chart": line_chart(s["rate"], title="delivered/min"),
            }
        )
    peers = gateway.peer_health()
    for name, p in peers.items():
        # Sends (batch calls) in the last minutes, from every process: a peer that failed all
        # morning and has been fine for an hour shows 0 %, not its lifetime average.
        sent, failed = gateway.recorder.recent_sends(name, minutes=RECENT_MINUTES)
        p["error_rate"] = f"{failed / sent:.1%} of {sent}" if sent else "no sends"
        if p["last_success"]:
            p["last_success"] = _when(p["last_success"])
    audit = gateway.audit
    audit_state = "disabled" if audit is None else f"head {audit.head()[:24]}…"
    return _page(
        "overview.html",
        title="Overview",
        channels=channels,
        peers=peers,
        dead_letters=gateway.outbox.dead_letter_count(),
        audit_state=audit_state,
        refresh=30,
        recent_minutes=RECENT_MINUTES,
        payments=_payments_panel(request),
        identity=_identity_panel(request),
        **_common(gateway, session),
    )


def _when(value: float) -> str:
    # Breakers keep monotonic or wall-clock seconds; only wall-clock ones are shown as a date.
    if value > 1_000_000_000:
        return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{value:.0f} s (process clock)"


# -- dead letters ------------------------------------------------------------------------------


def _flt(
    peer: str | None, channel: str | None, reason: str | None, partition: str | None
) -> DeadLetterFilter:
    return DeadLetterFilter(
        peer=peer or None,
        channel=channel or None,
        reason=reason or None,
        partition=partition or None,
    )


@router.get("/dead-letters")
def letters(
    gateway: Gateway,
    session: Session,
    peer: Annotated[str | None, Query(max_length=100)] = None,
    channel: Annotated[str | None, Query(max_length=200)] = None,
    reason: Annotated[str | None, Query(max_length=200)] = None,
    partition: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    notice: Notice = None,
) -> HTMLResponse:
    """Waiting letters grouped by peer, channel and reason, and one page of them."""
    flt = _flt(peer, channel, reason, partition)
    summary = summarise(gateway.deadletters, flt, offset=offset, limit=PAGE_SIZE)
    given = flt.to_json()

    def page_url(at: int) -> str:
        return "/console/dead-letters?" + urllib.parse.urlencode({**given, "offset": at})

    nxt = offset + PAGE_SIZE if offset + PAGE_SIZE < summary.total else None
    return _page(
        "letters.html",
        title="Dead letters",
        flt=flt,
        flt_json=given,
        summary=summary,
        groups=summary.groups.most_common(100),
        offset=offset,
        next_offset=nxt,
        prev_offset=max(offset - PAGE_SIZE, 0) if offset else None,
        page_url=page_url,
        notice_text=notice,
        **_common(gateway, session),
    )


@router.get("/dead-letters/{letter_id}")
def letter(
    letter_id: LetterId,
    gateway: Gateway,
    session: Session,
    notice: Notice = None,
) -> HTMLResponse:
    """One letter: its record (capped), attempts, and the replay and discard forms."""
    try:
        d = gateway.deadletters.get(letter_id)
    except NotFoundError:
        return _page("base.html", 404, title="Not found", notice_text=f"no dead letter {letter_id}")
    record = orjson.dumps(d.record, option=orjson.OPT_INDENT_2).decode()
    try:
        state = gateway.outbox.status(letter_id).state.value
    except NotFoundError:
        state = "unknown"
    return _page(
        "letter.html",
        title=f"Dead letter {letter_id}",
        d=d,
        delivery_state=state,
        record=record[:RECORD_CHARS],
        truncated=len(record) > RECORD_CHARS,
        notice_text=notice,
        **_common(gateway, session),
    )


def _notice(url: str, text: str) -> RedirectResponse:
    return _redirect(f"{url}?notice={urllib.parse.quote(text)}")


@router.post("/dead-letters/replay-matching")
def replay_matching(gateway: Gateway, session: Session, form: Form) -> Response:
    """Start a bulk replay job of every letter matching the form's filter."""
    if not session.csrf_ok(form.get("csrf")):
        return _forbidden("CSRF token missing or wrong")
    flt = _flt(form.get("peer"), form.get("channel"), form.get("reason"), form.get("partition"))
    try:
        rate = min(max(float(form.get("rate", "20")), 0.1), 1000.0)
    except ValueError:
        rate = 20.0
    job_id = gateway.replayjobs.start(flt, actor=session.client_id, rate=rate)
    return _redirect(f"/console/jobs/{job_id}")


@router.post("/dead-letters/{letter_id}/replay")
def replay(letter_id: LetterId, gateway: Gateway, session: Session, form: Form) -> Response:
    """Replay one letter, as the logged-in operator."""
    if not session.csrf_ok(form.get("csrf")):
        return _forbidden("CSRF token missing or wrong")
    try:
        result = gateway.deadletters.replay(letter_id, actor=session.client_id)
    except NotFoundError:
        return _page("base.html", 404, title="Not found", notice_text=f"no dead letter {letter_id}")
    return _notice(f"/console/dead-letters/{letter_id}", f"replay: {result.outcome}")


@router.post("/dead-letters/{letter_id}/discard")
def discard(letter_id: LetterId, gateway: Gateway, session: Session, form: Form) -> Response:
    """Discard one letter with the operator's reason."""
    if not session.csrf_ok(form.get("csrf")):
        return _forbidden("CSRF token missing or wrong")
    reason = form.get("reason", "").strip()[:1000]
    if not reason:
        return _notice(f"/console/dead-letters/{letter_id}", "a reason is required to discard")
    try:
        result = gateway.deadletters.discard(letter_id, actor=session.client_id, reason=reason)
    except NotFoundError:
        return _page("base.html", 404, title="Not found", notice_text=f"no dead letter {letter_id}")
    return _notice(f"/console/dead-letters/{letter_id}", f"discard: {result.outcome}")


@router.get("/jobs/{job_id}")
def job(job_id: LetterId, gateway: Gateway, session: Session) -> HTMLResponse:
    """A bulk replay's progress (the page refreshes itself until it has finished)."""
    try:
        data = gateway.replayjobs.get(job_id)
    except NotFoundError:
        return _page("base.html", 404, title="Not found", notice_text=f"no replay job {job_id}")
    running = data.get("state") in ("queued", "running")
    return _page(
        "job.html",
        title=f"Replay {job_id}",
        job={"id": job_id, **data},
        refresh=2 if running else None,
        **_common(gateway, session),
    )


# -- audit -------------------------------------------------------------------------------------


@router.get("/audit")
def audit(
    gateway: Gateway,
    session: Session,
    kind: Annotated[str, Query(max_length=20)] = "",
    before: Annotated[str | None, Query(max_length=40, pattern=r"^[0-9]+-[0-9]+$")] = None,
) -> HTMLResponse:
    """The newest audit-chain entries (50 a page), optionally of one kind."""
    chain = gateway.audit
    entries: list[dict[str, Any]] = []
    last: str | None = None
    if chain is not None:
        hi = "+" if before is None else f"({before}"
        while len(entries) < PAGE_SIZE:
            rows = cast(
                "list[tuple[bytes, dict[bytes, bytes]]]",
                chain.client.xrevrange(chain.key, hi, "-", count=200),
            )
            if not rows:
                last = None
                break
            for entry_id, f in rows:
                last = entry_id.decode()
                doc = orjson.loads(f[b"body"])
                if not kind or doc.get("kind") == kind:
                    at = datetime.fromtimestamp(doc.get("at", 0) / 1000, tz=UTC)
                    entries.append({**doc, "time": at.strftime("%Y-%m-%d %H:%M:%S")})
                    if len(entries) == PAGE_SIZE:
                        break
            hi = f"({last}"
    verification = (
        "audit chain disabled" if chain is None else f"{chain.head().split(':')[0]} entries"
    )
    return _page(
        "audit.html",
        title="Audit trail",
        entries=entries,
        kind=kind,
        before=last if len(entries) == PAGE_SIZE else None,
        verification=verification,
        **_common(gateway, session),
    )
