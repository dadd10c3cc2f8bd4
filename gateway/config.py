"""The gateway's configuration: one typed object, read once at the edge (CLI or app factory).

Sources, later wins: defaults, a TOML file (``--config`` or ``GATEWAY_CONFIG``), environment
variables ``GATEWAY_<FIELD>`` with ``__`` between nested fields (``GATEWAY_DVCQG__BASE_URL``).
Nothing here reaches the network by itself: with no ``redis_url`` the gateway starts its own
private Redis; with no ``dvcqg`` section it delivers to an in-process fake portal and says so.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.audit.settings import AuditSettings
from gateway.connectors.dvcqg import DvcqgConfig
from gateway.connectors.ministry.profile import PROFILE_MODULES, PROFILES, profile_type
from gateway.connectors.ministry.settings import MinistrySettings, SystemConfig
from gateway.connectors.registry import peer_types
from gateway.errors import ConfigurationError
from gateway.evaluations.settings import EvaluationSettings
from gateway.identity_settings import IdentitySettings
from gateway.observability.trace_settings import TraceSettings
from gateway.payment_settings import PaymentSettings
from gateway.pipeline.engine import EngineSettings
from gateway.pipeline.peers import PeerDelivery, split_section
from gateway.pipeline.retry import RetryPolicy
from gateway.schemas.policy import DEFAULT_POLICIES, IntakePolicy, Policy, Quirk
from gateway.schemas.wire import WireRules

__all__ = [
    "BareRoute",
    "ClientConfig",
    "IntakeSettings",
    "LoginThrottleSettings",
    "Settings",
    "WireRulesConfig",
    "WorkerSettings",
    "load_settings",
]


class ClientConfig(BaseModel):
    """A provincial system (or operator) allowed to call the gateway.

    ``api_key`` authenticates the native and operations APIs (``Authorization: Bearer …``);
    ``username``/``password`` the DVCQG-compatible login. ``agencies`` lists the agency codes
    (``madonvi``, the prefix of ``MaHoSo``) it may push for; ``"*"`` means any. ``operator``
    grants the dead-letter operations.
    """

    model_config = ConfigDict(frozen=True)

    # No ":" (it separates parts of Redis keys, e.g. idempotency records per client and key).
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    agencies: frozenset[str] = frozenset()
    operator: bool = False
    webhook_url: str | None = None
    """Where the gateway tells this client of each of its records' delivery, dead letter and
    replay (Standard Webhooks)."""
    webhook_secrets: tuple[SecretStr, ...] = Field(default=(), max_length=2)
    """The signing secrets (``whsec_…``), newest first; two at once while rotating."""

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> Self:
        if self.webhook_url is not None and not self.webhook_secrets:
            raise ValueError("webhook_url needs webhook_secrets (one, or two while rotating)")
        return self

    def may_push_for(self, agency: str) -> bool:
        """True when this client may push records of ``agency``."""
        return "*" in self.agencies or agency in self.agencies


class BareRoute(BaseModel):
    """A configured URL where a sender posts a bare JSON array of records (TD.DichVuCongApi).

    ``service`` and ``updating`` stand in for the envelope's ``service`` and ``isUpdating``;
    ``madonvi`` for its agency (a ``madonvi``/``MaDinhDanhDV`` query parameter wins).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: Literal["DongBoHoSoMC", "CapNhatTienDoHoSoMC"]
    updating: bool = False
    madonvi: str | None = Field(None, min_length=1, max_length=64)


