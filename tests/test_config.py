"""The ``[wire]`` and ``[login]`` sections of the configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.config import LoginThrottleSettings, Settings, WireRulesConfig, load_settings
from gateway.errors import ConfigurationError
from gateway.schemas.wire import WireRules

EXAMPLE = Path(__file__).resolve().parents[1] / "gateway.example.toml"


@pytest.fixture(autouse=True)
def _no_gateway_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own GATEWAY_* variables must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, "utf-8")
    return path


def test_defaults_are_the_observed_rules() -> None:
    """Without a [wire] section the rules are WireRules' defaults and [login] is 5/20/300 s."""
    settings = Settings()
    assert settings.wire.rules() == WireRules()
    assert settings.login == LoginThrottleSettings(
        max_failures=5, max_failures_per_ip=20, window_seconds=300
    )


def test_wire_section_from_toml_merges_over_defaults(tmp_path: Path) -> None:
    """A configured limit replaces its default; the others stay; code lists become sets."""
    path = write(
        tmp_path,
        '[wire]\nmax_lengths = { TrichYeuHoSo = 500 }\nsubmission_places = ["1", "2"]\n'
        'database_codes = ["CSDLQGDC"]\n',
    )
    rules = load_settings(path).wire.rules()
    assert rules.max_lengths == {
        "TrichYeuHoSo": 500,
        "NguoiXuLy": 50,
        "TenTepDinhKem": 4000,
        "TenGiayTo": 2000,
    }
    assert rules.submission_places == frozenset({"1", "2"})
    assert rules.database_codes == frozenset({"CSDLQGDC"})


def test_rules_are_built_once() -> None:
    """Every call returns the same WireRules object: nothing is rebuilt per request."""
    wire = WireRulesConfig(max_lengths={"NguoiXuLy": 30})
    assert wire.rules() is wire.rules()


def test_copy_with_update_rebuilds_rules() -> None:
    """A copied section with other limits carries its own rules, not the original's."""
    wire = WireRulesConfig(max_lengths={"NguoiXuLy": 30})
    copy = wire.model_copy(update={"max_lengths": {"NguoiXuLy": 10}})
    assert copy.rules().max_lengths["NguoiXuLy"] == 10
    assert wire.rules().max_lengths["NguoiXuLy"] == 30


def test_environment_names_match_fields_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """GATEWAY_WIRE__MAX_LENGTHS__TRICHYEUHOSO (lowercased by the env source) names TrichYeuHoSo."""
    monkeypatch.setenv("GATEWAY_WIRE__MAX_LENGTHS__TRICHYEUHOSO", "300")
    monkeypatch.setenv("GATEWAY_WIRE__SUBMISSION_PLACES", '["1"]')
    rules = load_settings().wire.rules()
    assert rules.max_lengths["TrichYeuHoSo"] == 300
    assert rules.submission_places == frozenset({"1"})


@pytest.mark.parametrize(
    "section",
    [
        "max_lengths = { TrichYeuHoS = 500 }",  # a typo: no limit is checked on that name
        "max_lengths = { TrichYeuHoSo = 0 }",
        "submission_places = []",  # would refuse every NoiNopHoSo: omit the key instead
        'database_codes = [""]',
        "unknown = 1",
    ],
)
def test_bad_wire_section_is_a_configuration_error(tmp_path: Path, section: str) -> None:
    """Unknown fields, non-positive limits and empty lists or codes are refused at load."""
    with pytest.raises(ConfigurationError):
        load_settings(write(tmp_path, f"[wire]\n{section}\n"))


def test_login_section_from_toml(tmp_path: Path) -> None:
    """[login] sets the limits and window of the login throttle."""
    path = write(tmp_path, "[login]\nmax_failures = 3\nwindow_seconds = 60\n")
    login = load_settings(path).login
    assert (login.max_failures, login.max_failures_per_ip, login.window_seconds) == (3, 20, 60)


def test_example_configuration_loads() -> None:
    """The shipped example is valid as shipped."""
    load_settings(EXAMPLE)


@pytest.mark.parametrize("section", ["wire", "login"])
def test_example_commented_section_is_valid(tmp_path: Path, section: str) -> None:
    """Uncommenting the example's [wire] or [login] block gives a valid configuration."""
    lines = EXAMPLE.read_text("utf-8").splitlines()
    start = lines.index(f"# [{section}]")
    block: list[str] = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line[2:])
    settings = load_settings(write(tmp_path, "\n".join(block) + "\n"))
    assert getattr(settings, section).model_fields_set
