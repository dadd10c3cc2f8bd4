"""``gateway payments reconcile``: every mismatch printed, exit 1 when any, 0 when none."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main

CONFIG = """
namespace = "clipay"
redis_url = "{url}"

[payments.paygov]
base_url = "http://paygov.invalid"
partner_code = "P1"
secret = "s"

[[payments.routes]]
provider = "paygov"
"""


RECONCILE = ["payments", "reconcile", "--date", "2025-12-01"]


def _config(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(CONFIG.format(url=redis_url), encoding="utf-8")
    return path


def test_reconcile_with_a_statement_prints_mismatches_and_exits_1(
    tmp_path: Path, redis_url: str
) -> None:
    """No payments that day, a statement with one transaction: missing_at_gateway, exit 1."""
    statement = tmp_path / "s.csv"
    statement.write_text("reference,amount,status\nX1,1000,paid\n", encoding="utf-8")
    args = ["payments", "reconcile", "--date", "2025-12-01", "--csv", str(statement)]
    result = CliRunner().invoke(main, [*args, "--config", str(_config(tmp_path, redis_url))])
    assert result.exit_code == 1, result.output
    assert "missing_at_gateway - X1 gateway=- provider=paid/1000" in result.output


def test_reconcile_with_nothing_to_compare_exits_0(tmp_path: Path, redis_url: str) -> None:
    """An empty day and an empty statement: no mismatch, exit 0."""
    statement = tmp_path / "s.csv"
    statement.write_text("reference,amount,status\n", encoding="utf-8")
    config = str(_config(tmp_path, redis_url))
    result = CliRunner().invoke(
        main,
        [
            "payments",
            "reconcile",
            "--date",
            "2025-12-01",
            "--csv",
            str(statement),
            "--config",
            config,
        ],
    )
    assert result.exit_code == 0, result.output


def test_bad_date_and_bad_statement_are_refused(tmp_path: Path, redis_url: str) -> None:
    """A date in another shape: exit 2; a statement with a float amount: exit 1 naming it."""
    config = str(_config(tmp_path, redis_url))
    bad_date = CliRunner().invoke(
        main, ["payments", "reconcile", "--date", "01/12/2025", "--config", config]
    )
    assert bad_date.exit_code == 2
    assert "date_format" in bad_date.output
    statement = tmp_path / "s.csv"
    statement.write_text("reference,amount,status\nX,10.5,paid\n", encoding="utf-8")
    bad = CliRunner().invoke(
        main,
        [
            "payments",
            "reconcile",
            "--date",
            "2025-12-01",
            "--csv",
            str(statement),
            "--config",
            config,
        ],
    )
    assert bad.exit_code == 1
    assert "line 2.amount" in bad.output