class IntakeSettings(BaseModel):
    """Limits, lifetimes and the quirk policy at the intake (``[intake]``).

    ``policies`` sets ``refuse`` or ``flag`` per quirk (:class:`~gateway.schemas.policy.Quirk`;
    every quirk is flagged by default). ``dates_from``/``dates_until`` bound every DVCQG date
    (UTC+7 calendar days, inclusive). ``account_codes`` are ``madonvi`` values that name a
    sender's account rather than an agency (OpenCPS). ``bare_routes`` maps extra URL paths to
    the service their bare-array bodies are for.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_records_per_call: int = Field(1000, ge=1)
    max_objects_per_record: int = Field(
        256, ge=1, description="JSON objects per record at most, counted before parsing"
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, le=3600, description="a request body not fully received by then answers 408"
    )
    idempotency_ttl_seconds: int = Field(
        24 * 3600, ge=24 * 3600, description="how long an Idempotency-Key is remembered (≥ 24 h)"
    )
    session_ttl_seconds: int = Field(8 * 3600, ge=60)
    dates_from: date = date(1990, 1, 1)
    dates_until: date = date(2100, 12, 31)
    policies: dict[Quirk, Policy] = Field(default_factory=dict)
    account_codes: frozenset[Annotated[str, StringConstraints(min_length=1)]] = frozenset()
    bare_routes: dict[
        Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9_./-]*$")], BareRoute
    ] = Field(default_factory=dict)
    _policy: IntakePolicy = PrivateAttr(default_factory=IntakePolicy)

    @field_validator("dates_until")
    @classmethod
    def _window_not_empty(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("dates_from")
        if start is not None and value < start:
            raise ValueError("dates_until is before dates_from")
        return value

    def model_post_init(self, context: Any, /) -> None:
        """Build the policy once; every request then reuses the same object."""
        self._policy = IntakePolicy(
            policies={**DEFAULT_POLICIES, **self.policies},
            earliest=f"{self.dates_from:%Y%m%d}000000",
            latest=f"{self.dates_until:%Y%m%d}235959",
            account_codes=frozenset(self.account_codes),
        )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy whose policy follows ``update``."""
        copy = super().model_copy(update=update, deep=deep)
        copy.model_post_init(None)
        return copy

    def policy(self) -> IntakePolicy:
        """The configured quirk policy and date window."""
        return self._policy


class LoginThrottleSettings(BaseModel):
    """The brake on password guessing at ``POST /dvcqg/auth``.

    Failed logins are counted per username and per client IP in a fixed window that opens with
    the first failure. Once either count reaches its limit, attempts answer 429 until the window
    closes, without the password being checked. A successful login clears its username's count.
    The per-IP limit is higher so that one system mistyping one account's password does not
    lock out the other accounts it logs in from the same address.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_failures: int = Field(5, ge=1, description="failed logins per username and window")
    max_failures_per_ip: int = Field(20, ge=1, description="failed logins per client IP and window")
    window_seconds: int = Field(300, ge=1, le=24 * 3600)


_CodeList = list[Annotated[str, StringConstraints(min_length=1)]]


class WireRulesConfig(BaseModel):
    """The ``[wire]`` section: national rules that are observed, not published.

    ``max_lengths`` overrides the observed length limits field by field (``TrichYeuHoSo`` 1000,
    ``NguoiXuLy`` 50, ``TenTepDinhKem`` 4000, ``TenGiayTo`` 2000); fields it does not name keep
    theirs, and a field without a limit check is refused as a likely typo. ``submission_places``
    and ``database_codes`` are the allowed ``NoiNopHoSo`` and ``MaCSDL`` codes; omitted means any
    non-empty code. :meth:`rules` gives the :class:`~gateway.schemas.wire.WireRules` to validate
    with, built once with the configuration.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_lengths: dict[str, PositiveInt] = Field(default_factory=dict)
    submission_places: _CodeList | None = Field(None, min_length=1)
    database_codes: _CodeList | None = Field(None, min_length=1)
    _rules: WireRules = PrivateAttr(default_factory=WireRules)

    @field_validator("max_lengths")
    @classmethod
    def _limited_fields_only(cls, value: dict[str, int]) -> dict[str, int]:
        # The defaults name every field that has a limit check. Environment variable names come
        # lowercased (GATEWAY_WIRE__MAX_LENGTHS__TRICHYEUHOSO), so names match in any case.
        known = {name.lower(): name for name in WireRules().max_lengths}
        unknown = sorted(name for name in value if name.lower() not in known)
        if unknown:
            raise ValueError(
                f"no length limit is checked on {', '.join(unknown)};"
                f" limited fields: {', '.join(sorted(known.values()))}"
            )
        return {known[name.lower()]: limit for name, limit in value.items()}

    def model_post_init(self, context: Any, /) -> None:
        """Build the rules once; every request then reuses the same object."""
        self._rules = WireRules(
            max_lengths=dict(self.max_lengths),
            submission_places=_frozen(self.submission_places),
            database_codes=_frozen(self.database_codes),
        )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy whose rules follow ``update`` (pydantic alone would keep the old ones)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.model_post_init(None)
        return copy

    def rules(self) -> WireRules:
        """The configured rules, to pass as pydantic's validation ``context``."""
        return self._rules


