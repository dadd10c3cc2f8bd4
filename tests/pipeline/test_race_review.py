"""Race review of the channel core: each test interleaves workers by hand (claim with one token,
let the lease lapse, sweep, claim with another, settle with the first …) against real Redis and
holds the fix of one violation of the exactly-once, order or notification rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis

from gateway.connectors.dvcqg import Service
from gateway.connectors.webhook import EVENT_CHANNEL, WebhookConfig, WebhookConnector
from gateway.pipeline.breaker import BreakerConfig, CircuitBreaker
from gateway.pipeline.channels import Channels
from gateway.pipeline.deadletters import DeadLetters
from gateway.pipeline.engine import DeliveryEngine, EngineSettings
from gateway.pipeline.outbox import DeliveryState, Outbox
from gateway.pipeline.retry import RetryPolicy
from gateway.schemas.lifecycle import Lifecycle
from gateway.service import allowed_transitions
from gateway.testing.records import AGENCY
from gateway.testing.records import national_dossier as dossier
from gateway.testing.records import national_step as step
from tests.pipeline.test_races import D1, P, Rig

D = Service.DOSSIER


@pytest.fixture
def rig(redis_client: redis.Redis) -> Iterator[Rig]:
    r = Rig(redis_client)
    yield r
    r.connector.close()


def amb_count(rig: Rig, channel: str, subject: str = D1) -> int:
    """The subject's count of flagged waiting items, as claims read it."""
    return int(rig.outbox.client.hget(rig.outbox.keys.sub(channel, subject), "amb") or 0)


def flagged_waiting(rig: Rig, channel: str, subject: str = D1) -> int:
    """What that count must equal: waiting items of the subject flagged ambiguous."""
    keys = rig.outbox.keys
    ids: list[bytes] = rig.outbox.client.zrange(keys.items(channel, subject), 0, -1)  # type: ignore[assignment]  # without scores zrange answers members
    return sum(1 for i in ids if rig.outbox.client.hget(keys.rec(i.decode()), "amb") == b"1")


def portal_status(rig: Rig) -> str:
    """The dossier's state at the portal."""
    held = rig.portal.dossier(D1)
    assert held is not None
    return str(held["TrangThaiHoSo"])


