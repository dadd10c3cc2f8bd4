"""The ``gateway`` command: validate and convert packets, run the gateway, operate dead letters.

Exit codes: 0 success, 1 invalid input (every violation printed as ``path: message [rule]``),
2 usage or configuration error, 3 not found.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click
import orjson

from gateway import logmask
from gateway.errors import ConfigurationError, ContractError, NotFoundError
from gateway.observability import jsonlog
from gateway.runtime.collector import tune_collector

if TYPE_CHECKING:
    from gateway.packets import Kind, Packet
    from gateway.schemas.wire import WireRules

__all__ = ["main"]

EXIT_INVALID = 1
EXIT_CONFIG = 2
EXIT_NOT_FOUND = 3


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="GATEWAY_LOG_FORMAT",
    show_default=True,
    help="json: one JSON object per line, with the correlation id (for log collectors).",
)
def main(verbose: int, log_format: str) -> None:
    """tthc-gateway: sync provincial dossier systems with the national platforms."""
    level = logging.WARNING - 10 * min(verbose, 2)
    if log_format == "json":
        jsonlog.configure(level, json=True)
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logmask.install()  # ID numbers and names never reach ordinary logs (Decree 13/2023)


_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GATEWAY_CONFIG",
    help="TOML configuration file (environment GATEWAY_* overrides it).",
)


# -- packets -----------------------------------------------------------------------------------

_FORM = click.Choice(["national", "provincial"])
_KIND = click.Choice(["dossier", "step"])


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--form", type=_FORM, help="Record form; detected when omitted.")
@click.option("--kind", type=_KIND, help="Dossier records or progress steps; detected if omitted.")
@_CONFIG
def validate(
    files: tuple[Path, ...], form: str | None, kind: str | None, config_path: Path | None
) -> None:
    """Validate packet FILES (JSON or XML, provincial or national form).

    With --config (or GATEWAY_CONFIG), its [wire] rules apply; otherwise the defaults.
    Exits 0 when every file is valid; 1 with every violation listed as path + rule otherwise.
    """

    rules = _wire_rules(config_path)
    failed = False
    for path in files:
        try:
            packet = _packet(path, form, kind, rules)
        except ContractError as exc:
            failed = True
            click.echo(f"{path}: INVALID ({len(exc.violations)} violation(s))", err=True)
            for v in exc.violations:
                click.echo(f"  {v}", err=True)
            continue
        shape = "XML" if packet.source_xml else "JSON"
        click.echo(
            f"{path}: valid — {len(packet.records)} {packet.kind} record(s),"
            f" {packet.source_form.value} {shape}"
        )
    sys.exit(EXIT_INVALID if failed else 0)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "target",
    type=click.Choice(["national", "provincial", "xml", "json"]),
    required=True,
    help="national/json: national JSON; provincial: our typed JSON; xml: national XML.",
)
@click.option("--form", type=_FORM, help="Input record form; detected when omitted.")
@click.option("--kind", type=_KIND, help="Dossier records or progress steps; detected if omitted.")
@_CONFIG
def convert(
    file: Path, target: str, form: str | None, kind: str | None, config_path: Path | None
) -> None:
    """Convert FILE to another form and write it to stdout.

    With --config (or GATEWAY_CONFIG), its [wire] rules apply; otherwise the defaults.
    """
    from gateway.packets import write_packet

    try:
        packet = _packet(file, form, kind, _wire_rules(config_path))
        out = write_packet(packet, target)  # type: ignore[arg-type]
    except ContractError as exc:
        for v in exc.violations:
            click.echo(f"{file}: {v}", err=True)
        sys.exit(EXIT_INVALID)
    sys.stdout.buffer.write(out)


def _wire_rules(config_path: Path | None) -> WireRules | None:
    """The configured wire rules, or None (the defaults) when no configuration is named."""
    if config_path is None:
        # Offline tools stay independent of the environment unless a configuration is named.
        return None
    from gateway.config import load_settings

    try:
        return load_settings(config_path).wire.rules()
    except ConfigurationError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def _packet(path: Path, form: str | None, kind: str | None, rules: WireRules | None) -> Packet:
    """Read, detect and validate one packet file (ContractError lists every violation)."""
    from gateway.packets import Form, read_packet

    return read_packet(
        _read(path),
        form=Form(form) if form else None,
        kind=_kind(kind),
        rules=rules,
        source=str(path),
    )


def _kind(value: str | None) -> Kind | None:
    # click.Choice has already limited the value to the two kinds.
    return cast("Kind | None", value)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {path}: {exc.strerror}") from exc


# -- running -----------------------------------------------------------------------------------


def _service(config_path: Path | None, **overrides: Any) -> Any:
    from gateway.config import load_settings
    from gateway.service import GatewayService

    try:
        return GatewayService.open(load_settings(config_path, **overrides))
    except ConfigurationError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


@main.command()
@_CONFIG
@click.option("--host", help="Address to listen on (default from config: 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default from config: 8080).")
def serve(config_path: Path | None, host: str | None, port: int | None) -> None:
    """Run the HTTP API and, unless disabled, delivery workers in this process.

    With no redis_url a private redis-server is started under the data directory.
    """
    import uvicorn

    from gateway.api.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler the process
    # would die before the finally below stops the workers and the embedded redis-server.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    service = _service(config_path, **overrides)
    try:
        if service.settings.embedded_workers:
            service.start_workers()
        settings = service.settings
        app = create_app(service)
        tune_collector()  # start-up is done (gateway/runtime/collector.py)
        click.echo(
            f"gateway listening on http://{settings.host}:{settings.port}"
            f" (redis: {service.handle.kind if service.handle else 'external'})",
            err=True,
        )
        # log_config=None: uvicorn's records go to the root handlers, through the log mask.
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            log_config=None,
        )
    finally:
        service.close()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@main.command()
@_CONFIG
def worker(config_path: Path | None) -> None:
    """Run delivery workers only, against the shared Redis of the configuration."""
    service = _service(config_path)
    if service.handle is not None and service.handle.kind != "external":
        click.echo("gateway worker needs a shared redis_url; none is configured", err=True)
        service.close()
        sys.exit(EXIT_CONFIG)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    payments = _attach_payments(service)
    service.start_workers()
    tune_collector()  # start-up is done (gateway/runtime/collector.py)
    click.echo("gateway worker running; Ctrl-C to stop", err=True)
    try:
        stop.wait()
    finally:
        if payments is not None:
            payments.close()
        service.close()


def _attach_payments(service: Any) -> Any:
    """With ``[payments]``, the payment service whose stale sweep this process's workers run
    (once per interval across every process of the namespace); else None."""
    if service.settings.payments is None:
        return None
    from gateway.payments import PaymentService

    payments = PaymentService.build(service.settings.payments, service)
    payments.attach()
    return payments


@main.command()
@_CONFIG
def migrate(config_path: Path | None) -> None:
    """Bring the outbox's Redis data to the current key layout (channels).

    ``gateway serve`` and ``gateway worker`` do this by themselves when they start; run it by
    hand, with every gateway process of the namespace stopped, to migrate ahead of an upgrade.
    """
    from gateway.config import load_settings
    from gateway.pipeline.migrate import migrate_if_needed
    from gateway.runtime.store import open_redis

    try:
        settings = load_settings(config_path)
    except ConfigurationError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open_redis(
        settings.redis_url,
        data_dir,
        appendfsync=settings.appendfsync,
        timeout=settings.redis_timeout_seconds,
    )
    try:
        count = migrate_if_needed(handle.client, settings.namespace)
    finally:
        handle.close()
    click.echo(f"migrated {count} item(s)" if count else "already in the current layout")


@main.command("fake-portal")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9100, show_default=True)
def fake_portal(host: str, port: int) -> None:
    """Serve a fake DVCQG portal, for trying the gateway against a configured portal URL.

    It keeps what it receives in memory and prints one line per service call. Point the
    gateway's [dvcqg] section (or GATEWAY_DVCQG__* variables) at the URL it prints.
    """
    from gateway.testing import FakePortal, FakePortalServer
    from gateway.testing.fake_portal import PortalCall

    def show(call: PortalCall) -> None:
        numbers = ", ".join(call.dossiers[:3]) + (" …" if len(call.dossiers) > 3 else "")
        click.echo(
            f"{call.service} madonvi={call.agency} records={len(call.dossiers)} [{numbers}]"
            f" -> HTTP {call.status} error_code={call.error_code}"
        )

    portal = FakePortal(on_call=show)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with FakePortalServer(portal, host=host, port=port) as server:
        click.echo(f"fake DVCQG portal at {server.url}")
        click.echo(
            f"  username={portal.username} password={portal.password} dstcode={portal.dstcode}"
            f" auth_path={portal.auth_path} integration_path={portal.integration_path}"
        )
        stop.wait()
    click.echo(f"stopped; it held {len(portal.dossiers)} dossier(s)")


# -- dead letters ------------------------------------------------------------------------------


@main.group("dead-letters")
def dead_letters() -> None:
    """List, show, replay and discard what could not be delivered."""


def _filter(
    peer: str | None,
    reason: str | None,
    partition: str | None,
    channel: str | None,
    since: str | None,
    until: str | None,
) -> Any:
    from gateway.pipeline.deadletters import DeadLetterFilter

    def when(value: str | None) -> datetime | None:
        if value is None:
            return None
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise click.BadParameter(f"{value}: give a time zone, e.g. 2025-01-01T00:00+07:00")
        return parsed

    return DeadLetterFilter(
        peer=peer,
        reason=reason,
        partition=partition,
        channel=channel,
        since=when(since),
        until=when(until),
    )


def _filter_options(fn: Any) -> Any:
    for opt in (
        click.option("--until", help="ISO 8601 time with zone (inclusive)."),
        click.option("--since", help="ISO 8601 time with zone (inclusive)."),
        click.option("--channel", help="Channel id, e.g. dvcqg.DongBoHoSoMC."),
        click.option("--partition", help="Partition: the agency code (madonvi), the client …"),
        click.option("--reason", help="Reason label, e.g. peer_code:2 or retry_budget_exhausted."),
        click.option("--peer", help="Peer system, e.g. dvcqg."),
    ):
        fn = opt(fn)
    return fn


@dead_letters.command("list")
@_CONFIG
@_filter_options
@click.option("--offset", type=int, default=0, show_default=True)
@click.option("--limit", type=int, default=50, show_default=True)
def dl_list(config_path: Path | None, offset: int, limit: int, **flt: str | None) -> None:
    """List waiting dead letters, newest first."""
    service = _service(config_path)
    try:
        page = service.deadletters.find(_filter(**flt), offset=offset, limit=limit)
        for letter in page.items:
            click.echo(
                f"{letter.id}  {letter.dead_at:%Y-%m-%d %H:%M:%S}Z  {letter.peer:<8}"
                f" {letter.channel:<28} {letter.subject}  {letter.reason}"
            )
        if page.next_offset is not None:
            click.echo(f"… more: --offset {page.next_offset}", err=True)
    finally:
        service.close()


@dead_letters.command("show")
@_CONFIG
@click.argument("letter_id")
def dl_show(config_path: Path | None, letter_id: str) -> None:
    """Show one dead letter with its record and every attempt."""
    service = _service(config_path)
    try:
        letter = service.deadletters.get(letter_id)
        click.echo(orjson.dumps(letter.to_json(), option=orjson.OPT_INDENT_2).decode())
    except NotFoundError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_NOT_FOUND)
    finally:
        service.close()


@dead_letters.command("replay")
@_CONFIG
@click.argument("letter_ids", nargs=-1)
@_filter_options
@click.option("--all-matching", is_flag=True, help="Replay every letter matching the filter.")
@click.option("--rate", type=float, default=20.0, show_default=True, help="Replays per second.")
@click.option("--actor", default="cli", show_default=True, help="Recorded in the audit log.")
def dl_replay(
    config_path: Path | None,
    letter_ids: tuple[str, ...],
    all_matching: bool,
    rate: float,
    actor: str,
    **flt: str | None,
) -> None:
    """Replay LETTER_IDS, or with --all-matching every letter the filter selects."""
    if bool(letter_ids) == all_matching:
        raise click.UsageError("give letter ids, or --all-matching with a filter (not both)")
    service = _service(config_path)
    try:
        counts: dict[str, int] = {}
        if all_matching:
            with click.progressbar(length=0, label="replaying") as bar:

                def progress(done: int, total: int) -> None:
                    bar.length = total
                    bar.update(1)

                results = service.deadletters.replay_many(
                    _filter(**flt), actor=actor, rate=rate, progress=progress
                )
        else:
            results = [service.deadletters.replay(i, actor=actor) for i in letter_ids]
        for r in results:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
            if not all_matching:
                click.echo(f"{r.id}: {r.outcome} {r.detail}".rstrip())
        click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "nothing to do")
    except NotFoundError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_NOT_FOUND)
    finally:
        service.close()


@dead_letters.command("discard")
@_CONFIG
@click.argument("letter_id")
@click.option("--reason", required=True, help="Why it is given up (kept in the audit log).")
@click.option("--actor", default="cli", show_default=True)
def dl_discard(config_path: Path | None, letter_id: str, reason: str, actor: str) -> None:
    """Give up on one dead letter for good."""
    service = _service(config_path)
    try:
        r = service.deadletters.discard(letter_id, actor=actor, reason=reason)
        click.echo(f"{r.id}: {r.outcome} {r.detail}".rstrip())
    except NotFoundError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_NOT_FOUND)
    finally:
        service.close()


@dead_letters.command("audit")
@_CONFIG
@click.option("--count", type=int, default=50, show_default=True)
def dl_audit(config_path: Path | None, count: int) -> None:
    """Show the newest operator actions (replays, discards), newest first."""
    service = _service(config_path)
    try:
        for entry in service.deadletters.audit(count=count):
            at = datetime.fromtimestamp(int(entry.get("at", "0")) / 1000, tz=UTC)
            extra = entry.get("reason") or entry.get("outcome") or ""
            who, action = entry.get("actor", "?"), entry.get("action", "?")
            click.echo(
                f"{at:%Y-%m-%d %H:%M:%S}Z  {who:<12} {action:<8}"
                f" {entry.get('target', '?')}  {extra}".rstrip()
            )
    finally:
        service.close()


# -- evaluations (Decision 766) ---------------------------------------------------------------


@main.command()
@_CONFIG
@click.option("--agency", required=True, help="Agency code (madonvi); agencies below it count.")
@click.option("--period", required=True, help="2026-10 (month), 2026-Q4 (quarter) or 2026 (year).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--explain", help="An indicator id: list the dossiers that cost its points.")
@click.option("--reported", type=click.IntRange(min=0), help="Dossiers the agency reports.")
def score(
    config_path: Path | None,
    agency: str,
    period: str,
    fmt: str,
    explain: str | None,
    reported: int | None,
) -> None:
    """Print an agency's Decision 766 indicators for a period (exit 2 on a bad argument)."""
    from gateway.evaluations.report import render_json, render_table

    service = _service(config_path, embedded_workers=False)
    try:
        card = service.evaluations.scorecard(agency, period, reported=reported, explain=explain)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    finally:
        service.close()
    click.echo(render_json(card) if fmt == "json" else render_table(card, explain=explain))


