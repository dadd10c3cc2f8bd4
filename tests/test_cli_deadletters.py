"""`gateway dead-letters …` against a real Redis, with letters made by the delivery engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from gateway.cli import main
from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.pipeline.outbox import DeliveryState
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import AGENCY, national_dossier

NS = "cli-dl"


@pytest.fixture
def letters(
    redis_url: str, redis_client: redis.Redis
) -> Iterator[tuple[GatewayService, list[str]]]:
    """Three dossiers the portal refused, dead-lettered by a real flush; the portal then heals."""
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    service = GatewayService(Settings(namespace=NS), redis_client, connector)
    numbers = [f"{AGENCY}-250101-{i:04d}" for i in (1, 2, 3)]
    for no in numbers:
        portal.reject(no)
    outs = service.accept(
        Service.DOSSIER, AGENCY, [national_dossier(no) for no in numbers], client="t"
    )
    service.flush(Service.DOSSIER, AGENCY)
    portal.clear_faults()
    ids = [o.delivery_id or "" for o in outs]
    assert {service.outbox.status(i).state for i in ids} == {DeliveryState.DEAD}
    service.fake_portal = portal
    yield service, ids
    connector.close()


def _run(redis_url: str, *args: str) -> Any:
    env = {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_NAMESPACE": NS}
    return CliRunner().invoke(main, ["dead-letters", *args], env=env)


def test_list_shows_every_letter_and_filters_by_reason(
    redis_url: str, letters: tuple[GatewayService, list[str]]
) -> None:
    """`list` prints one line per letter; a reason that matches nothing prints none."""
    _, ids = letters
    result = _run(redis_url, "list")
    assert result.exit_code == 0, result.output
    assert all(i in result.output for i in ids)
    none = _run(redis_url, "list", "--reason", "retry_budget_exhausted")
    assert none.exit_code == 0
    assert not any(i in none.output for i in ids)


def test_show_prints_the_record_and_attempts(
    redis_url: str, letters: tuple[GatewayService, list[str]]
) -> None:
    """`show` prints the original record and the failed attempt as JSON."""
    _, ids = letters
    result = _run(redis_url, "show", ids[0])
    assert result.exit_code == 0, result.output
    assert '"MaHoSo": "000.00.01.H22-250101-0001"' in result.output
    assert '"attempts"' in result.output


def test_show_unknown_letter_exits_3(
    redis_url: str, letters: tuple[GatewayService, list[str]]
) -> None:
    """An id the gateway never dead-lettered is reported, exit code 3."""
    assert _run(redis_url, "show", "999999999999").exit_code == 3


def test_replay_twice_delivers_once_and_is_audited(
    redis_url: str, letters: tuple[GatewayService, list[str]]
) -> None:
    """Replaying a letter twice queues it once; the audit shows both actions by the actor."""
    service, ids = letters
    first = _run(redis_url, "replay", ids[0], "--actor", "op-an")
    second = _run(redis_url, "replay", ids[0], "--actor", "op-an")
    assert "queued" in first.output
    assert "already" in second.output
    service.flush(Service.DOSSIER, AGENCY)
    assert service.outbox.status(ids[0]).state is DeliveryState.DELIVERED
    audit = _run(redis_url, "audit")
    assert audit.output.count("op-an") == 2


def test_replay_all_matching_with_progress(
    redis_url: str, letters: tuple[GatewayService, list[str]]
) -> None:
    """`replay --all-matching` replays every matching letter and counts the outcomes."""
    service, ids = letters
    result = _run(redis_url, "replay", "--all-matching", "--peer", "dvcqg", "--rate", "1000")
    assert result.exit_code == 0, result.output
    assert "queued: 3" in result.output
    service.flush(Service.DOSSIER, AGENCY)
    assert {service.outbox.status(i).state for i in ids} == {DeliveryState.DELIVERED}


def test_replay_needs_ids_or_a_filter(
    redis_url: str, letters: tuple[GatewayService, list[str]]
) -> None:
    """Neither ids nor --all-matching is a usage error (exit 2), and nothing is replayed."""
    result = _run(redis_url, "replay")
    assert result.exit_code == 2
    assert _run(redis_url, "list").output.count("dvcqg.DongBoHoSoMC") == 3


def test_discard_needs_a_reason_and_is_final(
    redis_url: str, letters: tuple[GatewayService, list[str]]
) -> None:
    """`discard` requires --reason; a discarded letter leaves the list and cannot be replayed."""
    _, ids = letters
    assert _run(redis_url, "discard", ids[1]).exit_code == 2
    done = _run(redis_url, "discard", ids[1], "--reason", "hồ sơ nhập trùng")
    assert done.exit_code == 0
    assert "discarded" in done.output
    assert ids[1] not in _run(redis_url, "list").output
    assert "already" in _run(redis_url, "replay", ids[1]).output
