"""``gateway audit verify``, ``gateway audit export --from --to`` (JSON lines) and
``gateway audit archive --before -o FILE`` (export, then trim, keeping the chain's anchor).

Exit codes as the rest of the CLI: 0 the chain is unbroken, 1 it is broken (the first bad entry
is named), 2 configuration error.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
import orjson

__all__ = ["audit"]

_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GATEWAY_CONFIG",
    help="TOML configuration file (environment GATEWAY_* overrides it).",
)


def _open(config_path: Path | None) -> Any:
    from gateway.cli import EXIT_CONFIG, _service

    service = _service(config_path)
    if service.audit is None:
        service.close()
        click.echo("configuration error: [audit] enabled = false: there is no chain", err=True)
        sys.exit(EXIT_CONFIG)
    return service


def _ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit trail: peer exchanges, identity look-ups, operator actions."""


@audit.command("verify")
@_CONFIG
def verify(config_path: Path | None) -> None:
    """Check every link of the chain; name the first entry that does not follow."""
    service = _open(config_path)
    try:
        result = service.audit.verify()
    finally:
        service.close()
    if result.ok:
        since = f" (after {result.archived} archived)" if result.archived else ""
        click.echo(f"ok: {result.entries} entries{since}, unbroken; head {result.head}")
        return
    b = result.broken
    click.echo(
        f"BROKEN at entry {b.seq} (stream id {b.entry_id}): {b.problem};"
        f" {result.entries} entries before it are intact",
        err=True,
    )
    sys.exit(1)


@audit.command("export")
@_CONFIG
@click.option("--from", "start", type=click.DateTime(), help="From this time (UTC), inclusive.")
@click.option("--to", "end", type=click.DateTime(), help="Until this time (UTC), inclusive.")
@click.option(
    "--output", "-o", type=click.File("wb"), default="-", help="File to write (stdout by default)."
)
def export(
    config_path: Path | None, start: datetime | None, end: datetime | None, output: IO[bytes]
) -> None:
    """Write the entries appended between two times as JSON lines, oldest first."""
    service = _open(config_path)
    try:
        count = 0
        for entry in service.audit.export(_ms(start), _ms(end)):
            output.write(orjson.dumps(entry) + b"\n")
            count += 1
    finally:
        service.close()
    click.echo(f"{count} entries", err=True)


@audit.command("archive")
@_CONFIG
@click.option(
    "--before",
    type=click.DateTime(),
    required=True,
    help="Archive the entries appended before this time (UTC); not in the future.",
)
@click.option(
    "--output", "-o", type=click.File("wb"), required=True, help="The archive file to write."
)
def archive(config_path: Path | None, before: datetime, output: IO[bytes]) -> None:
    """Write the entries older than --before to a file, then trim them from Redis.

    The last archived entry becomes the chain's anchor, so ``verify`` still proves the rest
    unbroken. Keep the file (and the printed anchor): it is the only copy of those entries.
    """
    before_ms = _ms(before)
    assert before_ms is not None  # noqa: S101 - the option is required
    if before_ms > int(datetime.now(tz=UTC).timestamp() * 1000):
        raise click.UsageError("--before is in the future")
    service = _open(config_path)
    try:
        try:
            done = service.audit.archive(before_ms, output)
        except (ValueError, RuntimeError) as exc:
            click.echo(f"not archived: {exc}", err=True)
            sys.exit(1)
    finally:
        service.close()
    if done is None:
        click.echo("nothing older than --before; nothing archived", err=True)
        return
    click.echo(
        f"archived {done.entries} entries; the chain now starts after {done.anchor}", err=True
    )