def _problems(section: str, exc: ValidationError) -> str:
    """``exc``'s errors named by section and field, never quoting values (they may be
    passwords)."""
    return "; ".join(
        f"{section}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)
    )


def _frozen(codes: list[str] | None) -> frozenset[str] | None:
    return None if codes is None else frozenset(codes)


class WorkerSettings(BaseModel):
    """Worker threads and their prefetch (dramatiq's default prefetch starves throughput)."""

    model_config = ConfigDict(frozen=True)

    threads: int = Field(4, ge=1, le=64)
    prefetch: int = Field(64, ge=1)
    sweep_interval: float = Field(5.0, gt=0, description="seconds between lease/trigger sweeps")


class Settings(BaseSettings):
    """Everything the gateway needs to run."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Path("data")
    redis_url: str | None = None
    appendfsync: Literal["always", "everysec"] = "always"
    redis_timeout_seconds: float = Field(5.0, gt=0, le=600)
    """How long the gateway waits for one reply from Redis, so that a Redis that hangs without
    closing its connections cannot hang the intake, the workers and the audit chain forever.
    The gateway's commands and scripts take milliseconds; a slow disk under ``appendfsync
    always`` may take a second or more, hence the margin. redis-py retries a timed-out command
    as it does a dropped connection (10 times, with a short backoff), so a hung Redis fails a
    call after about eleven times this; the intake then answers 503 and the sender retries."""
    namespace: str = "gw"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    dvcqg: DvcqgConfig | None = None
    """The DVCQG portal (also accepted as ``[peers.dvcqg]``, where its delivery keys go too)."""
    peers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``[peers.<name>]``: one section per peer, the connector's fields plus ``retry``,
    ``breaker`` and ``concurrency`` (see :class:`~gateway.pipeline.peers.PeerDelivery`)."""
    retry: RetryPolicy = RetryPolicy()
    engine: EngineSettings = EngineSettings()
    intake: IntakeSettings = IntakeSettings()
    worker: WorkerSettings = WorkerSettings()
    wire: WireRulesConfig = WireRulesConfig()
    login: LoginThrottleSettings = LoginThrottleSettings()
    evaluations: EvaluationSettings = EvaluationSettings()
    clients: tuple[ClientConfig, ...] = ()
    embedded_workers: bool = True
    identity: IdentitySettings | None = None
    audit: AuditSettings = AuditSettings()
    traces: TraceSettings = TraceSettings()
    """``[traces]``: OpenTelemetry spans (off by default; the ``otel`` extra)."""
    payments: PaymentSettings | None = None
    ministry: MinistrySettings | None = None
    """``[ministry]``: which procedures are handed over to which ministry system."""

    @property
    def ministry_systems(self) -> frozenset[str]:
        """The ministry systems some route names (each a ``[peers.<system>]``)."""
        return self.ministry.systems if self.ministry is not None else frozenset()

    @model_validator(mode="after")
    def _ministry_routes_resolve(self) -> Self:
        if self.ministry is None:
            return self
        types = peer_types()
        for i, route in enumerate(self.ministry.routes):
            where = f"ministry.routes.{i} ({route.name})"
            if route.system in types:
                raise ValueError(f"{where}: system {route.system!r} is a built-in peer name")
            if route.system not in self.peers:
                raise ValueError(f"{where}: system {route.system!r} has no [peers.{route.system}]")
            if route.profile not in PROFILES and route.profile not in PROFILE_MODULES:
                known = ", ".join(sorted(set(PROFILES) | set(PROFILE_MODULES)))
                raise ValueError(f"{where}: no profile {route.profile!r}; known: {known}")
            ptype = profile_type(route.profile)
            system_options = split_section(dict(self.peers[route.system]))[0].get("options", {})
            for label, model, value in (
                (f"{where}.options", ptype.options, route.options),
                (f"peers.{route.system}.options", ptype.system_options, system_options),
            ):
                try:
                    model.model_validate(value)
                except ValidationError as exc:
                    raise ValueError(_problems(label, exc)) from None
        return self

    @model_validator(mode="after")
    def _peers_known_and_valid(self) -> Self:
        types = peer_types()
        for name, section in self.peers.items():
            ministry = name in self.ministry_systems
            if name not in types and not ministry:
                raise ValueError(f"peers.{name}: no such peer; known: {', '.join(sorted(types))}")
            connector, delivery = split_section(section)
            try:
                if ministry:
                    SystemConfig.model_validate(connector)
                elif connector:
                    types[name].config.model_validate(connector)
                PeerDelivery.model_validate(delivery)
            except ValidationError as exc:
                raise ValueError(_problems(f"peers.{name}", exc)) from None
        if self.dvcqg is not None and self.peers.get("dvcqg", {}).keys() - {
            "retry",
            "breaker",
            "concurrency",
        }:
            raise ValueError("dvcqg is configured twice: use [peers.dvcqg] or [dvcqg], not both")
        return self

    def peer_config(self, name: str) -> tuple[Any | None, PeerDelivery]:
        """The connector config (``None`` when the peer is not configured) and the delivery
        settings of one peer."""
        connector, delivery = split_section(dict(self.peers.get(name, {})))
        config: Any | None = None
        if name in self.ministry_systems:
            config = SystemConfig.model_validate(connector)
        elif connector:
            config = peer_types()[name].config.model_validate(connector)
        elif name == "dvcqg":
            config = self.dvcqg
        return config, PeerDelivery.model_validate(delivery)

    def ministry_system(self, name: str) -> SystemConfig:
        """The ``[peers.<name>]`` connection settings of a routed ministry system."""
        connector, _ = split_section(dict(self.peers.get(name, {})))
        return SystemConfig.model_validate(connector)

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    def client_by_key(self, key: str) -> ClientConfig | None:
        """The client whose API key is ``key`` (compared in constant time), if any."""
        import hmac

        found = None
        for c in self.clients:
            if c.api_key is not None and hmac.compare_digest(
                c.api_key.get_secret_value().encode(), key.encode()
            ):
                found = c
        return found

    def client_by_login(self, username: str, password: str) -> ClientConfig | None:
        """The client with this DVCQG-style login, if the password matches (constant time)."""
        import hmac

        for c in self.clients:
            if c.username == username and c.password is not None:
                if hmac.compare_digest(c.password.get_secret_value().encode(), password.encode()):
                    return c
                return None
        # An unknown username costs the same comparison, so timing does not reveal which exist.
        hmac.compare_digest(password.encode(), password.encode())
        return None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read a TOML file (if given), let the environment override it, then ``overrides``."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read config {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"config {path} is not valid TOML: {exc}") from exc
    data.update(overrides)
    try:
        # Init kwargs outrank the environment in pydantic-settings; file values should not, so
        # the file is applied underneath by building from env first and merging.
        env_only = Settings()
        merged = {**data, **env_only.model_dump(exclude_unset=True)}
        merged.update(overrides)
        return Settings.model_validate(merged)
    except ValidationError as exc:
        # Never pydantic's own text: it quotes input values, which include passwords and keys.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} [{e['type']}]"
            for e in exc.errors(include_input=False, include_url=False, include_context=False)
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    except ValueError as exc:
        raise ConfigurationError(f"invalid configuration: {type(exc).__name__}") from None
