"""`gateway audit verify|export` against a real Redis holding a chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import redis
from click.testing import CliRunner

from gateway.audit import AuditChain
from gateway.cli import main
from tests._redis import xrange

NS = "cli-audit"


def _run(redis_url: str, *args: str) -> Any:
    env = {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_NAMESPACE": NS}
    return CliRunner().invoke(main, ["audit", *args], env=env)


def test_verify_ok_then_names_the_tampered_entry(redis_url: str, redis_client: redis.Redis) -> None:
    """`verify` exits 0 on an intact chain, and 1 naming entry 2 once it was altered."""
    chain = AuditChain(redis_client, NS)
    for n in range(3):
        chain.append("operator", {"action": "discard", "reason": f"r{n}"})
    ok = _run(redis_url, "verify")
    assert ok.exit_code == 0, ok.output
    assert "ok: 3 entries" in ok.output
    rows = xrange(redis_client, chain.key)
    redis_client.delete(chain.key)
    for entry_id, fields in rows:
        doc = orjson.loads(fields[b"body"])
        if doc["seq"] == 2:
            doc["reason"] = "edited"
        fields[b"body"] = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        redis_client.xadd(chain.key, fields, id=entry_id)  # type: ignore[arg-type]  # bytes keys are valid fields
    bad = _run(redis_url, "verify")
    assert bad.exit_code == 1
    assert f"BROKEN at entry 2 (stream id {rows[1][0].decode()})" in bad.output


def test_export_writes_json_lines_in_the_window(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """`export --from --to` writes one JSON object per entry; a window in the past is empty."""
    chain = AuditChain(redis_client, NS)
    for n in range(2):
        chain.append("exchange", {"peer": "dvcqg", "n": n})
    out = tmp_path / "audit.jsonl"
    result = _run(redis_url, "export", "--from", "2020-01-01", "--to", "2100-01-01", "-o", str(out))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["kind"], e["n"], e["seq"]) for e in lines] == [
        ("exchange", 0, 1),
        ("exchange", 1, 2),
    ]
    assert all(len(e["hash"]) == 64 for e in lines)
    past = _run(redis_url, "export", "--to", "2001-01-01")
    assert past.exit_code == 0
    assert past.stdout == ""


def _dated_chain(redis_client: redis.Redis, days: int) -> AuditChain:
    """A chain of ``days`` entries, one appended on each day from 2020-01-01 (the stream ids
    rewritten to those days; bodies and hashes, hence every link, unchanged)."""
    chain = AuditChain(redis_client, NS)
    for n in range(days):
        chain.append("operator", {"action": "replay", "n": n})
    rows = xrange(redis_client, chain.key)
    redis_client.delete(chain.key)
    day0 = 1_577_836_800_000  # 2020-01-01 00:00 UTC
    for i, (_, fields) in enumerate(rows):
        redis_client.xadd(chain.key, fields, id=f"{day0 + i * 86_400_000}-0")  # type: ignore[arg-type]  # bytes keys are valid fields
    return chain


def test_archive_exports_then_trims_and_verify_still_passes(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """Entries of the first two days go to the file and leave Redis; the rest still verifies
    from the anchor; new entries chain on; a second archive continues from the first."""
    chain = _dated_chain(redis_client, 5)
    out = tmp_path / "archive.jsonl"
    done = _run(redis_url, "archive", "--before", "2020-01-03", "-o", str(out))
    assert done.exit_code == 0, done.output
    archived = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in archived] == [1, 2]
    assert chain.anchor() == f"2:{archived[-1]['hash']}"
    kept = xrange(redis_client, chain.key)
    assert [orjson.loads(f[b"body"])["seq"] for _, f in kept] == [3, 4, 5]
    ok = _run(redis_url, "verify")
    assert ok.exit_code == 0, ok.output
    assert "ok: 3 entries (after 2 archived)" in ok.output
    chain.append("operator", {"action": "discard"})
    assert chain.verify().ok
    again = _run(redis_url, "archive", "--before", "2020-01-05", "-o", str(tmp_path / "b.jsonl"))
    assert again.exit_code == 0, again.output
    result = chain.verify()
    assert (result.ok, result.archived, result.entries) == (True, 4, 2)


def test_after_an_archive_tampering_is_still_named(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """An edited entry after the anchor, or an edited anchor, breaks verify at the first
    entry in Redis."""
    chain = _dated_chain(redis_client, 4)
    _run(redis_url, "archive", "--before", "2020-01-03", "-o", str(tmp_path / "a.jsonl"))
    redis_client.set(chain.anchor_key, "2:" + "f" * 64)
    bad = _run(redis_url, "verify")
    assert bad.exit_code == 1
    assert "BROKEN at entry 3" in bad.output
    assert "prev does not match" in bad.output


def test_archive_refuses_a_broken_chain_and_the_future(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """Nothing is trimmed from a chain that does not verify; --before may not be ahead."""
    chain = _dated_chain(redis_client, 3)
    rows = xrange(redis_client, chain.key)
    redis_client.delete(chain.key)
    for i, (entry_id, fields) in enumerate(rows):
        if i == 0:
            doc = orjson.loads(fields[b"body"])
            doc["n"] = 99
            fields[b"body"] = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        redis_client.xadd(chain.key, fields, id=entry_id)  # type: ignore[arg-type]  # bytes keys are valid fields
    refused = _run(redis_url, "archive", "--before", "2020-01-03", "-o", str(tmp_path / "x"))
    assert refused.exit_code == 1
    assert "does not verify" in refused.output
    assert redis_client.xlen(chain.key) == 3
    assert chain.anchor() is None
    future = _run(redis_url, "archive", "--before", "2999-01-01", "-o", str(tmp_path / "y"))
    assert future.exit_code == 2
    assert redis_client.xlen(chain.key) == 3
