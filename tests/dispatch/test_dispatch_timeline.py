"""Escalation timelines on a virtual clock, stored in a real database (SQLite and PostgreSQL).

critical: grid worker + family at 0, leader + 3 nearest volunteers at 5 min, operators at
10 min; an acknowledgement stops it; a backup request jumps to the next step at once; an
abandoned acknowledgement resumes it; resolving tells everyone who was told.
"""

from __future__ import annotations

from dataclasses import replace

from alerts.actions import (
    AlertAckExpired,
    AlertKind,
    AlertOpened,
    AlertResolved,
    AlertState,
    AlertUpdated,
    Outcome,
    Reason,
    Severity,
)
from hub.clock import VirtualClock
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.console import ConsoleProvider
from hub.dispatch.sender import OutboxSender, SenderSettings

from .conftest import PHONES, T0, Db, acked, make_alert, policy, store_and_dispatch


def phones(db: Db, **where: object) -> list[str]:
    return [n.phone for n in db.notifications(**where)]


def send_all(db: Db, dispatcher: Dispatcher, clock: VirtualClock) -> ConsoleProvider:
    provider = ConsoleProvider(echo=False)
    sender = OutboxSender(db.sessions, provider, OutboxOnly(db.sessions, dispatcher, clock), clock, SenderSettings(owner="t"))
    while sender.run_once():
        pass
    return provider


def test_critical_alert_escalates_by_the_clock(db: Db) -> None:
    dispatcher = Dispatcher(policy())
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)

    assert phones(db, step=0) == [PHONES["wang"], PHONES["son"]]
    row = db.alert(alert.id)
    assert (row.escalation_step, row.next_escalation_at) == (0, T0 + 300)
    assert all(
        n.reason == "alert_opened" and n.state == "queued" and n.valid_until == T0 + 300 for n in db.notifications()
    )
    assert "A7K2" in db.notifications()[0].body

    with db.sessions.begin() as s:
        assert dispatcher.sweep(s, T0 + 299) == []  # not due yet
    with db.sessions.begin() as s:
        dispatcher.sweep(s, T0 + 300)
    assert phones(db, step=1) == [PHONES["zhao"], PHONES["v1"], PHONES["v2"], PHONES["v3"]]
    assert {n.reason for n in db.notifications(step=1)} == {"wait_elapsed"}
    assert db.notifications(recipient_id="v2")[0].body.startswith("Ping'an:")  # v2 chose English

    with db.sessions.begin() as s:
        dispatcher.sweep(s, T0 + 600)
    assert phones(db, step=2) == [PHONES["op"]]
    assert db.alert(alert.id).next_escalation_at is None  # last step: nothing follows by itself
    with db.sessions.begin() as s:
        assert dispatcher.sweep(s, T0 + 10_000) == []
    assert len(db.notifications()) == 7
    assert [a.detail["reason"] for a in db.audit("dispatch_step")] == ["alert_opened", "wait_elapsed", "wait_elapsed"]


def test_acknowledgement_stops_escalation(db: Db) -> None:
    dispatcher = Dispatcher(policy())
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    store_and_dispatch(db, dispatcher, [AlertUpdated(acked(alert, T0 + 60), Reason.ACKNOWLEDGED)], T0 + 60)
    assert db.alert(alert.id).next_escalation_at is None
    with db.sessions.begin() as s:
        dispatcher.sweep(s, T0 + 3600)
    assert len(db.notifications()) == 2


def test_backup_jumps_to_the_next_step_now(db: Db) -> None:
    dispatcher = Dispatcher(policy())
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    with db.sessions.begin() as s:
        dispatcher.request_backup(s, alert.id, T0 + 30, actor="wang")
    assert phones(db, step=1) == [PHONES["zhao"], PHONES["v1"], PHONES["v2"], PHONES["v3"]]
    assert {n.reason for n in db.notifications(step=1)} == {"backup_requested"}
    assert db.alert(alert.id).next_escalation_at == T0 + 330  # the new step's own wait


def test_abandoned_acknowledgement_resumes_escalation(db: Db) -> None:
    dispatcher = Dispatcher(policy())
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    store_and_dispatch(db, dispatcher, [AlertUpdated(acked(alert, T0 + 60), Reason.ACKNOWLEDGED)], T0 + 60)
    reopened = replace(alert, state=AlertState.OPEN, acknowledged_at=T0 + 60)
    store_and_dispatch(db, dispatcher, [AlertAckExpired(reopened)], T0 + 60 + 2700)
    assert phones(db, step=1) == [PHONES["zhao"], PHONES["v1"], PHONES["v2"], PHONES["v3"]]
    assert {n.reason for n in db.notifications(step=1)} == {"ack_expired"}
    assert db.alert(alert.id).next_escalation_at == T0 + 2760 + 300


