"""A ministry system as a peer of the delivery core: one hand-over channel, driven by a profile.

The channel is ``<system>.<operation>`` (``lltp.nhanHoSoDangKy``), append mode, subject
``MaHoSo``, one item per call; an item's fingerprint is the route and the forms, so the same
dossier sent again is a duplicate at accept. The core brings retries, the breaker,
dead letters and replay; this module adds the two things a ministry needs:

- **no second case.** After an ambiguous failure the core calls :meth:`reconcile`, which asks
  the ministry (``profile.find``) whether it holds the case; only a "no" sends again. For LLTP
  the natural key ``idReceivedDec`` is a second fence: a repeated hand-over returns the case
  the ministry already has. A profile without a natural key is asked before every hand-over.
- **one case per dossier**, whatever the items: an item whose dossier has an open case in the
  store is delivered without a call (see :func:`handover_entry` for why there can be two);
- **the case is recorded when the hand-over is delivered**: ``on_opened`` (the case store) is
  called with the case reference before :meth:`send` returns, so by the time the core marks
  the item delivered the case is tracked. A crash between the two leaves the item to be sent
  again, which the look-up or the natural key turns into the same case; recording is
  idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ValidationError

from gateway.connectors.base import ChannelSpec, Entry, Item, Mode, PeerReply
from gateway.connectors.ministry.profile import CaseRef, CaseStatus, HandOver, MinistryProfile
from gateway.connectors.ministry.settings import Route, SystemConfig
from gateway.errors import PeerReplyError, TransientPeerError
from gateway.schemas.national import DossierRecord
from gateway.schemas.wire import WireRules

__all__ = ["MinistryConnector", "Opened", "forms_of", "handover_entry"]

Opened = Callable[[str, HandOver, CaseRef, CaseStatus | None], None]
"""``(system, hand-over, case, status if known)``: called once a case is known to exist."""
IsOpen = Callable[[str, str], bool]
"""``(system, MaHoSo)``: True when the case store holds the dossier's case already."""


def forms_of(record: DossierRecord, profile: str) -> dict[str, Any]:
    """The profile's forms carried in ``ThongTinKhac`` as ``{"<profile>": {…}}``, else ``{}``.

    ``ThongTinKhac`` is free text on the DVCQG record; provinces that route dossiers to a ministry
    put the ministry's forms there as a JSON object, and anything else is left alone.
    """
    text = record.other_info
    if not text or not text.lstrip().startswith("{"):
        return {}
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    forms = parsed.get(profile) if isinstance(parsed, dict) else None
    return forms if isinstance(forms, dict) else {}


