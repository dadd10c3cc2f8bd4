"""Ministry routing is checked when the gateway's configuration loads, never at hand-over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_settings
from gateway.errors import ConfigurationError

_PEER = {"base_url": "http://lgsp.test/apiLyLichTuPhap/"}


def _route(name: str, *procedures: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "procedures": list(procedures),
        "system": "lltp",
        "profile": "lltp",
        "options": {"office": "STP"},
        **extra,
    }


def _load(routes: list[dict[str, Any]], peers: dict[str, Any] | None = None) -> Any:
    return load_settings(
        None, ministry={"routes": routes}, peers=peers if peers is not None else {"lltp": _PEER}
    )


def test_two_routes_matching_one_procedure_are_refused_at_start() -> None:
    """A procedure both an exact route and a prefix route match: refused, naming both."""
    with pytest.raises(ConfigurationError) as info:
        _load([_route("judicial", "2.000488"), _route("all_two", "2.*")])
    assert "'judicial'" in str(info.value)
    assert "'all_two'" in str(info.value)


def test_route_to_an_unconfigured_system_is_refused() -> None:
    """A route's system needs its [peers.<system>] section."""
    with pytest.raises(ConfigurationError, match=r"peers\.lltp"):
        _load([_route("judicial", "2.000488")], peers={})


def test_unknown_profile_is_refused() -> None:
    """A route naming no registered profile is refused with the known ones listed."""
    with pytest.raises(ConfigurationError, match="no profile 'nope'"):
        _load([_route("judicial", "2.000488", profile="nope")])


def test_route_options_are_checked_by_the_profile() -> None:
    """LLTP routes need the receiving office."""
    with pytest.raises(ConfigurationError, match="office"):
        _load([_route("judicial", "2.000488", options={})])


def test_secret_is_not_echoed() -> None:
    """A bad system section is named by field; the client secret never appears."""
    peers = {"lltp": {**_PEER, "token_url": "http://lgsp.test/token", "client_secret": "s3cr3t"}}
    with pytest.raises(ConfigurationError) as info:
        _load([_route("judicial", "2.000488")], peers=peers)
    assert "s3cr3t" not in str(info.value)


def test_valid_routing_loads_from_toml(tmp_path: Path) -> None:
    """The README's snippet shape loads, and routes the sample procedure."""
    path = tmp_path / "gateway.toml"
    path.write_text(
        """
[[ministry.routes]]
name = "lltp"
procedures = ["2.000488", "2.0005*"]
system = "lltp"
profile = "lltp"
progress = true
options = { office = "STP-H22" }

[peers.lltp]
base_url = "http://127.0.0.1:9600/apiLyLichTuPhap/"
token_url = "http://127.0.0.1:9600/token"
client_id = "gateway"
client_secret = "lltp-sandbox-secret"
retry = { initial = 2.0 }
""",
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.ministry is not None
    route = settings.ministry.route_for("2.000512")
    assert route is not None
    assert route.system == "lltp"
    assert settings.ministry_system("lltp").client_secret is not None
    assert settings.peer_config("lltp")[1].retry is not None


def test_system_options_are_checked_by_the_profile() -> None:
    """[peers.lltp] options the LLTP profile does not know are refused at start."""
    peers = {"lltp": {**_PEER, "options": {"info_typo": 2}}}
    with pytest.raises(ConfigurationError, match=r"peers\.lltp\.options\.info_typo"):
        _load([_route("judicial", "2.000488")], peers=peers)
