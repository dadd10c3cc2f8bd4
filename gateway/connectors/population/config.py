"""``[identity.population]``: how to reach the population database, and as which profile.

No public specification exists (national-formats.md §3), so every path, code and name that
deployed code shows is a setting with that observed value as its default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from gateway.mappers.citizen_xml import CITIZEN_NAMESPACE

__all__ = ["CONTRACTS_DIR", "DEFAULT_WSDL", "PopulationConfig"]

_PACKAGE = Path(__file__).resolve().parents[2]
# A built wheel carries contracts/ as gateway/_contracts (see pyproject.toml); a checkout has it
# beside the package.
_CONTRACTS = next(
    (d for d in (_PACKAGE / "_contracts", _PACKAGE.parent / "contracts") if d.is_dir()),
    _PACKAGE.parent / "contracts",
)
CONTRACTS_DIR = _CONTRACTS
DEFAULT_WSDL = _CONTRACTS / "population.wsdl"
"""The gateway's own WSDL of the plain SOAP profile (a contract written from §3)."""


class PopulationConfig(BaseModel):
    """One population-database peer.

    ``profile`` ``lgsp``: OAuth2 client credentials at ``base_url + token_path``, then a JSON
    ``POST`` to ``base_url + lookup_path`` whose reply ``message`` wraps the SOAP envelope.
    ``profile`` ``soap``: the WSDL's ``operation`` posted to ``soap_url`` (default
    ``base_url``). Timeouts are per call; ``total_timeout`` bounds a whole look-up, token
    fetches and the one retry after a 401 included, so a request never hangs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: Literal["lgsp", "soap"]
    base_url: str = Field(min_length=1, pattern=r"^https?://")
    # LGSP JSON profile
    token_path: str = "/token"  # noqa: S105 - a URL path, not a secret
    lookup_path: str = "/api/dancu/tracuu"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    token_refresh_margin_seconds: float = Field(
        60.0, ge=0, description="fetch a new token this long before the old one expires"
    )
    ok_codes: tuple[str, ...] = ("0", "00")
    not_found_codes: tuple[str, ...] = ()
    # plain SOAP profile
    soap_url: str | None = Field(None, pattern=r"^https?://")
    wsdl: Path = DEFAULT_WSDL
    operation: str = "TraCuuThongTinCongDan"
    # both profiles: the caller's identity at the database, sent with every look-up
    integration_code: str = Field("", description="MaTichHop")
    service_code: str = Field("", description="MaDVC")
    officer_code: str = Field("", description="MaCanBo")
    reply_namespace: str = CITIZEN_NAMESPACE
    connect_timeout: float = Field(2.0, gt=0)
    read_timeout: float = Field(5.0, gt=0)
    total_timeout: float = Field(8.0, gt=0)
    max_reply_bytes: int = Field(1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _profile_needs(self) -> Self:
        if self.profile == "lgsp" and (self.client_id is None or self.client_secret is None):
            raise ValueError("the lgsp profile needs client_id and client_secret")
        if self.total_timeout < self.read_timeout:
            raise ValueError("total_timeout must be at least read_timeout")
        return self

    @property
    def endpoint(self) -> str:
        """The SOAP endpoint address."""
        return self.soap_url or self.base_url