def handover_entry(route: Route, agency: str, record: DossierRecord, client: str) -> Entry:
    """The outbox entry that hands ``record`` over on ``route`` (stored body: route and record).

    The fingerprint is the route and the profile's forms: a later state with the same forms is
    a duplicate, while one with corrected forms (after the ministry refused the first) is a new
    item. A new item never opens a second case: :meth:`MinistryConnector.send` skips a dossier
    whose case is open already.
    """
    forms = orjson.dumps(forms_of(record, route.profile), option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(forms).hexdigest()[:16]
    body = orjson.dumps(
        {
            "route": route.name,
            "agency": agency,
            "client": client,
            "record": orjson.Fragment(
                record.__pydantic_serializer__.to_json(record, by_alias=True, exclude_none=True)
            ),
        }
    )
    return Entry(
        subject=record.dossier_no, fingerprint=f"handover:{route.name}:{digest}", body=body
    )


class MinistryConnector:
    """The delivery core's view of one ministry system (thread-safe when its profile is)."""

    def __init__(
        self,
        name: str,
        config: SystemConfig,
        profile: MinistryProfile,
        routes: Sequence[Route],
        options: Mapping[str, BaseModel],
        *,
        on_opened: Opened,
        is_open: IsOpen = lambda system, dossier_no: False,
        rules: WireRules | None = None,
        http: httpx.Client | None = None,
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.system = name
        self.config = config
        self.profile = profile
        self.routes = {r.name: r for r in routes}
        self._options = dict(options)
        self.on_opened = on_opened
        self.is_open = is_open
        self._rules = rules or WireRules()
        self._close = close
        # Held here so that the audit trail, which wraps the httpx clients a connector holds,
        # records the ministry calls too (the token client is left out: it carries secrets).
        self._http = http
        self.channel = ChannelSpec(name, profile.operation, Mode.APPEND, max_batch=1)
        self.channels: tuple[ChannelSpec, ...] = (self.channel,)

    @property
    def max_call_seconds(self) -> float:
        """One hand-over (token, call, one refresh) or one look-up."""
        return self.config.max_call_seconds

    def handover(self, body: bytes) -> HandOver:
        """The :class:`HandOver` of a stored hand-over item."""
        try:
            stored = orjson.loads(body)
            record = DossierRecord.model_validate(stored["record"], context=self._rules)
            route = self.routes[stored["route"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError):
            # Only an item from another configuration (a route renamed since) gets here.
            raise PeerReplyError(
                "handover_item_unreadable", system=self.system, operation=self.channel.operation
            ) from None
        return HandOver(
            dossier_no=record.dossier_no,
            procedure=record.procedure_code,
            agency=str(stored.get("agency") or ""),
            route=route.name,
            record=record,
            options=self._options[route.name],
            forms=forms_of(record, route.profile),
            client=str(stored.get("client") or ""),
        )

    def send(self, channel: ChannelSpec, partition: str, items: Sequence[Item]) -> PeerReply:
        """Hand each dossier over (the core passes one) and record its case."""
        ids = []
        for item in items:
            handover = self.handover(item.body)
            if self.is_open(self.system, handover.dossier_no):
                ids.append("")  # handed over by an earlier item: never a second case
                continue
            if not self.profile.natural_key:
                # Nothing at the ministry fences a second case, and the core's flags do not
                # cover every way an earlier item of this dossier may have reached it (one
                # dead-lettered after an ambiguous attempt leaves a later item unflagged;
                # a replay of a refusal is unflagged too): ask before every hand-over.
                found = self._find(handover)
                if found is not None:
                    ids.append(found.case_id or "")
                    continue
            try:
                ref = self.profile.hand_over(handover)
            except PeerReplyError as exc:
                # The ministry answered the writing call, but not readably (not JSON, no case
                # id …): it may have opened the case. A permanent refusal would dead-letter a
                # case that exists, never tracked, and a replay would send without asking;
                # ambiguous, the retry asks first (reconcile) and records what it finds.
                raise TransientPeerError(
                    f"unreadable answer to the hand-over [{exc.rule}]",
                    system=self.system,
                    operation=self.channel.operation,
                    status=exc.status,
                    ambiguous=True,
                ) from exc
            self.on_opened(self.system, handover, ref, None)
            ids.append(ref.case_id or "")
        return PeerReply("1", "handed over", result=tuple(ids))

    def reconcile(
        self,
        channel: ChannelSpec,
        partition: str,
        subject: str,
        items: Sequence[Item],
        *,
        delivered: Sequence[Item] = (),
    ) -> list[int]:
        """Which hand-overs the ministry lacks: those it holds no case for (asked one by one)."""
        lacking = []
        for n, item in enumerate(items):
            handover = self.handover(item.body)
            if self.is_open(self.system, handover.dossier_no):
                continue
            if self._find(handover) is None:
                lacking.append(n)
        return lacking

    def _find(self, handover: HandOver) -> CaseStatus | None:
        """Ask the ministry for ``handover``'s case; a case found is recorded (``on_opened``)."""
        identify = (handover.forms.get("declarationWSForm") or {}).get("identifyNo")
        ref = CaseRef(
            handover.dossier_no,
            identify_no=str(identify) if identify else handover.record.owner_paper_no,
        )
        status = self.profile.find(ref)
        if status is not None:
            found = CaseRef(ref.dossier_no, status.case_id, ref.identify_no)
            self.on_opened(self.system, handover, found, status)
        return status

    def close(self) -> None:
        """Close the profile and the system's HTTP client."""
        self.profile.close()
        self._close()
