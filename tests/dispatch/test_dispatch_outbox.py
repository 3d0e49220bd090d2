"""The outbox sender with the official twilio SDK against the local Twilio-compatible server,
on SQLite and PostgreSQL: sends, retries with backoff, permanent failures that move on to the
next responder, lease expiry after a crashed sender, validity expiry, and the texts of an open
alert that outlast a provider outage (attempts and validity) until the provider takes them."""

from __future__ import annotations

from itertools import pairwise

from support.twilio_server import Behaviour, TwilioTestServer

from alerts.actions import AlertOpened, AlertUpdated, Reason
from hub.clock import VirtualClock
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.twilio import TwilioProvider
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.storage import models as m

from .conftest import PHONES, T0, Db, acked, make_alert, policy, store_and_dispatch

PUBLIC_URL = "https://hub.example.org"
FROM = "+15005550006"


def provider_for(server: TwilioTestServer, timeout_s: float = 5.0) -> TwilioProvider:
    return TwilioProvider(server.account_sid, server.auth_token, FROM, server.base_url, timeout_s=timeout_s)


def sender_for(
    db: Db, server: TwilioTestServer, clock: VirtualClock, dispatcher: Dispatcher, owner: str = "s1", **kw: float
) -> OutboxSender:
    settings = SenderSettings(owner=owner, status_callback=f"{PUBLIC_URL}/webhooks/twilio/status", **kw)  # type: ignore[arg-type]
    return OutboxSender(db.sessions, provider_for(server), OutboxOnly(db.sessions, dispatcher, clock), clock, settings)


def open_sos(db: Db, dispatcher: Dispatcher) -> str:
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    return alert.id


def test_messages_go_out_through_the_sdk_with_validity_and_callback(db: Db, twilio_server: TwilioTestServer) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0 + 2)
    alert_id = open_sos(db, dispatcher)
    sender = sender_for(db, twilio_server, clock, dispatcher)
    assert sender.run_once() == 2

    sent = twilio_server.accepted()
    assert sorted(m.to for m in sent) == sorted([PHONES["wang"], PHONES["son"]])
    assert {m.from_ for m in sent} == {FROM}
    assert {m.validity_period for m in sent} == {"298"}  # what is left of the 5 min step
    assert {m.status_callback for m in sent} == {f"{PUBLIC_URL}/webhooks/twilio/status"}
    rows = db.notifications()
    assert {n.state for n in rows} == {"sent"}
    assert sorted(n.provider_sid or "" for n in rows) == sorted(m.sid or "" for m in sent)
    assert db.alert(alert_id).first_notified_at == T0 + 2
    assert sender.run_once() == 0  # nothing twice


def test_recoverable_errors_are_retried_with_backoff(db: Db, twilio_server: TwilioTestServer) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0)
    open_sos(db, dispatcher)
    twilio_server.by_number[PHONES["wang"]] = Behaviour(429)
    sender = sender_for(db, twilio_server, clock, dispatcher)
    sender.run_once()
    (row,) = db.notifications(phone=PHONES["wang"])
    assert (row.state, row.attempts, row.error_code) == ("queued", 1, "20429")
    first_retry = row.next_attempt_at
    assert first_retry is not None and T0 + 8 <= first_retry <= T0 + 12  # 10 s ± 20 %

    assert sender.run_once() == 0  # not before its time
    twilio_server.by_number[PHONES["wang"]] = Behaviour(500)
    clock.set(first_retry)
    sender.run_once()
    (row,) = db.notifications(phone=PHONES["wang"])
    assert (row.state, row.attempts, row.error_code) == ("queued", 2, "20500")
    assert row.next_attempt_at is not None and 16 <= row.next_attempt_at - first_retry <= 24  # doubled

    del twilio_server.by_number[PHONES["wang"]]
    clock.set(row.next_attempt_at)
    sender.run_once()
    (row,) = db.notifications(phone=PHONES["wang"])
    assert (row.state, row.attempts) == ("sent", 3)
    assert [m.status_code for m in twilio_server.messages if m.to == PHONES["wang"]] == [429, 500, 201]


