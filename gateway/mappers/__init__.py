"""Mappers: the provincial records ↔ the national packets, and the national date formats.

- :mod:`~gateway.mappers.dossier`: :class:`~gateway.schemas.Dossier` ↔ ``DongBoHoSoMC`` record.
- :mod:`~gateway.mappers.progress`: :class:`~gateway.schemas.ProgressStep` ↔
  ``CapNhatTienDoHoSoMC`` record.
- :mod:`~gateway.mappers.dates`: DVCQG ``yyyyMMddHHmmss``, LLTP ``dd/mm/yyyy`` (and partial birth
  dates), population database ``yyyyMMdd``.
- :mod:`~gateway.mappers.errors`: pydantic ``ValidationError`` →
  :class:`~gateway.errors.ContractError`.

Mappers are pure: they import only :mod:`gateway.schemas` and :mod:`gateway.errors` and do no
I/O. Towards the portal they build the wire dict and validate it once as the national model, so
national rules and configured :class:`~gateway.schemas.WireRules` limits apply and a breach
raises ``pydantic.ValidationError`` located by national field names.
"""

from gateway.mappers.dates import (
    DatePrecision,
    PartialDate,
    dvcqg_from_lltp_date,
    format_dvcqg_datetime,
    format_lltp_birth_date,
    format_lltp_date,
    format_population_date,
    lltp_birth_from_population,
    lltp_date_from_dvcqg,
    parse_dvcqg_datetime,
    parse_lltp_birth_date,
    parse_lltp_date,
    parse_population_date,
    population_from_lltp_birth,
    vietnam_date,
)
from gateway.mappers.dossier import dossier_from_national, dossier_to_national
from gateway.mappers.errors import contract_error_from
from gateway.mappers.progress import step_from_national, step_to_national

__all__ = [
    "DatePrecision",
    "PartialDate",
    "contract_error_from",
    "dossier_from_national",
    "dossier_to_national",
    "dvcqg_from_lltp_date",
    "format_dvcqg_datetime",
    "format_lltp_birth_date",
    "format_lltp_date",
    "format_population_date",
    "lltp_birth_from_population",
    "lltp_date_from_dvcqg",
    "parse_dvcqg_datetime",
    "parse_lltp_birth_date",
    "parse_lltp_date",
    "parse_population_date",
    "population_from_lltp_birth",
    "step_from_national",
    "step_to_national",
    "vietnam_date",
]