@main.command("sync-satisfaction")
@_CONFIG
@click.option("--agency", required=True, help="Agency code (madonvi).")
@click.option("--period", required=True, help="The month, e.g. 2026-10.")
def sync_satisfaction(config_path: Path | None, agency: str, period: str) -> None:
    """Queue an agency's monthly DongBoDanhGia summary for DVCQG (exit 2 on a bad argument).

    Delivered by the workers like every other item; run it again after more ratings and the
    portal's summary is replaced. With the embedded Redis, run it while the gateway is stopped.
    """
    service = _service(config_path, embedded_workers=False)
    try:
        accepted = service.sync_satisfaction(agency, period)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    finally:
        service.close()
    new = sum(1 for a in accepted if a.code == "new")
    click.echo(f"{len(accepted)} procedure row(s) for {agency} {period}: {new} queued")


def _add_audit() -> None:
    from gateway.audit.cli import audit

    main.add_command(audit)


_add_audit()

if __name__ == "__main__":  # pragma: no cover - `python -m gateway.cli`
    main()


# -- sandbox -----------------------------------------------------------------------------------


def _port_option(values: tuple[str, ...]) -> dict[str, int]:
    ports: dict[str, int] = {}
    for value in values:
        name, sep, port = value.partition("=")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise click.BadParameter(f"{value!r}: expected NAME=PORT, like portal=9100")
        ports[name] = int(port)
    return ports


