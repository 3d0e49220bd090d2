"""Finding 14: retention covered only locations; quarantine rows, events, notifications (SMS
bodies, phone numbers), audit records and the inbound SMS ids grew forever. The daily job that
purges locations (`RetentionJobs.purge`, hub/operations/retention.py) now also purges these after their
own periods (`retention.*_days`, defaults in docs/SECURITY.md), on the hub's clock, on SQLite
and PostgreSQL: old rows go, recent ones and whatever the running hub still needs stay."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from hub.clock import VirtualClock
from hub.config import RetentionConfig
from hub.operations.retention import EXPIRED_BODY, RetentionJobs
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions

DAY = 86400.0
NOW = 1_790_000_000.0
SETTINGS = RetentionConfig(gps_retention_days=90, quarantine_days=30, events_days=365, notifications_days=180,
                           audit_days=1095)


def _event(seq: int, at: float, ruled: bool = True) -> m.Event:
    return m.Event(device_id="cat-0001", channel="heartbeat", seq=seq, device_ts=at, received_at=at, at=at, battery=50,
                   payload=json.dumps({"ts": at, "seq": seq, "battery": 50}), ruled=ruled)


def _note(alert: str | None, state: str, age_days: float, phone: str = "+8613800000001") -> m.Notification:
    at = NOW - age_days * DAY
    return m.Notification(alert_id=alert, purpose="alert", role="grid_worker", recipient_id="wang",
                          recipient_name="王网格员", phone=phone, body="【平安】李奶奶(宣信街12号)SOS。码A7K2",
                          state=state, created_at=at, next_attempt_at=at, sent_at=at, template="sos",
                          params={"name": "李奶奶", "address": "宣信街12号", "code": "A7K2", "link": "h/s/Ab3xK9"})


def _seed(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        s.add_all([
            _event(1, NOW - 400 * DAY), _event(2, NOW - 366 * DAY), _event(3, NOW - 10 * DAY),
            _event(4, NOW - 500 * DAY, ruled=False),  # not ruled yet (scale-out backlog): kept
        ])
        for reason, age in (("bad_json", 31), ("rate_limited", 40), ("bad_json", 29)):
            s.add(m.Quarantine(topic="pingan/v1/dev/cat-0001/event", device_id="cat-0001", reason=reason,
                               message="x", raw=b"\x00" * 10, received_at=NOW - age * DAY))
        s.add_all([
            m.Alert(id="al-old", code="A7K2", kind="sos", severity="critical", state="resolved", opened_at=NOW - 200 * DAY,
                    resolved_at=NOW - 199 * DAY, outcome="assisted"),
            m.Alert(id="al-open", code="B3C4", kind="sos", severity="critical", state="open", opened_at=NOW - 181 * DAY),
        ])
        s.flush()
        s.add_all([
            _note("al-old", "delivered", 200), _note(None, "digested", 190), _note("al-old", "failed", 181),
            _note("al-old", "delivered", 170, phone="+8613800000002"),  # recent: kept
            _note("al-open", "queued", 181, phone="+8613800000003"),  # still waiting to go out: kept
        ])
        s.add_all([
            m.Audit(at=NOW - 1100 * DAY, actor="wang", channel="sms", action="sms_reply", detail={"from": "+86138"}),
            m.Audit(at=NOW - 1000 * DAY, actor="wang", channel="sms", action="sms_reply", detail={"from": "+86138"}),
            m.InboundSms(provider="twilio", sid="SMold", received_at=NOW - 1100 * DAY),
            m.ShortLink(code="dead01", url="https://h/r/x", expires_at=NOW - 1, alert_id="al-old"),
            m.ShortLink(code="live01", url="https://h/r/y", expires_at=NOW + 3600, alert_id="al-open"),
            m.InboundSms(provider="twilio", sid="SMnew", received_at=NOW - 1000 * DAY),
        ])


def test_the_daily_job_purges_every_kind_of_record_after_its_period(db_url: str) -> None:
    engine = make_engine(db_url, writer=True)
    sessions = make_sessions(engine)
    _seed(sessions)
    jobs = RetentionJobs(sessions, VirtualClock(NOW), SETTINGS.gps_retention_days, records=SETTINGS)
    result = jobs.purge()
    assert result is not None
    with sessions() as s:
        assert sorted(s.scalars(select(m.Event.seq))) == [3, 4]
        assert sorted(s.scalars(select(m.Quarantine.received_at))) == [NOW - 29 * DAY]
        notes = list(s.scalars(select(m.Notification).order_by(m.Notification.id)))
        assert [(n.state, n.body == EXPIRED_BODY, n.phone, n.recipient_name, n.params is None) for n in notes] == [
            ("delivered", True, "", "", True), ("digested", True, "", "", True), ("failed", True, "", "", True),
            ("delivered", False, "+8613800000002", "王网格员", False),  # recent
            ("queued", False, "+8613800000003", "王网格员", False),  # still to be sent
        ]
        assert list(s.scalars(select(m.ShortLink.code))) == ["live01"]  # expired short links go
        assert sorted(s.scalars(select(m.Audit.at).where(m.Audit.action == "sms_reply"))) == [NOW - 1000 * DAY]
        assert list(s.scalars(select(m.InboundSms.sid))) == ["SMnew"]
        audit = s.scalars(select(m.Audit).where(m.Audit.action == "retention.purge_records")).one()
        assert audit.detail["events_deleted"] == 2 and audit.detail["quarantine_deleted"] == 2
        assert audit.detail["notifications_scrubbed"] == 3 and audit.detail["audit_deleted"] == 1
    engine.dispose()


def test_the_newest_event_is_never_purged(db_url: str) -> None:
    """The core restarts from the newest event id; on SQLite an emptied table would hand out
    ids again from 1, below that watermark."""
    engine = make_engine(db_url, writer=True)
    sessions = make_sessions(engine)
    with sessions.begin() as s:
        s.add_all([_event(1, NOW - 800 * DAY), _event(2, NOW - 700 * DAY)])
    RetentionJobs(sessions, VirtualClock(NOW), 90, records=SETTINGS).purge()
    with sessions() as s:
        assert list(s.scalars(select(m.Event.seq))) == [2]
        assert s.scalar(select(func.count()).select_from(m.Event)) == 1
    engine.dispose()


def test_defaults() -> None:
    defaults = RetentionConfig()
    assert (defaults.gps_retention_days, defaults.quarantine_days, defaults.events_days,
            defaults.notifications_days, defaults.audit_days) == (90, 30, 365, 180, 1095)
