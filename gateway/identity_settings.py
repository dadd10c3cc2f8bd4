"""``[identity]``: identity checks against the population database, typed.

``entitlements`` maps a client id to what it may receive: ``"verify"`` (match or mismatch
only) or a list of national field names of the citizen record (``HoVaTen``, ``ThuongTru`` …).
A client not listed may not make identity checks at all. Personal data is not kept beyond the
request unless ``cache_ttl_seconds`` is set.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.connectors.population.config import PopulationConfig
from gateway.pipeline.breaker import BreakerConfig
from gateway.schemas.citizen import CITIZEN_FIELDS

__all__ = ["Entitlement", "IdentitySettings"]

Sex = Literal["male", "female"]
_SEX_CODES: dict[str, Sex] = {"1": "male", "2": "female", "Nam": "male", "Nữ": "female"}

Entitlement = Literal["verify"] | tuple[str, ...]
"""``"verify"``, or the national field names of the record a client may receive."""


class IdentitySettings(BaseModel):
    """Everything the identity checks need; ``None`` in :class:`~gateway.config.Settings`
    (the default) leaves the endpoint answering 404."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    population: PopulationConfig
    entitlements: dict[str, Entitlement] = Field(default_factory=dict)
    breaker: BreakerConfig = BreakerConfig()
    cache_ttl_seconds: int = Field(
        0, ge=0, le=24 * 3600, description="keep records this long (0: never beyond the request)"
    )
    audit_max_len: int = Field(
        1_000_000, ge=1000, description="audit stream entries kept (Redis MAXLEN ~)"
    )
    sex_codes: dict[str, Sex] = Field(
        default_factory=lambda: dict(_SEX_CODES),
        description="GioiTinh codes of the database",
    )

    @field_validator("entitlements")
    @classmethod
    def _known_fields(cls, value: dict[str, Entitlement]) -> dict[str, Entitlement]:
        for client, entitled in value.items():
            if entitled == "verify":
                continue
            unknown = sorted(set(entitled) - CITIZEN_FIELDS)
            if unknown:
                raise ValueError(
                    f"client {client}: unknown citizen fields {', '.join(unknown)};"
                    f" known: {', '.join(sorted(CITIZEN_FIELDS))}"
                )
        return value

    def entitlement(self, client_id: str) -> Entitlement | None:
        """What ``client_id`` may receive; ``None``: no identity checks for it."""
        return self.entitlements.get(client_id)