@main.group("sandbox", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="A loopback address.")
@click.option("--port", "ports", multiple=True, metavar="NAME=PORT", help="Port of a simulator.")
@click.option("--profile", type=click.Choice(["strict", "lenient"]), default="strict")
@click.option("--error-rate", type=float, default=0.0, help="HTTP 500 with error_code -1.")
@click.option("--unavailable-rate", type=float, default=0.0, help="HTTP 503, nothing applied.")
@click.option("--timeout-rate", type=float, default=0.0, help="Applied, then no answer.")
@click.option("--drop-rate", type=float, default=0.0, help="Applied, then connection closed.")
@click.option("--latency", type=float, default=0.0, help="Seconds added to slow calls.")
@click.option("--latency-rate", type=float, default=1.0, help="Share of calls made slow.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--session-calls", type=int, help="Calls per portal session (strict: 100).")
@click.option(
    "--hold-seconds",
    type=float,
    default=35.0,
    show_default=True,
    help="How long a timeout fault holds the answer (exceed the client's timeout).",
)
@click.option("--down", multiple=True, metavar="NAME", help="Start a simulator down (503).")
@click.option(
    "--gateway-url",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Where the payment and ministry simulators send their callbacks.",
)
@click.option("--client-id", default="demo", show_default=True, help="Webhook client id.")
@click.option("--webhook-secret", "webhook_secrets", multiple=True, help="whsec_… (repeatable).")
@click.pass_context
def sandbox(ctx: click.Context, /, **opts: Any) -> None:
    """Start a local simulator of every peer, print their URLs and a config snippet.

    Faults apply to every simulator. Runs until Ctrl-C. Each simulator's ledger (what it holds,
    every call counted) is at GET <url>/_sandbox/ledger, or `gateway sandbox ledger NAME`.
    """
    if ctx.invoked_subcommand is not None:
        return
    from pydantic import ValidationError

    from gateway.sandbox import Faults, Sandbox, SandboxOptions

    try:
        faults = Faults(
            error_rate=opts["error_rate"],
            unavailable_rate=opts["unavailable_rate"],
            timeout_rate=opts["timeout_rate"],
            drop_rate=opts["drop_rate"],
            latency=opts["latency"],
            latency_rate=opts["latency_rate"],
            seed=opts["seed"],
        )
    except ValidationError as exc:
        raise click.UsageError(f"fault options: {exc.errors()[0]['msg']}") from exc
    options = SandboxOptions(
        profile=opts["profile"],
        faults=faults,
        session_calls=opts["session_calls"],
        client_id=opts["client_id"],
        webhook_secrets=tuple(opts["webhook_secrets"]),
        down=frozenset(opts["down"]),
        gateway_url=opts["gateway_url"],
    )
    try:
        box = Sandbox(
            options,
            host=opts["host"],
            ports=_port_option(opts["ports"]),
            hold_seconds=opts["hold_seconds"],
        )
        box.start()
    except (ValueError, OSError) as exc:
        click.echo(f"gateway sandbox: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        for spec in box.specs:
            click.echo(f"{spec.name:<10} {box.url(spec.name)}  {spec.summary}")
        click.echo(f"\n# gateway configuration ({options.profile} profile):\n")
        click.echo(box.snippet())
        click.echo("\n# ledgers:")
        for name, url in box.ledger_urls().items():
            click.echo(f"#   curl -s {url}    (or: gateway sandbox ledger {name})")
        click.echo("\nsandbox running; Ctrl-C to stop", err=True)
        sys.stdout.flush()
        stop.wait()
    finally:
        box.stop()


@sandbox.command("ledger")
@click.argument("name")
@click.option("--url", help="Base URL of the simulator (default: its port on 127.0.0.1).")
def sandbox_ledger(name: str, url: str | None) -> None:
    """Print the ledger of the running simulator NAME (portal, webhooks …) as JSON."""
    import httpx

    from gateway.sandbox import LEDGER_PATH, SIMULATORS

    specs = {s.name: s for s in SIMULATORS}
    if name not in specs:
        click.echo(f"no simulator named {name!r}; known: {', '.join(specs)}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    base = (url or f"http://127.0.0.1:{specs[name].default_port}").rstrip("/")
    try:
        answer = httpx.get(base + LEDGER_PATH, timeout=10)
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        click.echo(f"cannot read {base}{LEDGER_PATH}: {exc}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    click.echo(orjson.dumps(answer.json(), option=orjson.OPT_INDENT_2).decode())


# -- payments ----------------------------------------------------------------------------------


@main.group("payments")
def payments_group() -> None:
    """Payments: reconcile with the providers, settle stale payments."""


def _payments(config_path: Path | None) -> Any:
    from gateway.payments import PaymentService

    service = _service(config_path)
    if service.settings.payments is None:
        click.echo("configuration error: no [payments] section", err=True)
        sys.exit(EXIT_CONFIG)
    return PaymentService.build(service.settings.payments, service)


@payments_group.command("reconcile")
@_CONFIG
@click.option("--date", "day", required=True, help="The day (Vietnam time), YYYY-MM-DD.")
@click.option("--provider", type=click.Choice(["paygov", "vnpay"]), help="One provider only.")
@click.option(
    "--csv",
    "statement",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The provider's statement (reference,amount,status); without it, each payment is queried.",
)
def payments_reconcile(
    config_path: Path | None, day: str, provider: str | None, statement: Path | None
) -> None:
    """Print every mismatch between the gateway and the provider; exit 1 if there is any."""
    from gateway.payments import read_statement, reconcile

    try:
        parsed = datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        click.echo(f"--date: {day!r} is not YYYY-MM-DD [date_format]", err=True)
        sys.exit(EXIT_CONFIG)
    try:
        rows = read_statement(statement) if statement is not None else None
    except ContractError as exc:
        for v in exc.violations:
            click.echo(str(v), err=True)
        sys.exit(EXIT_INVALID)
    payments = _payments(config_path)
    try:
        found = reconcile(payments, parsed.strftime("%Y%m%d"), provider=provider, statement=rows)  # type: ignore[arg-type]  # click.Choice gives a Provider
    finally:
        payments.close()
        payments.gateway.close()
    for mismatch in found:
        click.echo(str(mismatch))
    click.echo(f"{len(found)} mismatch(es)", err=True)
    sys.exit(EXIT_INVALID if found else 0)


@payments_group.command("sweep")
@_CONFIG
def payments_sweep(config_path: Path | None) -> None:
    """Query stale payments, settle them, and finish national records and webhooks due."""
    payments = _payments(config_path)
    try:
        report = payments.sweep()
    finally:
        payments.close()
        payments.gateway.close()
    click.echo(orjson.dumps(vars(report)).decode())