def test_worker_that_lost_its_lease_during_a_lookup_does_not_send(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """W1 looks up an ambiguous step (the portal lacks it), stalls past its lease; W2 takes the
    subject over, looks up and sends it. W1's resolve is void (not the holder), and W1 must not
    then send the step as well: that appends it twice."""
    rig.accept(D, dossier(D1))
    rig.engine.flush(D, AGENCY)
    rig.accept(P, step("20250102090000"))
    rig.portal.fail_next(1, status=502)  # ambiguous: the step is flagged
    rig.engine.flush(P, AGENCY)
    rig.clock.advance(5)
    real = rig.connector.reconcile

    def stalls_after_the_answer(*args: Any, **kwargs: Any) -> Any:
        lacking = real(*args, **kwargs)
        monkeypatch.setattr(rig.connector, "reconcile", real)
        rig.clock.advance(31)  # W1's lease lapses before it settles the answer
        rig.engine.sweep()
        assert rig.engine.flush(P, AGENCY) == 1  # W2: look-up, send, delivered
        return lacking

    monkeypatch.setattr(rig.connector, "reconcile", stalls_after_the_answer)
    rig.engine.flush(P, AGENCY)  # W1
    assert rig.times() == ["20250102090000"]


def test_late_completion_of_a_dead_lettered_step_keeps_the_ambiguity_count(rig: Rig) -> None:
    """W1 hangs mid-send; the sweep flags the step; W2's look-ups fail until the step is
    dead-lettered (the count drops to 0); then W1's send returns and completes it. The count must
    stay equal to the flagged waiting items (0), not go to -1: a negative count hides the extras
    of a later partial claim, which are then sent without a look-up."""
    rig.accept(D, dossier(D1))
    rig.engine.flush(D, AGENCY)
    [out] = rig.accept(P, step("20250102090000"))
    [hung] = rig.outbox.claim(P, AGENCY, 10, 30_000, "w1")
    rig.clock.advance(31)
    rig.engine.sweep()
    rig.portal.fail_next(2, status=503)  # W2's look-ups fail: the budget (2 attempts) is spent
    rig.engine.flush(P, AGENCY)
    rig.clock.advance(5)
    rig.engine.flush(P, AGENCY)
    assert rig.state(out.delivery_id) is DeliveryState.DEAD
    rig.connector.push(P.value.split(".")[1], AGENCY, rig.outbox.bodies(list(hung.ids)))
    rig.outbox.complete(P, AGENCY, "w1", [(hung.subject, hung.ids)])
    assert amb_count(rig, P) == flagged_waiting(rig, P) == 0


def test_replay_of_a_dead_letter_a_late_worker_delivered_does_not_resend_it(rig: Rig) -> None:
    """As above: the dead-lettered step did reach the portal (W1's late send). Its dead letter
    must not stay "dead": a replay would append the step a second time."""
    rig.accept(D, dossier(D1))
    rig.engine.flush(D, AGENCY)
    [out] = rig.accept(P, step("20250102090000"))
    [hung] = rig.outbox.claim(P, AGENCY, 10, 30_000, "w1")
    rig.clock.advance(31)
    rig.engine.sweep()
    rig.portal.fail_next(2, status=503)
    rig.engine.flush(P, AGENCY)
    rig.clock.advance(5)
    rig.engine.flush(P, AGENCY)
    rig.connector.push(P.value.split(".")[1], AGENCY, rig.outbox.bodies(list(hung.ids)))
    rig.outbox.complete(P, AGENCY, "w1", [(hung.subject, hung.ids)])
    result = rig.deadletters.replay(out.delivery_id or "", actor="op")
    assert (result.outcome, result.detail) == ("already", "delivered")
    rig.engine.flush(P, AGENCY)
    assert rig.times() == ["20250102090000"]
    assert rig.outbox.dead_letter_count() == 0


def test_late_older_state_landing_after_the_newest_in_flight_is_repaired(rig: Rig) -> None:
    """W1 hangs with state 2; the sweep frees the dossier; state 4 arrives and W2 sends it. W1's
    late state 2 lands after W2's 4, and W1 completes before W2. The portal must end on 4: W2's
    completion cannot clear the subject when a late older state may sit over its own."""
    rig.accept(D, dossier(status="2"))
    [hung] = rig.outbox.claim(D, AGENCY, 10, 30_000, "w1")
    rig.clock.advance(31)
    rig.engine.sweep()
    rig.accept(D, dossier(status="4"))
    [newest] = rig.outbox.claim(D, AGENCY, 10, 30_000, "w2")
    rig.connector.push("DongBoHoSoMC", AGENCY, rig.outbox.bodies(list(newest.ids)))
    rig.connector.push("DongBoHoSoMC", AGENCY, rig.outbox.bodies(list(hung.ids)), updating=True)
    assert portal_status(rig) == "2"  # the late state sits on top
    rig.outbox.complete(D, AGENCY, "w1", [(hung.subject, hung.ids)])
    rig.outbox.complete(D, AGENCY, "w2", [(newest.subject, newest.ids)])
    rig.engine.flush(D, AGENCY)
    assert portal_status(rig) == "4"


# -- notifications -----------------------------------------------------------------------------


class NotifyRig(Rig):
    """A Rig whose client "t" subscribes to notifications (the webhook event channel)."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client)
        hook = WebhookConnector(WebhookConfig())  # only its channel declarations
        specs = [*self.connector.channels, *hook.channels]
        hook.close()
        allowed = allowed_transitions(Lifecycle())
        channels = Channels(specs, allowed={s.value: allowed for s in Service})
        self.outbox = Outbox(
            client,
            channels,
            namespace="r",
            clock=self.clock,
            notify_channel=EVENT_CHANNEL,
            subscribers=["t"],
        )
        self.engine = DeliveryEngine(
            outbox=self.outbox,
            connector=self.connector,
            policy=RetryPolicy(initial=1, cap=60, budget=600, max_attempts=2),
            trigger=lambda s, a, d: None,
            settings=EngineSettings(batch_size=10, lease_seconds=30),
            rng=lambda lo, hi: hi,
        )
        self.deadletters = DeadLetters(self.outbox)

    def events(self) -> list[tuple[str, str]]:
        """(type, delivery id) of every notification created, in order."""
        out: list[tuple[str, str]] = []
        keys = self.outbox.keys
        for key in self.outbox.client.scan_iter(keys.rec("*")):
            if key.endswith(b":log"):
                continue
            f = self.outbox.client.hmget(key, "ch", "body")
            if f[0] == EVENT_CHANNEL.encode():
                body = orjson.loads(f[1] or b"{}")
                out.append((body["type"], body["delivery_id"]))
        return sorted(out)


@pytest.fixture
def nrig(redis_client: redis.Redis) -> Iterator[NotifyRig]:
    r = NotifyRig(redis_client)
    yield r
    r.connector.close()


def test_newest_state_sent_again_after_a_late_older_one_is_notified_once(nrig: NotifyRig) -> None:
    """A hung worker's late older state makes the newest go out again (see test_races): the
    client is told once that the newest state was delivered, not once per send."""
    nrig.accept(D, dossier(status="2"))
    [hung] = nrig.outbox.claim(D, AGENCY, 10, 30_000, "w1")
    nrig.clock.advance(31)
    nrig.engine.sweep()
    [newest] = nrig.accept(D, dossier(status="4"))
    nrig.engine.flush(D, AGENCY)
    nrig.connector.push("DongBoHoSoMC", AGENCY, nrig.outbox.bodies(list(hung.ids)), updating=True)
    nrig.outbox.complete(D, AGENCY, "w1", [(hung.subject, hung.ids)])
    nrig.engine.flush(D, AGENCY)
    assert portal_status(nrig) == "4"
    delivered = [e for e in nrig.events() if e == ("delivery.delivered", newest.delivery_id)]
    assert len(delivered) == 1
    assert nrig.outbox.metrics()[f"delivered|{D.value}"] == 2  # state 2 (late) and 4, once each


# -- breaker -----------------------------------------------------------------------------------


def test_flush_that_took_no_probe_does_not_give_one_back(rig: Rig) -> None:
    """Thread A's flush starts while the breaker is closed (no probe taken) and finds nothing to
    send; meanwhile the breaker opens, half-opens and thread B takes the one probe. A's flush
    must not release B's probe: a third thread would then probe while B's is in flight."""
    now = {"t": 0.0}
    breaker = CircuitBreaker(
        "dvcqg", BreakerConfig(failure_threshold=1, reset_seconds=10), clock=lambda: now["t"]
    )
    rig.engine.breaker = breaker
    real = rig.outbox.clear_trigger

    def meanwhile(channel_id: str, partition: str) -> None:
        real(channel_id, partition)
        breaker.record_failure()  # another thread's send failed: open
        now["t"] += 10  # half-open
        assert breaker.allow()  # thread B takes the probe

    rig.outbox.clear_trigger = meanwhile  # type: ignore[method-assign]  # a hook between steps
    assert rig.engine.flush(D, AGENCY) == 0  # thread A: nothing queued
    assert not breaker.allow()  # B's probe is still out


# -- leases and replays ------------------------------------------------------------------------


def test_claim_of_a_lapsed_lease_before_the_sweep_looks_up_first(rig: Rig) -> None:
    """W1 hangs after its step reached the portal; its lease lapses, and a new step's flush
    claims the subject before any sweep ran. The lapsed holder's items may be at the peer: the
    claim must flag them as the sweep would, or the step is appended twice."""
    rig.accept(D, dossier(D1))
    rig.engine.flush(D, AGENCY)
    rig.accept(P, step("20250102090000"))
    [hung] = rig.outbox.claim(P, AGENCY, 10, 30_000, "w1")
    rig.connector.push(P.value.split(".")[1], AGENCY, rig.outbox.bodies(list(hung.ids)))
    rig.clock.advance(31)
    rig.accept(P, step("20250103090000"))
    rig.engine.flush(P, AGENCY)  # no sweep in between
    assert rig.times() == ["20250102090000", "20250103090000"]


def test_replay_behind_a_later_step_in_flight_is_refused(rig: Rig) -> None:
    """A step is dead; a later step is on the wire (W2 holds it) when the operator replays the
    dead one. Once W2 completes, the replayed step can only arrive after the later one: the
    replay must answer out_of_order, as it does once the later step is delivered."""
    rig.accept(D, dossier(D1))
    rig.engine.flush(D, AGENCY)
    [old] = rig.accept(P, step("20250102090000"))
    rig.portal.reject(D1)
    rig.engine.flush(P, AGENCY)
    assert rig.state(old.delivery_id) is DeliveryState.DEAD
    rig.portal.clear_faults()
    rig.accept(P, step("20250105090000"))
    [later] = rig.outbox.claim(P, AGENCY, 10, 30_000, "w2")
    result = rig.deadletters.replay(old.delivery_id or "", actor="op")
    rig.connector.push(P.value.split(".")[1], AGENCY, rig.outbox.bodies(list(later.ids)))
    rig.outbox.complete(P, AGENCY, "w2", [(later.subject, later.ids)])
    rig.engine.flush(P, AGENCY)
    assert result.outcome == "out_of_order"
    assert rig.times() == ["20250105090000"]


def test_steps_blocked_on_a_dossier_a_lookup_settled_are_woken(rig: Rig) -> None:
    """Steps wait (out of the ready set) for their dossier. A look-up then answers that the
    portal holds the dossier, and the send of the rest of that batch fails, so no completion of
    the dossier follows. The look-up's settlement must wake the steps, or they wait forever."""
    [first] = rig.accept(D, dossier(D1))
    rig.accept(P, step("20250102090000"))
    assert rig.outbox.claim(P, AGENCY, 10, 30_000, "w0") == []  # blocked: leaves the ready set
    [c] = rig.outbox.claim(D, AGENCY, 10, 30_000, "w1")
    rig.connector.push("DongBoHoSoMC", AGENCY, rig.outbox.bodies(list(c.ids)))
    # A peer that can be asked about dossier states answers that it holds this one.
    rig.outbox.resolve(D, AGENCY, "w1", D1, held=list(c.ids), lacking=[], lease_ms=30_000)
    rig.outbox.reschedule(
        D, AGENCY, "w1", [(D1, [])], next_at_ms=rig.outbox.now_ms(), error="x", ambiguous=False
    )
    assert rig.state(first.delivery_id) is DeliveryState.DELIVERED
    rig.engine.sweep()
    rig.engine.flush(D, AGENCY)
    rig.engine.flush(P, AGENCY)
    assert rig.times() == ["20250102090000"]


def test_replay_behind_a_later_step_of_unknown_outcome_is_refused(rig: Rig) -> None:
    """The same with the later step retrying after an ambiguous failure (it reached the portal):
    the look-up settles it as delivered, and the replayed step would follow it."""
    rig.accept(D, dossier(D1))
    rig.engine.flush(D, AGENCY)
    [old] = rig.accept(P, step("20250102090000"))
    rig.portal.reject(D1)
    rig.engine.flush(P, AGENCY)
    rig.portal.clear_faults()
    rig.accept(P, step("20250105090000"))
    rig.portal.drop_next(1)  # applied, no answer
    rig.engine.flush(P, AGENCY)
    result = rig.deadletters.replay(old.delivery_id or "", actor="op")
    rig.clock.advance(5)
    rig.engine.flush(P, AGENCY)
    assert result.outcome == "out_of_order"
    assert rig.times() == ["20250105090000"]


# -- batch isolation ---------------------------------------------------------------------------


def test_refused_batch_of_one_subjects_steps_is_split_before_dead_lettering(rig: Rig) -> None:
    """The portal refuses a call carrying three steps of one dossier (one bad step refuses the
    whole call). The good steps must be tried alone, as a refused batch of several subjects is,
    not dead-lettered with it; once dead, a replay of them could only come out of order."""
    rig.accept(D, dossier(D1))
    rig.engine.flush(D, AGENCY)
    outs = rig.accept(P, step("20250102090000"), step("20250103090000"), step("20250104090000"))
    rig.portal.reject(D1)

    def only_the_first_call(call: Any) -> None:
        if call.service == "CapNhatTienDoHoSoMC":
            rig.portal.clear_faults()  # a call with fewer steps passes

    rig.portal.on_call = only_the_first_call
    for _ in range(4):
        rig.engine.flush(P, AGENCY)
    assert rig.times() == ["20250102090000", "20250103090000", "20250104090000"]
    assert [rig.state(o.delivery_id) for o in outs] == [DeliveryState.DELIVERED] * 3
    assert rig.outbox.dead_letter_count() == 0


def test_state_on_the_wire_of_a_lapsed_lease_ends_superseded_not_sending(rig: Rig) -> None:
    """W1 hangs with state 2; state 4 arrives (2 is on the wire, so not superseded then); the
    sweep frees the dossier and 4 is delivered. State 2 must not stay "sending" for ever: nobody
    sends it any more, and the newer state replaced it."""
    [old] = rig.accept(D, dossier(status="2"))
    rig.outbox.claim(D, AGENCY, 10, 30_000, "w1")
    [new] = rig.accept(D, dossier(status="4"))
    rig.clock.advance(31)
    rig.engine.sweep()
    rig.engine.flush(D, AGENCY)
    assert rig.state(new.delivery_id) is DeliveryState.DELIVERED
    assert rig.state(old.delivery_id) is DeliveryState.SUPERSEDED
    assert rig.outbox.status(old.delivery_id or "").superseded_by == new.delivery_id


def test_newest_state_dead_on_its_resend_is_notified_delivered_after_replay(
    nrig: NotifyRig,
) -> None:
    """The newest state, sent again after a late older one, is refused and dead-lettered, then
    replayed and delivered: the client, last told "dead_lettered" and "replayed", must be told
    "delivered" again."""
    nrig.accept(D, dossier(status="2"))
    [hung] = nrig.outbox.claim(D, AGENCY, 10, 30_000, "w1")
    nrig.clock.advance(31)
    nrig.engine.sweep()
    [newest] = nrig.accept(D, dossier(status="4"))
    nrig.engine.flush(D, AGENCY)
    nrig.connector.push("DongBoHoSoMC", AGENCY, nrig.outbox.bodies(list(hung.ids)), updating=True)
    nrig.outbox.complete(D, AGENCY, "w1", [(hung.subject, hung.ids)])
    nrig.portal.reject(D1)
    nrig.engine.flush(D, AGENCY)
    assert nrig.state(newest.delivery_id) is DeliveryState.DEAD
    nrig.portal.clear_faults()
    assert nrig.deadletters.replay(newest.delivery_id or "", actor="op").outcome == "queued"
    nrig.engine.flush(D, AGENCY)
    assert portal_status(nrig) == "4"
    kinds = sorted(k for k, i in nrig.events() if i == newest.delivery_id)
    assert kinds == sorted(
        ["delivery.delivered", "delivery.dead_lettered", "delivery.replayed", "delivery.delivered"]
    )


def test_a_lookup_renews_the_lease_for_the_send_after_it(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look-up and the send after it are each bounded by the lease (checked at start-up), not
    both together. A slow look-up followed by a slow send must not let the lease lapse mid-send:
    a second worker would then ask the peer while the first send is still on the wire (a peer
    that opens a case per call would open two). The settled look-up starts the lease again."""
    rig.accept(D, dossier(D1))
    rig.engine.flush(D, AGENCY)
    rig.accept(P, step("20250102090000"))
    rig.portal.fail_next(1, status=502)  # ambiguous: the step is flagged
    rig.engine.flush(P, AGENCY)
    rig.clock.advance(5)
    real_reconcile, real_send = rig.connector.reconcile, rig.connector.send
    taken: list[object] = []

    def slow_lookup(*args: Any, **kwargs: Any) -> Any:
        rig.clock.advance(20)  # two thirds of the 30 s lease
        return real_reconcile(*args, **kwargs)

    def slow_send(*args: Any, **kwargs: Any) -> Any:
        rig.clock.advance(20)  # 40 s after the claim, 20 s after the look-up
        rig.engine.sweep()  # another process's sweeper
        taken.extend(rig.outbox.claim(P, AGENCY, 10, 30_000, "w2"))
        return real_send(*args, **kwargs)

    monkeypatch.setattr(rig.connector, "reconcile", slow_lookup)
    monkeypatch.setattr(rig.connector, "send", slow_send)
    assert rig.engine.flush(P, AGENCY) == 1
    assert taken == []  # nobody else took the subject while the send was on the wire
    assert rig.times() == ["20250102090000"]
