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
    rows = redis_client.xrange(chain.key)
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
