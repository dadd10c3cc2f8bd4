"""A dossier routed to LLTP is handed over once, tracked, and its result flows back once."""

from __future__ import annotations

import redis

from gateway.testing.ministry import build_ministry_rig
from gateway.testing.records import DOSSIER_NO


def test_handover_then_result_by_polling(redis_client: redis.Redis) -> None:
    """Handed over at intake; polling sees 3, 4, 5; the webhook and the portal get each once."""
    rig = build_ministry_rig(redis_client)
    try:
        assert rig.dossier(DOSSIER_NO)
        rig.deliver()
        ledger = rig.lltp.ledger()
        assert ledger["cases"][DOSSIER_NO]["opened"] == 1
        rig.settle()
        assert rig.lltp.ledger()["cases"][DOSSIER_NO]["status"] == 5
        statuses = [e["data"]["status"] for e in rig.events()]
        assert statuses == ["3", "4", "5"]
        steps = rig.portal.steps(DOSSIER_NO)
        assert [s["TrangThai"] for s in steps] == ["4", "4", "9"]
        case = rig.gateway.ministry.case("lltp", DOSSIER_NO)  # type: ignore[union-attr]  # configured
        assert case is not None
        assert case["settled"] is True
    finally:
        rig.gateway.close()
