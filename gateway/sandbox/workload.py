"""Dossier life cycles to push through the intake, and what the gateway said it accepted.

Shared by the accounting test and the accounting benchmark, so both push the same kind of work
and keep the books the same way.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from gateway.contracts import contracts_dir
from gateway.sandbox.accounting import STATE_FIELDS, STEP_FIELDS, AcceptedDossier

__all__ = ["DOSSIER_SERVICE", "LIFE", "STEP_SERVICE", "AcceptedLog", "life_cycle"]

DOSSIER_SERVICE = "DongBoHoSoMC"
STEP_SERVICE = "CapNhatTienDoHoSoMC"
LIFE = ("dossier-1-received", "dossier-2-processing", "dossier-4-finished", "dossier-5-returned")
"""The sample states a dossier goes through: received → processing → finished → returned."""


@cache
def _sample(name: str) -> Any:
    return json.loads(
        (contracts_dir() / "samples" / "national" / f"{name}.json").read_text("utf-8")
    )


def life_cycle(no: str) -> list[tuple[str, dict[str, Any]]]:
    """One dossier's pushes in order: a state, then a step, four times (8 records)."""
    steps = _sample("steps")
    out: list[tuple[str, dict[str, Any]]] = []
    for i, name in enumerate(LIFE):
        state = copy.deepcopy(_sample(name))
        state["MaHoSo"] = no
        out.append((DOSSIER_SERVICE, state))
        step = copy.deepcopy(steps[i % len(steps)])
        step["MaHoSo"] = no
        # Steps are told apart by time (the portal's echo has no NguoiXuLy); strictly increasing.
        step["ThoiDiemXuLy"] = f"2025031{i}0{i}1500"
        out.append((STEP_SERVICE, step))
    return out


class AcceptedLog:
    """The books: per dossier, each state and step the gateway's intake reported as accepted.

    Idempotent: a record reported accepted again (a repeat, or a retried call whose first reply
    was lost) is kept once, so a lost reply never hides an accepted record.
    """

    def __init__(self) -> None:
        self._states: dict[str, list[dict[str, Any]]] = {}
        self._steps: dict[str, list[dict[str, Any]]] = {}
        self._seen: set[tuple[str, tuple[str, ...]]] = set()
        self.delivery_ids: set[str] = set()
        """Every ``delivery_id`` the intake answered for an accepted record."""

    def note(
        self,
        service: str,
        records: Sequence[Mapping[str, Any]],
        results: Sequence[Mapping[str, Any]],
    ) -> int:
        """Record one intake reply (``result`` items in input order); returns how many were
        refused."""
        refused = 0
        for record, result in zip(records, results, strict=True):
            if not result.get("accepted"):
                refused += 1
                continue
            self.delivery_ids.add(str(result["delivery_id"]))
            no = str(record["MaHoSo"])
            fields = STATE_FIELDS if service == DOSSIER_SERVICE else STEP_FIELDS
            key = (service, tuple(str(record.get(f, "")) for f in fields))
            if key in self._seen:
                continue
            self._seen.add(key)
            book = self._states if service == DOSSIER_SERVICE else self._steps
            book.setdefault(no, []).append(dict(record))
        return refused

    def dossiers(self) -> list[AcceptedDossier]:
        """What was accepted, for :func:`~gateway.sandbox.accounting.check_portal`."""
        numbers = sorted(set(self._states) | set(self._steps))
        return [
            AcceptedDossier(n, tuple(self._states.get(n, ())), tuple(self._steps.get(n, ())))
            for n in numbers
        ]

    @property
    def records(self) -> int:
        """Accepted records, each once."""
        return len(self._seen)
