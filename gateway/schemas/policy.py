"""Intake policy: for each quirk real senders have, refuse it or accept it and flag it.

The principle (issue 7): accept what the national portal accepts; refuse only what it would
refuse or what would corrupt delivery; never change a value silently. Every deviation from the
published shape that public implementers are known to send is a named *rule* here. Its policy is
``refuse`` (the record is refused, naming the field and the rule) or ``flag`` (the record is
accepted as sent and the rule's name is stored with it, shown in its delivery status and counted
in the metrics by rule). The defaults flag everything; configuration (``[intake] policies``)
overrides rule by rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["DEFAULT_POLICIES", "IntakePolicy", "Policy", "Quirk"]


class Policy(StrEnum):
    """What the intake does with a record that shows a quirk."""

    REFUSE = "refuse"
    """Refuse the record (4xx, or a per-record refusal) naming the field and the rule."""
    FLAG = "flag"
    """Accept it as sent and store the rule's name with it (``flags``)."""


class Quirk(StrEnum):
    """The quirks real senders have (national-formats.md §2.2, "What real senders send")."""

    OWNER_PAPER_MISSING = "owner_paper_missing"
    """``SoGiayToChuHoSo`` absent (OpenCPS), null (TD.DichVuCongApi) or ""."""
    DUE_DATE_MISSING = "due_date_missing"
    """``NgayHenTra`` "" or absent: no due date, the procedure's maximum time applies (766)."""
    STEP_CONTENT_EMPTY = "step_content_empty"
    """``NoiDungXuLy`` "" (OpenCPS, for an action without a name)."""
    CODE_OUTSIDE_TABLE = "code_outside_table"
    """``DuocTaiSuDung`` "2", ``DuocThanhToanTrucTuyen`` "3": codes the gateway only forwards."""
    NUMBER_FOR_TEXT = "number_for_text"
    """``DanhSachTepDinhKemKhac.SoLuong``/``LoaiGiayTo`` as JSON numbers (forwarded as strings)."""
    DOSSIER_NUMBER_NONSTANDARD = "dossier_number_nonstandard"
    """``MaHoSo`` with a 5-digit sequence, or a local number (its agency is ``madonvi``)."""
    MADONVI_ACCOUNT_CODE = "madonvi_account_code"
    """``madonvi`` is a configured account code (OpenCPS), not the agency of each ``MaHoSo``."""
    IS_UPDATING_BOOLEAN = "is_updating_boolean"
    """``isUpdating`` as a JSON boolean instead of "True"/"False"."""
    BARE_ARRAY = "bare_array"
    """The records came as a bare JSON array (envelope fields from the URL and headers)."""
    STATUS_SKIP = "status_skip"
    """A status change that skips steps of the life cycle (snapshot re-syncs: 2→10, 4→10)."""
    STATUS_REOPENED = "status_reopened"
    """A status change back to an earlier stage (9→4, 10→2, 10→1, 2→1)."""


DEFAULT_POLICIES: Mapping[Quirk, Policy] = dict.fromkeys(Quirk, Policy.FLAG)


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    """The policy of every quirk, and the plausibility window of national dates.

    ``earliest``/``latest`` are national timestamps (``yyyyMMddHHmmss``, UTC+7): a DVCQG date
    outside them is refused (``wire_date_window``). ``account_codes`` are ``madonvi`` values that
    name a sender's account rather than an agency (``madonvi_account_code``).
    """

    policies: Mapping[Quirk, Policy] = field(default_factory=lambda: dict(DEFAULT_POLICIES))
    earliest: str = "19900101000000"
    latest: str = "21001231235959"
    account_codes: frozenset[str] = frozenset()

    def of(self, quirk: Quirk) -> Policy:
        """The policy for ``quirk`` (flag unless configured otherwise)."""
        return self.policies.get(quirk, Policy.FLAG)

    def refuses(self, quirk: Quirk) -> bool:
        """True when records with ``quirk`` are refused."""
        return self.of(quirk) is Policy.REFUSE

    @classmethod
    def strict(cls) -> IntakePolicy:
        """Every quirk refused: the published shapes and the strict life-cycle table only."""
        return cls(dict.fromkeys(Quirk, Policy.REFUSE))
