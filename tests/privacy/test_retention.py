"""Location retention on SQLite and PostgreSQL, on a virtual `now`: old GPS rows go, old
coordinates elsewhere are scrubbed, recent ones and everything that is not location stay."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from hub.clock import VirtualClock
from hub.operations.retention import RetentionJobs, purge_location_history
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions

DAY = 86400.0
NOW = 1_790_000_000.0


def _gps(seq: int, at: float) -> m.Event:
    payload = {"ts": at, "seq": seq, "lat": 45.75, "lon": 126.64, "acc": 10.0, "speed": 0.5}
    return m.Event(device_id="tag-0001", channel="gps", seq=seq, device_ts=at, received_at=at, at=at,
                   lat=45.75, lon=126.64, acc=10.0, payload=json.dumps(payload))


def _sos_with_fix(seq: int, at: float) -> m.Event:
    payload = {"ts": at, "seq": seq, "type": "sos", "lat": 45.75, "lon": 126.64}
    return m.Event(device_id="tag-0001", channel="event", type="sos", seq=seq, device_ts=at, received_at=at, at=at,
                   lat=45.75, lon=126.64, payload=json.dumps(payload))


def _heartbeat(seq: int, at: float) -> m.Event:
    return m.Event(device_id="tag-0001", channel="heartbeat", seq=seq, device_ts=at, received_at=at, at=at, battery=50,
                   payload=json.dumps({"ts": at, "seq": seq, "battery": 50}))


def _seed(sessions, days: int) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        # 30 GPS fixes a day for 100 days, so the purge needs several batches.
        s.add_all(_gps(day * 100 + k, NOW - day * DAY - k * 60 - 1) for day in range(100) for k in range(30))
        s.add_all([_sos_with_fix(1, NOW - (days + 5) * DAY), _sos_with_fix(2, NOW - 2 * DAY)])
        s.add_all(_heartbeat(10 + day, NOW - day * DAY - 1) for day in range(100))
        s.add(m.Quarantine(topic="pingan/v1/dev/tag-0001/gps", device_id="tag-0001", reason="out_of_range",
                           message="lat 95", raw=b'{"lat": 95}', received_at=NOW - (days + 1) * DAY))
        s.add(m.Quarantine(topic="pingan/v1/dev/tag-0001/gps", device_id="tag-0001", reason="out_of_range",
                           message="lat 95", raw=b'{"lat": 95}', received_at=NOW - 1 * DAY))
        s.add_all([
            m.DeviceState(device_id="tag-0001", last_lat=45.75, last_lon=126.64, last_acc=5, last_fix_at=NOW - 3600),
            m.DeviceState(device_id="tag-0002", last_lat=45.75, last_lon=126.64, last_acc=5, last_fix_at=NOW - (days + 1) * DAY),
        ])


def test_purge_removes_only_location_older_than_the_retention(db_url: str) -> None:
    days = 90
    engine = make_engine(db_url, writer=True)
    sessions = make_sessions(engine)
    _seed(sessions, days)
    cutoff = NOW - days * DAY

    result = purge_location_history(sessions, NOW, days, batch=500)

    with sessions() as s:
        gps_at = s.scalars(select(m.Event.received_at).where(m.Event.channel == "gps")).all()
        assert len(gps_at) == 90 * 30 and min(gps_at) >= cutoff  # days 0..89 kept, 90..99 gone
        assert result.gps_events_deleted == 10 * 30
        old_sos, new_sos = s.scalars(select(m.Event).where(m.Event.type == "sos").order_by(m.Event.seq)).all()
        assert (old_sos.lat, old_sos.lon, old_sos.acc) == (None, None, None)
        assert json.loads(old_sos.payload) == {"ts": NOW - (days + 5) * DAY, "seq": 1, "type": "sos"}  # the SOS stays
        assert (new_sos.lat, new_sos.lon) == (45.75, 126.64) and "lat" in json.loads(new_sos.payload)
        assert s.scalar(select(func.count()).select_from(m.Event).where(m.Event.channel == "heartbeat")) == 100
        assert s.scalars(select(m.Quarantine.received_at)).all() == [NOW - DAY]
        fixes = {d.device_id: (d.last_lat, d.last_fix_at) for d in s.scalars(select(m.DeviceState))}
        assert fixes == {"tag-0001": (45.75, NOW - 3600), "tag-0002": (None, None)}
        audit = s.scalars(select(m.Audit).where(m.Audit.action == "retention.purge")).one()
        assert audit.detail["gps_events_deleted"] == 300 and audit.detail["events_scrubbed"] == 1
        assert (audit.detail["quarantine_deleted"], audit.detail["last_fixes_cleared"]) == (1, 1)

    again = purge_location_history(sessions, NOW, days)
    assert (again.gps_events_deleted, again.events_scrubbed, again.quarantine_deleted) == (0, 0, 0)
    engine.dispose()


def test_scheduled_job_uses_the_hub_clock_and_configured_days(db_url: str) -> None:
    engine = make_engine(db_url, writer=True)
    sessions = make_sessions(engine)
    _seed(sessions, 30)
    clock = VirtualClock(NOW - 50 * DAY)  # the hub's clock, not the wall clock, sets the cutoff
    jobs = RetentionJobs(sessions, clock, gps_retention_days=30)
    jobs.start()
    try:
        job = jobs.scheduler.get_job("gps_retention")
        assert job is not None and job.trigger.interval.total_seconds() == DAY
        result = jobs.purge()
    finally:
        jobs.stop()
    assert not jobs.scheduler.running
    assert result is not None and result.cutoff == NOW - 80 * DAY
    with sessions() as s:
        assert s.scalar(select(func.min(m.Event.received_at)).where(m.Event.channel == "gps")) >= NOW - 80 * DAY
        assert s.scalar(select(func.count()).select_from(m.Event).where(m.Event.channel == "gps")) == 80 * 30
    engine.dispose()