def retry_until_sent_or_given_up(
    sender: OutboxSender, db: Db, clock: VirtualClock, phone: str, until: float, tried_at: list[float] | None = None
) -> m.Notification:
    """Run the sender at each retry time of `phone`'s text until it leaves `queued` or `until` passes."""
    while True:
        sender.run_once()
        if tried_at is not None:
            tried_at.append(clock.now())
        (row,) = db.notifications(phone=phone)
        if row.state != "queued" or row.next_attempt_at is None or row.next_attempt_at > until:
            return row
        clock.set(row.next_attempt_at)


def test_out_of_attempts_is_a_failure_once_the_alert_is_acknowledged(db: Db, twilio_server: TwilioTestServer) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0)
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    # Somebody acknowledged on the board: the texts still queued are no longer kept alive.
    store_and_dispatch(db, dispatcher, [AlertUpdated(acked(alert, T0), Reason.ACKNOWLEDGED)], T0)
    twilio_server.by_number[PHONES["wang"]] = Behaviour(503)
    sender = sender_for(db, twilio_server, clock, dispatcher, max_attempts=3)
    row = retry_until_sent_or_given_up(sender, db, clock, PHONES["wang"], T0 + 300)
    assert (row.state, row.attempts) == ("failed", 3)
    assert row.valid_until is not None and clock.now() < row.valid_until  # the count, not the validity, ended it


def test_an_open_alerts_text_outlasts_its_attempts_and_validity_in_an_outage(
    db: Db, twilio_server: TwilioTestServer
) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0)
    open_sos(db, dispatcher)
    twilio_server.by_number[PHONES["wang"]] = Behaviour(503)
    sender = sender_for(db, twilio_server, clock, dispatcher, max_attempts=3)
    recovery = T0 + 900  # three times the step's 5-minute validity
    tried_at: list[float] = []
    row = retry_until_sent_or_given_up(sender, db, clock, PHONES["wang"], recovery, tried_at)
    assert row.state == "queued" and row.attempts > 3  # not failed after max_attempts, not expired at T0 + 300
    assert len([m for m in twilio_server.messages if m.to == PHONES["wang"]]) == row.attempts
    gaps = [b - a for a, b in pairwise(tried_at)]
    assert max(gaps) <= 36 and tried_at[-1] > T0 + 300  # every 30 s ± 20 % at most, also after the validity

    del twilio_server.by_number[PHONES["wang"]]
    clock.set(max(recovery, row.next_attempt_at or recovery))
    assert clock.now() - recovery <= 36  # retried at least every 30 s ± 20 %
    row = retry_until_sent_or_given_up(sender, db, clock, PHONES["wang"], recovery + 60)
    assert row.state == "sent"
    late = [m for m in twilio_server.accepted() if m.to == PHONES["wang"]]
    assert len(late) == 1 and late[0].validity_period == "300"  # a short validity for a late text
    assert sender.stats.late == 1
    assert sender.run_once() == 0  # nothing twice


def test_a_late_text_expires_once_the_alert_is_acknowledged(db: Db, twilio_server: TwilioTestServer) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0)
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    twilio_server.by_number[PHONES["wang"]] = Behaviour(503)
    sender = sender_for(db, twilio_server, clock, dispatcher)
    row = retry_until_sent_or_given_up(sender, db, clock, PHONES["wang"], T0 + 400)
    assert row.state == "queued" and row.next_attempt_at is not None and row.next_attempt_at > T0 + 300
    store_and_dispatch(db, dispatcher, [AlertUpdated(acked(alert, T0 + 400), Reason.ACKNOWLEDGED)], T0 + 400)
    del twilio_server.by_number[PHONES["wang"]]
    clock.set(row.next_attempt_at)
    sender.run_once()
    (row,) = db.notifications(phone=PHONES["wang"])
    assert row.state == "expired"
    assert not [m for m in twilio_server.accepted() if m.to == PHONES["wang"]]


