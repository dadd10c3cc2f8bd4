"""Configuration of ministry systems: which procedures go where, and how each system is reached.

.. code-block:: toml

    [[ministry.routes]]
    name = "lltp"                      # stable: part of the hand-over's identity
    procedures = ["1.001234", "2.0009*"]  # exact MaTTHC codes, or prefixes ending in "*"
    system = "lltp"                    # a [peers.<system>] section
    profile = "lltp"                   # a registered profile (profile.PROFILES)
    progress = true                    # also post DVCQG progress steps (CapNhatTienDoHoSoMC)
    options = { office = "000.00.01.H26" }  # validated by the profile's options model

    [peers.lltp]
    base_url = "https://lgsp.example.gov.vn/apiLyLichTuPhap/"
    token_url = "https://lgsp.example.gov.vn/token"
    client_id = "gateway"
    client_secret = "…"
    poll_seconds = 300
    retry = { initial = 2.0 }          # the core's keys, as for every peer
    breaker = { failure_threshold = 5 }

A procedure pattern is an exact code or a prefix ending in ``*`` (nothing else is a wildcard), so
whether two routes overlap is decidable: two routes that can both match one code are refused when
the configuration loads, with both routes named.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

__all__ = ["MinistrySettings", "Route", "SystemConfig", "patterns_overlap"]

Pattern = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^*]*\*?$")]
_Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


def _matches(pattern: str, code: str) -> bool:
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return code == pattern


def patterns_overlap(a: str, b: str) -> bool:
    """True when some procedure code matches both patterns (exact or trailing-``*`` prefix)."""
    if a.endswith("*") and b.endswith("*"):
        pa, pb = a[:-1], b[:-1]
        return pa.startswith(pb) or pb.startswith(pa)
    if a.endswith("*"):
        return _matches(a, b)
    if b.endswith("*"):
        return _matches(b, a)
    return a == b


class Route(BaseModel):
    """One routing rule: dossiers of these procedures go to this system, spoken by this profile."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: _Name
    procedures: tuple[Pattern, ...] = Field(min_length=1)
    system: _Name
    profile: _Name
    progress: bool = False
    """Post each status change as a DVCQG progress step too."""
    handler: str = Field("Bộ Tư pháp", min_length=1, max_length=50)
    """``NguoiXuLy`` of the progress steps posted for this route."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The profile's route options (validated against its ``ProfileType.options``)."""

    def matches(self, procedure: str) -> bool:
        """True when ``procedure`` (a ``MaTTHC``) is one of this route's."""
        return any(_matches(p, procedure) for p in self.procedures)


class SystemConfig(BaseModel):
    """``[peers.<system>]`` of a ministry system. The core's ``retry``, ``breaker`` and
    ``concurrency`` keys sit beside these and are taken out by the core first
    (``gateway.pipeline.peers``), as for every peer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(pattern=r"^https?://")
    token_url: str | None = Field(None, pattern=r"^https?://")
    """OAuth2 client-credentials token endpoint at the LGSP; ``None``: no auth (sandbox only)."""
    client_id: str | None = None
    client_secret: SecretStr | None = None
    client_auth: Literal["basic", "post"] = "basic"
    """How the client authenticates at the token endpoint (RFC 6749 §2.3.1)."""
    scope: str | None = None
    refresh_margin_seconds: float = Field(60.0, ge=0)
    """Fetch a new token this long before the current one expires."""
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    poll_seconds: float = Field(300.0, gt=0)
    """How often open cases are polled (``find``)."""
    feed_seconds: float = Field(60.0, gt=0)
    """How often the changed-cases feed is read, for profiles that have one."""
    callback_secret: SecretStr | None = None
    """Bearer token the ministry must present at ``/v1/ministries/<system>/callback``; ``None``
    refuses every callback."""
    options: dict[str, Any] = Field(default_factory=dict)
    """System-wide profile settings (catalogue codes, agency codes …)."""

    @field_validator("callback_secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty secret would match the empty token of a request carrying none.
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty (leave it out to refuse every callback)")
        return value

    @model_validator(mode="after")
    def _credentials_together(self) -> Self:
        if self.token_url is not None and (self.client_id is None or self.client_secret is None):
            raise ValueError("token_url needs client_id and client_secret")
        return self

    @property
    def max_call_seconds(self) -> float:
        """One hand-over at most: token fetch, call, and after a 401 a token fetch and the call
        again, four requests, each bounded by its pool wait and connect (``connect_timeout``)
        and its write and read (``read_timeout``), as :func:`~.http.system_client` sets them."""
        return 4 * 2 * (self.connect_timeout + self.read_timeout)


class MinistrySettings(BaseModel):
    """``[ministry]``: the routes. ``None`` in Settings (the default) hands nothing over."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    routes: tuple[Route, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _routes_disjoint(self) -> Self:
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"route names must be unique: {', '.join(dup)}")
        for i, a in enumerate(self.routes):
            for b in self.routes[i + 1 :]:
                for pa in a.procedures:
                    for pb in b.procedures:
                        if patterns_overlap(pa, pb):
                            raise ValueError(
                                f"routes {a.name!r} ({pa}) and {b.name!r} ({pb}) both match"
                                " one procedure: a dossier must have one route"
                            )
        profiles: dict[str, str] = {}
        for r in self.routes:
            if profiles.setdefault(r.system, r.profile) != r.profile:
                raise ValueError(
                    f"system {r.system!r} is named with profiles {profiles[r.system]!r} and"
                    f" {r.profile!r}: one system speaks one profile"
                )
        return self

    @property
    def systems(self) -> frozenset[str]:
        """The systems some route names (each needs a ``[peers.<system>]``)."""
        return frozenset(r.system for r in self.routes)

    def route_for(self, procedure: str) -> Route | None:
        """The route of ``procedure``, ``None`` when the dossier is not handed over."""
        for route in self.routes:
            if route.matches(procedure):
                return route
        return None
