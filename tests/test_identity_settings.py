"""``[identity]`` configuration: the example section parses; mistakes are named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import load_settings
from gateway.errors import ConfigurationError

EXAMPLE = Path(__file__).resolve().parents[1] / "gateway.example.toml"


def example_with_identity() -> str:
    """The example configuration with its commented [identity] block switched on."""
    text = EXAMPLE.read_text("utf-8")
    block = re.search(r"# \[identity\]\n(?:# .*\n)+", text)
    assert block is not None
    enabled = "\n".join(line[2:] for line in block.group(0).splitlines()) + "\n"
    return text.replace(block.group(0), enabled)


def test_example_identity_section_parses(tmp_path: Path) -> None:
    """Uncommented, the example's [identity] gives a typed configuration."""
    path = tmp_path / "gateway.toml"
    path.write_text(example_with_identity(), "utf-8")
    settings = load_settings(path)
    assert settings.identity is not None
    assert settings.identity.population.profile == "lgsp"
    assert settings.identity.entitlement("demo-province") == (
        "HoVaTen",
        "NgayThangNamSinh",
        "ThuongTru",
    )
    assert settings.identity.entitlement("demo-operator") is None
    assert settings.identity.breaker.failure_threshold == 5


def test_without_the_section_there_are_no_identity_checks() -> None:
    """The example as shipped configures none."""
    assert load_settings(EXAMPLE).identity is None


def test_unknown_entitled_field_is_named(tmp_path: Path) -> None:
    """An entitlement naming a field the record lacks is refused, naming it."""
    path = tmp_path / "gateway.toml"
    path.write_text(example_with_identity().replace('"ThuongTru"]', '"SoDienThoai"]'), "utf-8")
    with pytest.raises(ConfigurationError, match="SoDienThoai"):
        load_settings(path)


def test_lgsp_needs_client_credentials(tmp_path: Path) -> None:
    """The lgsp profile without a client secret is a configuration error; the secret unquoted."""
    path = tmp_path / "gateway.toml"
    path.write_text(
        example_with_identity().replace('client_secret = "simulator-secret"', ""), "utf-8"
    )
    with pytest.raises(ConfigurationError, match="client_id and client_secret"):
        load_settings(path)
