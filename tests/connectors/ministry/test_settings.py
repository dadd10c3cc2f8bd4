"""Ministry routing configuration: one route per procedure, checked when the config loads."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from gateway.connectors.ministry import MinistrySettings, patterns_overlap


def _route(
    name: str, *procedures: str, system: str = "lltp", profile: str = "lltp"
) -> dict[str, object]:
    return {"name": name, "procedures": list(procedures), "system": system, "profile": profile}


def test_exact_and_prefix_routing() -> None:
    """An exact code and a prefix route their procedures; others are not handed over."""
    s = MinistrySettings.model_validate(
        {"routes": [_route("a", "1.001"), _route("b", "2.00*", system="ht", profile="hotich")]}
    )
    assert s.route_for("1.001").name == "a"  # type: ignore[union-attr]  # asserted not None by the test
    assert s.route_for("2.0045").name == "b"  # type: ignore[union-attr]  # same
    assert s.route_for("1.0011") is None


@pytest.mark.parametrize(
    ("a", "b"),
    [("1.001", "1.001"), ("1.0*", "1.001"), ("1.*", "1.00*"), ("*", "9.9")],
)
def test_overlapping_routes_are_refused_naming_both(a: str, b: str) -> None:
    """Two routes that can match one procedure are a configuration error naming both."""
    with pytest.raises(ValidationError) as info:
        MinistrySettings.model_validate(
            {"routes": [_route("first", a), _route("second", b, system="x", profile="y")]}
        )
    text = str(info.value)
    assert "'first'" in text
    assert "'second'" in text


@pytest.mark.parametrize(("a", "b"), [("1.001", "1.002"), ("1.0*", "1.1*"), ("1.0*", "1.1")])
def test_disjoint_patterns(a: str, b: str) -> None:
    """Patterns that share no code do not overlap, either way round."""
    assert not patterns_overlap(a, b)
    assert not patterns_overlap(b, a)


def test_star_only_at_the_end() -> None:
    """A star inside a pattern is refused (only trailing prefixes are wildcards)."""
    with pytest.raises(ValidationError):
        MinistrySettings.model_validate({"routes": [_route("a", "1.*.2")]})


def test_one_system_one_profile() -> None:
    """A system named with two profiles is refused."""
    with pytest.raises(ValidationError, match="one system speaks one profile"):
        MinistrySettings.model_validate(
            {"routes": [_route("a", "1"), _route("b", "2", profile="other")]}
        )


def test_every_shipped_profile_is_found_by_name_in_a_fresh_interpreter() -> None:
    """A config file names profiles; nothing else imports their modules before start-up."""
    code = (
        "from gateway.connectors.ministry.profile import PROFILES, PROFILE_MODULES, profile_type\n"
        "names = ('lltp', 'hotich', 'soap', 'rest')\n"
        "assert not set(names) & set(PROFILES), sorted(PROFILES)\n"
        "assert set(names) <= set(PROFILE_MODULES)\n"
        "print(','.join(profile_type(n).name for n in names))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed program
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lltp,hotich,soap,rest"
