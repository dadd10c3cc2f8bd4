"""The gateway command: validate and convert on the shipped samples and hand-broken copies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "contracts" / "samples"
ALL = sorted(SAMPLES.glob("provincial/*.json")) + sorted(SAMPLES.glob("national/*.json"))
ALL += sorted(SAMPLES.glob("xml/*.xml"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_validates(path: Path) -> None:
    """Each shipped sample is valid and the command exits 0."""
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_broken_copy_lists_every_error_with_its_field(tmp_path: Path) -> None:
    """A hand-broken dossier exits 1 and names each broken field with its rule."""
    data = json.loads((SAMPLES / "national" / "dossier-2-processing.json").read_text("utf-8"))
    data["NgayTiepNhan"] = "20250310250000"
    data["TrangThaiHoSo"] = "11"
    data["MaHoSo"] = "H22-2503-7"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    result = CliRunner().invoke(main, ["validate", str(broken)])
    assert result.exit_code == 1
    for expected in (
        "NgayTiepNhan",
        "[wire_datetime]",
        "TrangThaiHoSo",
        "MaHoSo",
        "[dossier_number_shape]",
    ):
        assert expected in result.output


def test_broken_provincial_names_the_field(tmp_path: Path) -> None:
    """A provincial record with a naive datetime is refused at that field."""
    data = json.loads((SAMPLES / "provincial" / "dossier-1-received.json").read_text("utf-8"))
    data["received_at"] = "2025-03-10T08:30:00"
    broken = tmp_path / "naive.json"
    broken.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    result = CliRunner().invoke(main, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "received_at" in result.output


def test_unsafe_xml_is_refused(tmp_path: Path) -> None:
    """An XXE attempt is refused, and the file it names never appears in the output."""
    result = CliRunner().invoke(main, ["validate", str(SAMPLES / "xml" / "broken" / "xxe.xml")])
    assert result.exit_code == 1
    assert "xml_dtd_forbidden" in result.output
    assert "root:x:0:0" not in result.output


@pytest.mark.parametrize("target", ["xml", "national", "provincial", "json"])
def test_convert_round_trips_through_every_form(target: str, tmp_path: Path) -> None:
    """Provincial → <target> → national equals provincial → national directly."""
    source = SAMPLES / "provincial" / "dossier-5-returned.json"
    runner = CliRunner()
    first = runner.invoke(main, ["convert", str(source), "--to", target])
    assert first.exit_code == 0, first.output
    middle = tmp_path / ("packet.xml" if target == "xml" else "packet.json")
    middle.write_bytes(first.stdout_bytes)
    again = runner.invoke(main, ["convert", str(middle), "--to", "national"])
    direct = runner.invoke(main, ["convert", str(source), "--to", "national"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout_bytes) == json.loads(direct.stdout_bytes)


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    """A file that does not exist is reported, exit code 2."""
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.json")])
    assert result.exit_code == 2


def _strict_config(tmp_path: Path) -> Path:
    # The sample summaries are 135 characters; the default limit is 1000.
    path = tmp_path / "strict.toml"
    path.write_text("[wire]\nmax_lengths = { TrichYeuHoSo = 100 }\n", "utf-8")
    return path


@pytest.mark.parametrize("form", ["national", "provincial"])
def test_validate_applies_configured_wire_rules(tmp_path: Path, form: str) -> None:
    """With --config, a limit lowered in [wire] refuses a sample the defaults accept."""
    source = str(SAMPLES / form / "dossier-1-received.json")
    runner = CliRunner()
    assert runner.invoke(main, ["validate", source]).exit_code == 0
    result = runner.invoke(main, ["validate", "--config", str(_strict_config(tmp_path)), source])
    assert result.exit_code == 1
    assert "TrichYeuHoSo" in result.output
    assert "[string_too_long]" in result.output


def test_convert_takes_rules_from_gateway_config(tmp_path: Path) -> None:
    """GATEWAY_CONFIG names the configuration for convert as for the other commands."""
    source = str(SAMPLES / "provincial" / "dossier-1-received.json")
    env = {"GATEWAY_CONFIG": str(_strict_config(tmp_path))}
    result = CliRunner().invoke(main, ["convert", source, "--to", "xml"], env=env)
    assert result.exit_code == 1
    assert "[string_too_long]" in result.output


def test_validate_with_bad_config_exits_2(tmp_path: Path) -> None:
    """An invalid [wire] section is a configuration error, exit code 2."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[wire]\nmax_lengths = { NoSuchField = 3 }\n", "utf-8")
    source = str(SAMPLES / "national" / "dossier-1-received.json")
    result = CliRunner().invoke(main, ["validate", "--config", str(bad), source])
    assert result.exit_code == 2
    assert "NoSuchField" in result.output


@pytest.mark.network
def test_fake_portal_command_serves_and_stops_on_sigterm() -> None:
    """`gateway fake-portal` prints its URL, answers a login over loopback and stops cleanly."""
    import signal
    import subprocess
    import sys

    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "fake-portal", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("fake DVCQG portal at http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        reply = httpx.post(
            f"{url}/api/auth",
            json={"username": "gateway", "password": "fake-portal-password"},
            headers={"dstcode": "000.00.00.H22"},
        )
        assert reply.json()["error_code"] in (0, "0")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "stopped; it held 0 dossier(s)" in out
