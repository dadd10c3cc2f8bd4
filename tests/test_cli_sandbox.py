"""``gateway sandbox``: starts every simulator, prints URLs, a config snippet and the ledgers."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tomllib

import httpx
import orjson
import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.config import load_settings
from gateway.sandbox import Sandbox

START = "from gateway.cli import main; main()"


@pytest.mark.network
def test_sandbox_prints_urls_and_a_snippet_then_stops_on_ctrl_c() -> None:
    """The snippet is TOML in the documented shape; ledgers answer; SIGINT exits 0."""
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-c",
            START,
            "sandbox",
            "--port",
            "portal=0",
            "--port",
            "webhooks=0",
            "--port",
            "population=0",
            "--port",
            "paygov=0",
            "--port",
            "vnpay=0",
            "--port",
            "lltp=0",
            "--port",
            "hotich=0",
            "--port",
            "soap_ministry=0",
            "--port",
            "rest_ministry=0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        try:
            out = _read_until_ledgers(child)
            ledgers = re.findall(r"curl -s (\S+)", out)
            assert len(ledgers) == 9
            assert httpx.get(ledgers[5]).json()["cases"] == {}
            portal = httpx.get(ledgers[0]).json()
            assert portal["profile"] == "strict"
            assert portal["dossiers"] == {}
            assert httpx.get(ledgers[1]).json()["clients"] == ["demo"]
            assert httpx.get(ledgers[2]).json() == {"calls": [], "outcomes": {}}
        finally:
            child.send_signal(signal.SIGINT)
            child.communicate(timeout=10)
    assert child.returncode == 0
    snippet = out.split("(strict profile):\n\n", 1)[1].split("\n# ledgers:", 1)[0]
    config = tomllib.loads(snippet)
    assert list(config) == ["dvcqg", "clients", "identity", "payments", "ministry", "peers"]
    assert list(config["dvcqg"]) == ["base_url", "username", "password", "dstcode"]
    (client,) = config["clients"]
    assert list(client) == [
        "id",
        "api_key",
        "username",
        "password",
        "agencies",
        "webhook_url",
        "webhook_secrets",
    ]
    assert client["agencies"] == ["*"]
    assert client["webhook_url"].endswith("/hooks/demo")
    assert client["webhook_secrets"][0].startswith("whsec_")
    # The snippet is a configuration the gateway accepts as it is.
    settings = load_settings(**config)
    assert settings.identity is not None
    assert settings.identity.population.profile == "lgsp"
    assert settings.payments is not None
    assert settings.payments.provider_for("000.00.01.H22", "1.001612") == "paygov"
    assert settings.payments.provider_for("000.00.02.H22", "1.001612") == "vnpay"
    assert settings.ministry is not None
    route = settings.ministry.route_for("2.000488")
    assert route is not None
    assert route.system == "lltp"


def _read_until_ledgers(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    lines: list[str] = []
    for line in child.stdout:
        lines.append(line)
        if line.startswith("#   curl") and "ledger rest_ministry" in line:
            break
    return "".join(lines)


@pytest.mark.network
def test_sandbox_ledger_prints_a_running_simulators_ledger() -> None:
    """``gateway sandbox ledger portal --url …`` prints the JSON the simulator serves."""
    with Sandbox(ports={"portal": 0, "webhooks": 0}) as box:
        result = CliRunner().invoke(
            main, ["sandbox", "ledger", "portal", "--url", box.url("portal")]
        )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["simulator"] == "portal"


def test_sandbox_refuses_bad_options_with_exit_2() -> None:
    """Rates past one, a public host, a malformed port: usage errors, nothing started."""
    runner = CliRunner()
    rates = runner.invoke(main, ["sandbox", "--error-rate", "0.7", "--drop-rate", "0.7"])
    assert rates.exit_code == 2
    assert "add up" in rates.output
    public = runner.invoke(main, ["sandbox", "--host", "0.0.0.0"])  # noqa: S104 - refused
    assert public.exit_code == 2
    assert "loopback" in public.output
    port = runner.invoke(main, ["sandbox", "--port", "portal"])
    assert port.exit_code == 2
    unknown = runner.invoke(main, ["sandbox", "ledger", "ministry"])
    assert unknown.exit_code == 3