def test_resolve_tells_everyone_who_was_told_and_cancels_the_rest(db: Db) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0)
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    send_all(db, dispatcher, clock)
    with db.sessions.begin() as s:
        dispatcher.sweep(s, T0 + 300)
    clock.set(T0 + 300)
    send_all(db, dispatcher, clock)
    with db.sessions.begin() as s:
        dispatcher.sweep(s, T0 + 600)  # operator queued, not sent yet
    resolved = replace(alert, state=AlertState.RESOLVED, resolved_at=T0 + 601, outcome=Outcome.OK)
    store_and_dispatch(db, dispatcher, [AlertResolved(resolved, Outcome.OK, Reason.RESOLVED_BY_RESPONDER)], T0 + 601)

    done = db.notifications(purpose="done")
    assert sorted(n.phone for n in done) == sorted(PHONES[k] for k in ("wang", "son", "zhao", "v1", "v2", "v3"))
    assert all("A7K2" in n.body and n.reason == "done:ok" for n in done)
    assert [n.state for n in db.notifications(recipient_id="op")] == [
        "cancelled"
    ]  # never went out: not told, not "done"
    assert db.alert(alert.id).next_escalation_at is None


def test_cancelled_sos_before_anything_was_sent_sends_nothing(db: Db) -> None:
    dispatcher = Dispatcher(policy())
    alert = make_alert()
    cancelled = replace(alert, state=AlertState.RESOLVED, outcome=Outcome.CANCELLED, resolved_at=T0 + 5)
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    store_and_dispatch(db, dispatcher, [AlertResolved(cancelled, Outcome.CANCELLED, Reason.SOS_CANCELLED)], T0 + 5)
    assert {n.state for n in db.notifications()} == {"cancelled"}
    assert db.notifications(purpose="done") == []


def test_low_severity_waits_for_the_daily_digest(db: Db) -> None:
    dispatcher = Dispatcher(policy())
    first = make_alert(AlertKind.LOW_BATTERY, Severity.LOW, code="B3C4", suffix="1")
    second = make_alert(AlertKind.DEVICE_OFFLINE, Severity.LOW, code="D5E6", suffix="2")
    store_and_dispatch(
        db, dispatcher, [AlertOpened(first, Reason.BATTERY_LOW), AlertOpened(second, Reason.HEARTBEATS_MISSED)], T0
    )
    held = db.notifications(state="held")
    assert [n.phone for n in held] == [PHONES["wang"], PHONES["wang"]]
    digest_at = held[0].next_attempt_at
    assert digest_at is not None and digest_at > T0
    with db.sessions.begin() as s:
        dispatcher.sweep(s, digest_at - 1)
    assert db.notifications(purpose="digest") == []
    with db.sessions.begin() as s:
        dispatcher.sweep(s, digest_at)
    (digest,) = db.notifications(purpose="digest")
    assert digest.phone == PHONES["wang"] and "B3C4" in digest.body and "D5E6" in digest.body
    assert {n.state for n in db.notifications(purpose="digest_item")} == {"digested"}


def test_a_step_with_nobody_moves_on_at_once(db: Db) -> None:
    from hub.storage import models as m

    with db.sessions.begin() as s:
        s.get(m.Responder, "wang").available = False  # type: ignore[union-attr]
        resident = s.get(m.Resident, "r-0001")
        assert resident is not None
        resident.contacts.clear()
    dispatcher = Dispatcher(policy())
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    assert phones(db, step=0) == []
    assert phones(db, step=1) == [PHONES["zhao"], PHONES["v1"], PHONES["v2"], PHONES["v3"]]
    assert {n.reason for n in db.notifications()} == {"step_empty"}
    steps = db.audit("dispatch_step")
    assert steps[0].detail["skipped"] == ["grid_worker:nobody_in_role", "family:no_contacts"]


def test_repeating_the_last_step_does_not_double_a_text_still_waiting_to_go_out(db: Db) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0 + 600)
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    for at in (T0 + 300, T0 + 600):
        with db.sessions.begin() as s:
            dispatcher.sweep(s, at)
    assert [n.state for n in db.notifications(phone=PHONES["op"])] == ["queued"]  # e.g. the provider is down
    with db.sessions.begin() as s:
        dispatcher.request_backup(s, alert.id, T0 + 620, actor="zhao")
    assert len(db.notifications(phone=PHONES["op"])) == 1  # the queued text will tell the operator
    assert db.audit("dispatch_nobody") == []  # it is on its way: not "nobody to tell"

    send_all(db, dispatcher, clock)
    with db.sessions.begin() as s:
        dispatcher.request_backup(s, alert.id, T0 + 640, actor="zhao")
    assert [n.state for n in db.notifications(phone=PHONES["op"])] == ["delivered", "queued"]  # told again, on purpose
