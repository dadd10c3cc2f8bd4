"""Accounting, in the style of Jepsen's total-queue checker: what was accepted against what the
peer ended up holding.

For the portal, per dossier: the newest accepted state must be the state the portal holds, and
every accepted step must be there exactly once. Each accepted record is then exactly one of:
delivered, **lost** (not at the portal, not dead-lettered), **stale** (the portal holds an older
state), or **dead-lettered**. A step appended more than once counts **duplicated** (once per
extra copy); a step the portal holds that was never accepted counts **unexpected**.

For webhooks, per event (type and ``delivery_id``): **lost** if never received (and not
dead-lettered); a redelivery of one ``webhook-id`` is allowed (at-least-once), but the same
event under a second ``webhook-id`` is a **duplicate**, since receivers de-duplicate by id.

Pure functions over plain data: ledgers as :meth:`SandboxPortal.ledger` /
:meth:`WebhookReceiver.ledger` return them (or as ``GET /_sandbox/ledger`` serves them).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "STATE_FIELDS",
    "STEP_FIELDS",
    "AcceptedDossier",
    "DeadItem",
    "PortalReport",
    "WebhookReport",
    "check_portal",
    "check_webhooks",
]

STATE_FIELDS: tuple[str, ...] = ("MaHoSo", "TrangThaiHoSo", "NgayKetThucXuLy", "NgayTra")
"""What tells one dossier state from another: its status and the times that move with it."""
STEP_FIELDS: tuple[str, ...] = ("MaHoSo", "ThoiDiemXuLy", "TrangThai", "NoiDungXuLy", "NguoiXuLy")
"""A step's identity: every field the province sends."""
_EXAMPLES = 10


@dataclass(frozen=True, slots=True)
class AcceptedDossier:
    """What the gateway accepted for one dossier: its states in acceptance order (newest last),
    and its steps (each once)."""

    dossier_no: str
    states: Sequence[Mapping[str, Any]] = ()
    steps: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True, slots=True)
class DeadItem:
    """One dead-lettered record: a dossier ``state`` or a ``step``, with its record."""

    kind: Literal["state", "step"]
    dossier_no: str
    record: Mapping[str, Any]


@dataclass
class PortalReport:
    """The four counts (and ``unexpected``), with a few examples of each for the failure text."""

    lost: int = 0
    duplicated: int = 0
    stale: int = 0
    dead_lettered: int = 0
    unexpected: int = 0
    delivered: int = 0
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def _note(self, kind: str, text: str) -> None:
        if len(self.examples[kind]) < _EXAMPLES:
            self.examples[kind].append(text)

    @property
    def counts(self) -> dict[str, int]:
        """The counts that must be zero, and ``delivered``."""
        return {
            "lost": self.lost,
            "duplicated": self.duplicated,
            "stale": self.stale,
            "dead_lettered": self.dead_lettered,
            "unexpected": self.unexpected,
            "delivered": self.delivered,
        }

    @property
    def ok(self) -> bool:
        """True when nothing was lost, duplicated, stale, dead-lettered or unexpected."""
        return not (self.lost or self.duplicated or self.stale or self.dead_lettered) and (
            not self.unexpected
        )

    def __str__(self) -> str:
        lines = [" ".join(f"{k}={v}" for k, v in self.counts.items())]
        lines += [f"  {kind}: {text}" for kind, texts in self.examples.items() for text in texts]
        return "\n".join(lines)


def _key(record: Mapping[str, Any], fields: Sequence[str]) -> tuple[str, ...]:
    return tuple("" if record.get(f) is None else str(record.get(f)) for f in fields)


