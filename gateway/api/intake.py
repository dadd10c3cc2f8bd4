"""Record intake shared by the DVCQG-compatible and the native endpoints.

Each record is validated on its own (a bad record is refused alone, with paths and rules), the
client's agency scope is checked per record, and every valid record goes to
:meth:`GatewayService.accept` in as few calls as possible. Results come back by input index.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gateway.config import ClientConfig
from gateway.connectors.dvcqg import Service
from gateway.errors import ContractError, Violation
from gateway.mappers import contract_error_from, dossier_to_national, step_to_national
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.provincial import Dossier, ProgressStep
from gateway.schemas.wire import WireRules, dossier_agency
from gateway.service import GatewayService, Outcome

__all__ = [
    "NationalRecord",
    "RecordResult",
    "accept_records",
    "intake_rules",
    "national_record",
    "provincial_record",
]

NationalRecord = DossierRecord | ProgressRecord

AGENCY_NOT_ALLOWED = "agency_not_allowed"
AGENCY_UNKNOWN = "agency_unknown"


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What happened to one input record: accepted (maybe as a duplicate) or refused."""

    index: int
    dossier_no: str | None
    delivery_id: str | None = None
    duplicate: bool = False
    errors: tuple[Violation, ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        """True when the record is (or already was) in the outbox."""
        return self.delivery_id is not None

    @property
    def rule(self) -> str | None:
        """The first broken rule, for a refused record."""
        return self.errors[0].rule if self.errors else None


def intake_rules(gateway: GatewayService, *, relaxed: bool = False) -> WireRules:
    """The ``[wire]`` rules with the ``[intake]`` date window; ``relaxed`` also takes the
    non-standard dossier numbers real senders use (the DVCQG intake flags them)."""
    policy = gateway.settings.intake.policy()
    return dataclasses.replace(
        gateway.settings.wire.rules(),
        earliest=policy.earliest,
        latest=policy.latest,
        relaxed_dossier_numbers=relaxed,
    )


def _dossier_no_of(item: Any, key: str) -> str | None:
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def national_record(
    service: Service,
    index: int,
    item: Any,
    *,
    prefix: str,
    rules: WireRules | None = None,
    refused: Sequence[Violation] = (),
) -> NationalRecord | RecordResult:
    """Validate one national record (``DossierRecord``/``ProgressRecord``) or refuse it.

    ``rules`` are the configured wire rules (``Settings.wire.rules()``); defaults when None.
    ``refused``: violations found before validation (quirks the policy refuses), reported with
    the model's own.
    """
    model = DossierRecord if service is Service.DOSSIER else ProgressRecord
    try:
        record = model.model_validate(item, context=rules)
    except ValidationError as exc:
        err = contract_error_from(exc, prefix=f"{prefix}.{index}")
        errors = (*refused, *err.violations)
        return RecordResult(index, _dossier_no_of(item, "MaHoSo"), errors=errors)
    if refused:
        return RecordResult(index, record.dossier_no, errors=tuple(refused))
    return record


def provincial_record(
    service: Service, index: int, item: Any, *, prefix: str, rules: WireRules | None = None
) -> NationalRecord | RecordResult:
    """Validate one provincial record and map it to its national form, or refuse it.

    Provincial errors are located by provincial field names; a mapped record that breaks a
    national rule (``rules``, defaults when None) is located by national names (the mapper
    validates the national form).
    """
    path = f"{prefix}.{index}" if prefix else ""
    no = _dossier_no_of(item, "dossier_no")
    try:
        if service is Service.DOSSIER:
            return dossier_to_national(Dossier.model_validate(item), rules=rules)
        return step_to_national(ProgressStep.model_validate(item), rules=rules)
    except ValidationError as exc:
        err: ContractError = contract_error_from(exc, prefix=path)
        return RecordResult(index, no, errors=err.violations)


def accept_records(
    gateway: GatewayService,
    service: Service,
    client: ClientConfig,
    items: Sequence[NationalRecord | RecordResult],
    *,
    path_of: Callable[[int, str], str],
    agency: str | None = None,
    flags: Sequence[Sequence[str]] | None = None,
) -> list[RecordResult]:
    """Accept every valid record the client may push; one result per item, in input order.

    ``agency`` names the queue for all records (the DVCQG ``madonvi``); when None, records are
    queued under their own dossier number's agency. A record's scope is its dossier number's
    agency, or ``agency`` for a local number (``agency_unknown`` when neither is known).
    ``path_of(index, rule)`` locates a refusal (``data.3.TrangThaiHoSo``). ``flags[i]`` are
    the quirks found in item ``i``, stored with it. The accept calls return only once the
    records are durable.
    """
    results: dict[int, RecordResult] = {}
    groups: dict[str, list[tuple[int, NationalRecord]]] = defaultdict(list)
    for index, item in enumerate(items):
        if isinstance(item, RecordResult):
            results[index] = item
            continue
        scope = dossier_agency(item.dossier_no) or agency
        if scope is None:
            message = f"{item.dossier_no} is a local number and the call names no agency"
            violation = Violation(path_of(index, AGENCY_UNKNOWN), AGENCY_UNKNOWN, message)
            results[index] = RecordResult(index, item.dossier_no, errors=(violation,))
        elif not client.may_push_for(scope):
            message = f"client {client.id} may not push records of agency {scope}"
            violation = Violation(path_of(index, AGENCY_NOT_ALLOWED), AGENCY_NOT_ALLOWED, message)
            results[index] = RecordResult(index, item.dossier_no, errors=(violation,))
        else:
            groups[agency or scope].append((index, item))
    for queue, members in groups.items():
        records: list[Any] = [rec for _, rec in members]
        found = None if flags is None else [flags[i] for i, _ in members]
        outcomes = gateway.accept(service, queue, records, client=client.id, flags=found)
        for (index, _), outcome in zip(members, sorted(outcomes, key=_by_index), strict=True):
            results[index] = _result(index, outcome, path_of)
    return [results[i] for i in range(len(items))]


def _by_index(outcome: Outcome) -> int:
    return outcome.index


def _result(index: int, outcome: Outcome, path_of: Callable[[int, str], str]) -> RecordResult:
    if outcome.accepted:
        return RecordResult(
            index, outcome.dossier_no, outcome.delivery_id, outcome.duplicate, flags=outcome.flags
        )
    rule = outcome.refused_rule or "refused"
    violation = Violation(path_of(index, rule), rule, outcome.refused_message or rule)
    return RecordResult(index, outcome.dossier_no, errors=(violation,))
