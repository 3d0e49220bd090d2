"""The SMS provider answers 500 for 5 (and 20) minutes, then recovers — on a virtual clock.

The outbox senders run in-process against the local Twilio-compatible server through the
official SDK (real HTTP, real database): two senders sharing one PostgreSQL outbox (as two hubs
do, each round in its own thread), one sender on SQLite. The dispatcher's sweep runs between
rounds, so escalation steps fall due as they would in a hub. The clock jumps from one due time
to the next (a retry, an escalation step, the recovery), so 15 virtual minutes take seconds.

The settings are those of `pingan serve` with the shipped config.yaml: its escalation and its
`sms.max_attempts`. Issue 9: no text is lost and no alert missed — every person of every step
reached during the outage gets exactly one text of the alert after the recovery, including
those whose step ended during the outage (see docs/DISPATCH.md "A provider outage").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from support.reasons import OPENING
from support.twilio_server import Behaviour, TwilioTestServer

from alerts.actions import Alert, AlertKind, AlertOpened, AlertState, Reason, Severity, Transition
from alerts.escalation import EscalationPolicy
from hub.clock import VirtualClock
from hub.config import Config
from hub.dispatch.dispatcher import PURPOSE_ALERT, Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.twilio import TwilioProvider
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.storage import models as m
from hub.storage.alert_store import save_alert
from hub.storage.db import make_engine, make_sessions

from .conftest import REPO
from .helpers import import_registry

T0 = 1_764_140_400.0  # 2025-11-26 07:00 UTC, 15:00 in the community
# (alert, kind, severity, resident, device, opened this long after the outage began)
ALERTS = [
    ("al-sos-a", AlertKind.SOS, Severity.CRITICAL, "r-0003", "cat-0003", 0.0),  # step 0 ends with the outage
    ("al-fall-c", AlertKind.FALL, Severity.HIGH, "r-0017", "cat-0017", 60.0),  # 15 min steps
    ("al-sos-b", AlertKind.SOS, Severity.CRITICAL, "r-0011", "tag-0011", 150.0),  # step 0 outlasts the outage
    ("al-sos-d", AlertKind.SOS, Severity.CRITICAL, "r-0006", "cat-0006", 290.0),
]


def _run_into(sender: OutboxSender, handled: list[int], k: int, start: threading.Barrier) -> None:
    start.wait(10)  # claim together: a thread started late would find every due text taken
    handled[k] = sender.run_once()


@pytest.fixture
def sms_twilio() -> Iterator[TwilioTestServer]:
    with TwilioTestServer() as server:
        yield server


def hub_config() -> Config:
    return Config.model_validate(yaml.safe_load((REPO / "hub" / "default_config.yaml").read_text(encoding="utf-8")))


def open_alert(sessions: sessionmaker[Session], dispatcher: Dispatcher, spec: tuple[Any, ...], now: float) -> None:
    alert_id, kind, severity, resident, device, _ = spec
    alert = Alert(id=alert_id, code=alert_id[-4:].upper(), kind=kind, severity=severity, state=AlertState.OPEN,
                  resident=resident, device=device, zone=None, opened_at=now, triggered_at=now, reason=OPENING[kind],
                  transitions=(Transition(AlertState.OPEN, now, "system", "rules", "fault suite"),))
    with sessions.begin() as session:
        save_alert(session, alert)
        dispatcher.on_actions(session, [AlertOpened(alert, Reason.SOS_PRESSED)], now)


def next_due(sessions: sessionmaker[Session], now: float, pending: list[float]) -> float | None:
    """The next moment anything is due: a queued retry, an escalation step, a scripted event."""
    with sessions() as session:
        retry = session.scalar(select(func.min(m.Notification.next_attempt_at)).where(m.Notification.state == "queued"))
        step = session.scalar(select(func.min(m.Alert.next_escalation_at)).where(m.Alert.state == "open"))
    times = [t for t in (retry, step, *pending) if t is not None]
    return max(now, min(times)) if times else None


def run_round(sessions: sessionmaker[Session], dispatcher: Dispatcher, senders: list[OutboxSender], now: float) -> None:
    with sessions.begin() as session:
        dispatcher.sweep(session, now)
    while True:  # every sender at once, as the hubs' sender threads would, until nothing is due
        handled = [0] * len(senders)
        start = threading.Barrier(len(senders))
        threads = [threading.Thread(target=_run_into, args=(senders[k], handled, k, start)) for k in range(len(senders))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        if not any(handled):
            return


@pytest.mark.parametrize("outage_s", [300.0, 1200.0], ids=["5min", "20min"])
def test_sms_provider_failing_then_recovering(
    db_url: str, day_recording: Path, sms_twilio: TwilioTestServer, outage_s: float
) -> None:
    print()
    import_registry(db_url, Path(f"{day_recording}.registry.yaml"))
    engine = make_engine(db_url)
    sessions = make_sessions(engine)
    config = hub_config()
    dispatcher = Dispatcher(EscalationPolicy(config.escalation, config.volunteers))
    clock = VirtualClock(T0)
    provider = TwilioProvider(sms_twilio.account_sid, sms_twilio.auth_token, "+15005550006", sms_twilio.base_url)
    count = 2 if db_url.startswith("postgresql") else 1  # SQLite: one writer process, one sender
    senders = [OutboxSender(sessions, provider, OutboxOnly(sessions, dispatcher, clock), clock,
                            # one text a claim, so the senders share every round's texts
                            SenderSettings(owner=f"hub-{k}", max_attempts=config.sms.max_attempts, batch=1))
               for k in range(count)]
    sms_twilio.default = Behaviour(status=500, code=20500)
    recovered_at = T0 + outage_s
    end = recovered_at + 600
    openings = [(T0 + spec[5], spec) for spec in ALERTS]
    now: float | None = T0
    while now is not None and now <= end:
        clock.set(now)
        if now >= recovered_at and sms_twilio.default.status == 500:
            refused = len(sms_twilio.messages)
            sms_twilio.default = Behaviour()
        for at, spec in [o for o in openings if o[0] <= now]:
            open_alert(sessions, dispatcher, spec, at)
            openings.remove((at, spec))
        run_round(sessions, dispatcher, senders, now)
        now = next_due(sessions, now, [t for t in (recovered_at, *(o[0] for o in openings)) if t > now])
        if now is not None and now == clock.now():
            break  # nothing moved: everything due was handled
    with sessions() as session:
        notes = session.scalars(select(m.Notification).where(m.Notification.purpose == PURPOSE_ALERT)).all()
        alerts = {a.id: a for a in session.scalars(select(m.Alert))}
    engine.dispose()

    accepted = [(msg.to, msg.body) for msg in sms_twilio.accepted()]
    delivered = [n for n in notes if n.state in ("sent", "delivered")]
    by_sid = {n.provider_sid: n for n in delivered}
    # texts queued during the outage: how long after the recovery each went out (backoff)
    delays = sorted(n.sent_at - recovered_at for n in delivered if n.created_at < recovered_at)
    late = sum(s.stats.late for s in senders)
    by_sender = {s.settings.owner: s.stats.sent for s in senders}
    steps = {a: alerts[a].escalation_step for a, *_ in ALERTS}
    print(f"  {db_url.split(':')[0]}, outage {outage_s / 60:.0f} min, sms.max_attempts {config.sms.max_attempts}:"
          f" {refused} attempts refused; {len(delivered)} texts delivered, {late} of them after their own validity;"
          f" of the {len(delays)} queued during the outage, sent after the recovery within (virtual s)"
          f" max {delays[-1]:.0f} p50 {delays[len(delays) // 2]:.0f}; steps reached {steps}; sent by {by_sender}")
    assert refused > len(ALERTS), "the provider refused during the outage"
    assert len(accepted) == len(set(accepted)) == len(delivered), "a text sent twice, or sent and not recorded"
    assert not [n for n in notes if n.state in ("queued", "sending")], "a text was left unsent"
    # Every alert stayed open: none of its texts may be failed or expired, however long the outage.
    assert not [(n.id, n.state, n.step) for n in notes if n.state not in ("sent", "delivered")]
    # Every person of every step reached during the outage gets exactly one text of the alert,
    # after the recovery (nothing got through before it).
    told_during = {(n.alert_id, n.phone) for n in notes if n.created_at < recovered_at}
    received: dict[tuple[str | None, str], int] = {}
    for msg in sms_twilio.accepted():
        note = by_sid[msg.sid]
        assert note.sent_at is not None and note.sent_at >= recovered_at
        received[(note.alert_id, msg.to)] = received.get((note.alert_id, msg.to), 0) + 1
    assert {who: received.get(who, 0) for who in told_during} == dict.fromkeys(told_during, 1)
    assert set(received.values()) == {1}
    # the SLA timer ran through the outage: SOS A's first step ended during it and the next began
    assert steps["al-sos-a"] >= (1 if outage_s < 600 else 2)
    assert late > 0, "texts whose step ended during the outage were sent after all"
    if count > 1:  # both senders raced for the same outbox (which of them sent the texts is chance)
        attempts = {sender.settings.owner: sender.stats.sent + sender.stats.retried for sender in senders}
        assert all(n > 0 for n in attempts.values()), attempts
