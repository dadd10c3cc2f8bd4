"""The gateway's configuration: one typed object, read once at the edge (CLI or app factory).

Sources, later wins: defaults, a TOML file (``--config`` or ``GATEWAY_CONFIG``), environment
variables ``GATEWAY_<FIELD>`` with ``__`` between nested fields (``GATEWAY_DVCQG__BASE_URL``).
Nothing here reaches the network by itself: with no ``redis_url`` the gateway starts its own
private Redis; with no ``dvcqg`` section it delivers to an in-process fake portal and says so.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.connectors.dvcqg import DvcqgConfig
from gateway.errors import ConfigurationError
from gateway.pipeline.engine import EngineSettings
from gateway.pipeline.retry import RetryPolicy

__all__ = ["ClientConfig", "IntakeSettings", "Settings", "WorkerSettings", "load_settings"]


class ClientConfig(BaseModel):
    """A provincial system (or operator) allowed to call the gateway.

    ``api_key`` authenticates the native and operations APIs (``Authorization: Bearer …``);
    ``username``/``password`` the DVCQG-compatible login. ``agencies`` lists the agency codes
    (``madonvi``, the prefix of ``MaHoSo``) it may push for; ``"*"`` means any. ``operator``
    grants the dead-letter operations.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    agencies: frozenset[str] = frozenset()
    operator: bool = False

    def may_push_for(self, agency: str) -> bool:
        """True when this client may push records of ``agency``."""
        return "*" in self.agencies or agency in self.agencies


class IntakeSettings(BaseModel):
    """Limits and lifetimes at the intake."""

    model_config = ConfigDict(frozen=True)

    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_records_per_call: int = Field(1000, ge=1)
    idempotency_ttl_seconds: int = Field(
        24 * 3600, ge=24 * 3600, description="how long an Idempotency-Key is remembered (≥ 24 h)"
    )
    session_ttl_seconds: int = Field(8 * 3600, ge=60)


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
    namespace: str = "gw"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    dvcqg: DvcqgConfig | None = None
    retry: RetryPolicy = RetryPolicy()
    engine: EngineSettings = EngineSettings()
    intake: IntakeSettings = IntakeSettings()
    worker: WorkerSettings = WorkerSettings()
    clients: tuple[ClientConfig, ...] = ()
    embedded_workers: bool = True

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
    except ValueError as exc:
        raise ConfigurationError(f"invalid configuration: {exc}") from exc