def check_portal(
    accepted: Iterable[AcceptedDossier],
    ledger: Mapping[str, Any],
    dead_letters: Iterable[DeadItem] = (),
    *,
    state_fields: Sequence[str] = STATE_FIELDS,
    step_fields: Sequence[str] = STEP_FIELDS,
) -> PortalReport:
    """Count lost, duplicated, stale, dead-lettered (and unexpected) records.

    ``ledger["dossiers"][MaHoSo]`` holds ``state`` (a record or ``None``) and ``steps`` (every
    step appended, duplicates kept). Dead letters count once each; a dead-lettered newest state or
    step is not also lost.
    """
    report = PortalReport()
    held: Mapping[str, Mapping[str, Any]] = ledger.get("dossiers", {})
    dead_states: set[tuple[str, ...]] = set()
    dead_steps: set[tuple[str, ...]] = set()
    for item in dead_letters:
        report.dead_lettered += 1
        report._note("dead_lettered", f"{item.kind} of {item.dossier_no}")
        if item.kind == "state":
            dead_states.add(_key(item.record, state_fields))
        else:
            dead_steps.add(_key(item.record, step_fields))
    seen: set[str] = set()
    for dossier in accepted:
        no = dossier.dossier_no
        seen.add(no)
        at_portal = held.get(no, {})
        if dossier.states:
            _check_state(report, dossier, at_portal.get("state"), dead_states, state_fields)
        appended = Counter(_key(s, step_fields) for s in at_portal.get("steps", []))
        expected = {_key(s, step_fields) for s in dossier.steps}
        for step in expected:
            copies = appended.get(step, 0)
            if copies == 0:
                if step not in dead_steps:
                    report.lost += 1
                    report._note("lost", f"step {step}")
                continue
            report.delivered += 1
            if copies > 1:
                report.duplicated += copies - 1
                report._note("duplicated", f"step {step} appended {copies} times")
        for step, copies in appended.items():
            if step not in expected:
                report.unexpected += copies
                report._note("unexpected", f"step {step} never accepted")
    for no, at_portal in held.items():
        if no not in seen:
            report.unexpected += (1 if at_portal.get("state") else 0) + len(at_portal["steps"])
            report._note("unexpected", f"dossier {no} never accepted")
    return report


def _check_state(
    report: PortalReport,
    dossier: AcceptedDossier,
    state: Mapping[str, Any] | None,
    dead: set[tuple[str, ...]],
    fields: Sequence[str],
) -> None:
    newest = _key(dossier.states[-1], fields)
    if newest in dead:
        return  # counted as dead-lettered
    if state is None:
        report.lost += 1
        report._note("lost", f"dossier {dossier.dossier_no} (no state at the portal)")
        return
    found = _key(state, fields)
    if found == newest:
        report.delivered += 1
        return
    older = [_key(s, fields) for s in dossier.states[:-1]]
    if found in older:
        report.stale += 1
        report._note("stale", f"dossier {dossier.dossier_no} holds {found}, newest {newest}")
    else:
        report.unexpected += 1
        report._note("unexpected", f"dossier {dossier.dossier_no} holds unaccepted {found}")


@dataclass
class WebhookReport:
    """Webhook accounting: ``lost`` and ``duplicated`` (a second ``webhook-id``) must be zero;
    ``redelivered`` (the same id again) is allowed."""

    lost: int = 0
    duplicated: int = 0
    redelivered: int = 0
    unexpected: int = 0
    delivered: int = 0
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def ok(self) -> bool:
        """True when nothing was lost, duplicated under a new id, or unexpected."""
        return not (self.lost or self.duplicated or self.unexpected)

    def __str__(self) -> str:
        head = (
            f"lost={self.lost} duplicated={self.duplicated} redelivered={self.redelivered}"
            f" unexpected={self.unexpected} delivered={self.delivered}"
        )
        return "\n".join(
            [head] + [f"  {k}: {t}" for k, texts in self.examples.items() for t in texts]
        )


def check_webhooks(
    expected: Iterable[tuple[str, str]],
    ledger: Mapping[str, Any],
    dead_lettered: Iterable[tuple[str, str]] = (),
) -> WebhookReport:
    """Count lost and duplicated events; ``expected`` and ``dead_lettered`` are
    ``(type, delivery_id)`` pairs, ``ledger["events"]`` what the receiver kept."""
    report = WebhookReport()
    ids: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for event in ledger.get("events", []):
        key = (str(event.get("type")), str(event.get("data", {}).get("delivery_id")))
        ids[key][str(event.get("id"))] += 1
    wanted = set(expected)
    dead = set(dead_lettered)
    for key in wanted:
        got = ids.get(key)
        if not got:
            if key not in dead:
                report.lost += 1
                if len(report.examples["lost"]) < _EXAMPLES:
                    report.examples["lost"].append(f"{key}")
            continue
        report.delivered += 1
        report.duplicated += len(got) - 1
        report.redelivered += sum(got.values()) - len(got)
        if len(got) > 1 and len(report.examples["duplicated"]) < _EXAMPLES:
            report.examples["duplicated"].append(f"{key} under ids {sorted(got)}")
    for key, got in ids.items():
        if key not in wanted:
            report.unexpected += sum(got.values())
            if len(report.examples["unexpected"]) < _EXAMPLES:
                report.examples["unexpected"].append(f"{key}")
    return report