def test_a_permanent_failure_moves_on_to_the_next_volunteer(db: Db, twilio_server: TwilioTestServer) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0)
    alert_id = open_sos(db, dispatcher)
    with db.sessions.begin() as s:
        dispatcher.request_backup(s, alert_id, T0, actor="wang")
    twilio_server.by_number[PHONES["v2"]] = Behaviour(400, code=21211)
    sender = sender_for(db, twilio_server, clock, dispatcher)
    while sender.run_once():
        pass
    (failed,) = db.notifications(phone=PHONES["v2"])
    assert (failed.state, failed.error_code, failed.attempts) == ("failed", "21211", 1)  # never retried
    (substitute,) = db.notifications(reason="replacement")
    assert substitute.recipient_id == "v4" and substitute.step == 1 and substitute.state == "sent"
    assert substitute.valid_until == failed.valid_until  # the same step's window


def test_when_nobody_of_a_step_can_be_reached_the_next_step_starts_now(db: Db, twilio_server: TwilioTestServer) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0 + 1)
    alert_id = open_sos(db, dispatcher)
    twilio_server.by_number[PHONES["wang"]] = Behaviour(400, code=21610)  # opted out
    twilio_server.by_number[PHONES["son"]] = Behaviour(400, code=21614)  # landline
    sender = sender_for(db, twilio_server, clock, dispatcher)
    sender.run_once()
    assert {n.state for n in db.notifications(step=0)} == {"failed"}
    assert [n.reason for n in db.notifications(step=1)] == ["step_undeliverable"] * 4
    assert db.alert(alert_id).next_escalation_at == T0 + 1 + 300


def test_a_crashed_senders_lease_expires_and_another_sender_sends(db: Db, twilio_server: TwilioTestServer) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0)
    open_sos(db, dispatcher)
    crashed = sender_for(db, twilio_server, clock, dispatcher, owner="crashed", lease_s=60)
    claimed = crashed.claim()  # ...and dies before sending
    assert len(claimed) == 2 and {n.state for n in db.notifications()} == {"sending"}

    survivor = sender_for(db, twilio_server, clock, dispatcher, owner="survivor", lease_s=60)
    assert survivor.run_once() == 0  # the lease still holds
    clock.set(T0 + 60.001)
    assert survivor.run_once() == 2
    assert {(n.state, n.lease_owner, n.attempts) for n in db.notifications()} == {("sent", "survivor", 2)}
    assert len(twilio_server.accepted()) == 2

    crashed.deliver(claimed[0])  # a zombie that wakes up sends, but cannot overwrite the row
    assert crashed.stats.lost_lease == 1
    assert {n.lease_owner for n in db.notifications()} == {"survivor"}


def test_messages_past_their_validity_expire_unsent(db: Db, twilio_server: TwilioTestServer) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0 + 300)  # the hub was down for the whole step
    open_sos(db, dispatcher)
    sender = sender_for(db, twilio_server, clock, dispatcher)
    sender.run_once()
    assert {n.state for n in db.notifications(step=0)} == {"expired"}
    assert twilio_server.messages == []


def test_a_retry_that_would_land_after_the_validity_expires_a_text_of_an_acknowledged_alert(
    db: Db, twilio_server: TwilioTestServer
) -> None:
    dispatcher, clock = Dispatcher(policy()), VirtualClock(T0 + 295)
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    store_and_dispatch(db, dispatcher, [AlertUpdated(acked(alert, T0 + 290), Reason.ACKNOWLEDGED)], T0 + 290)
    twilio_server.by_number[PHONES["wang"]] = Behaviour(500)
    sender_for(db, twilio_server, clock, dispatcher).run_once()
    (row,) = db.notifications(phone=PHONES["wang"])
    assert row.state == "expired" and "validity" in (row.error or "")
