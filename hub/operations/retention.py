"""Location retention: residents' location history is kept `retention.gps_retention_days` only.

`purge_location_history(sessions, now, days)` removes, in batches of `batch` rows, one short
transaction each (ingestion keeps writing meanwhile):
- GPS events (channel `gps`) received before the cutoff;
- the coordinates of older events of other channels (columns lat/lon/acc, and the keys
  lat/lon/acc/speed of their stored raw payload), the rest of the event kept;
- quarantined GPS messages (raw bytes carry coordinates) received before the cutoff;
- a device's last fix when it is older than the cutoff.
One audit record (`retention.purge`) says what was removed. Running it twice is harmless, and
several hubs may run it at once (deletes by id).

On PostgreSQL with `events` partitioned (hub/storage/partitioning.py, docs/SCALE_OUT.md) GPS
fixes are not deleted row by row: the job first creates the coming days' partitions, then
drops every GPS day partition whose whole (device-time) day is before the cutoff — the
cutoff's own day goes at the next run, so a fix is kept 90 to 91 days, as with a daily
row purge. Row deletes remain for the GPS DEFAULT partition (odd device clocks, days without
a partition), by receive time as before; the coordinate scrub only looks at non-GPS events.
Partition work runs under an advisory lock: several hubs take turns, the later finds nothing.

`purge_records(sessions, now, settings)` applies the other periods of `retention` (finding 14 of
the security review; defaults in docs/SECURITY.md), in the same batches:
- quarantined messages older than `quarantine_days`: deleted;
- events older than `events_days`: deleted, except those a partition's owner has not ruled yet
  and the newest event (the core restarts after its id; SQLite would reuse ids of an empty table);
- notifications older than `notifications_days` whose sending is over: body, template
  parameters, number, recipient name and error cleared, the row (state, times) kept for the
  statistics; short responder links expired (they live a day): deleted;
- audit records and inbound SMS ids (`sms_inbound`) older than `audit_days`: deleted.
One audit record (`retention.purge_records`) holds the counts.

`RetentionJobs` runs both daily on an APScheduler BackgroundScheduler that `Hub.start()` starts
and `Hub.stop()` stops (pingan/wiring.py); the first run is a minute after start. The daily SMS
digest needs no job here: the dispatcher's sweep sends it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import ColumnElement, Engine, delete, func, select, text, true, update
from sqlalchemy.orm import Session, sessionmaker

from hub.clock import Clock, SystemClock
from hub.config import RetentionConfig
from hub.storage import models as m
from hub.storage import partitioning
from hub.storage.db import prepare_partitions

log = logging.getLogger("pingan.retention")

DAY_S = 86400.0
BATCH = 5000
LOCATION_KEYS = ("lat", "lon", "acc", "speed")
EXPIRED_BODY = "[expired]"
# Notifications still on their way (or waiting for the digest) keep their number and text.
PENDING_STATES = ("queued", "sending", "held")
FIRST_RUN_DELAY_S = 60


@dataclass
class PurgeResult:
    cutoff: float
    gps_events_deleted: int = 0  # in dropped partitions and row by row
    partitions_dropped: int = 0  # PostgreSQL: whole GPS days
    events_scrubbed: int = 0
    quarantine_deleted: int = 0
    last_fixes_cleared: int = 0


def purge_location_history(sessions: sessionmaker[Session], now: float, days: int, batch: int = BATCH) -> PurgeResult:
    """Delete or scrub every location older than `now - days`; returns the counts."""
    result = PurgeResult(cutoff=now - days * DAY_S)
    partitioned = _drop_expired_partitions(_engine(sessions), now, result)
    delete_gps = _delete_gps_default_rows if partitioned else _delete_gps_events
    result.gps_events_deleted += _in_batches(sessions, lambda s: delete_gps(s, result.cutoff, batch))
    # Partitioned, GPS rows of kept days are never scrubbed: the scrub reads the rest only.
    scrubbed = m.Event.channel != "gps" if partitioned else true()
    result.events_scrubbed = _in_batches(sessions, lambda s: _scrub_other_events(s, result.cutoff, batch, scrubbed))
    result.quarantine_deleted = _in_batches(sessions, lambda s: _delete_gps_quarantine(s, result.cutoff, batch))
    with sessions.begin() as session:
        result.last_fixes_cleared = _clear_last_fixes(session, result.cutoff)
        session.add(m.Audit(at=now, actor="system", channel="system", action="retention.purge",
                            detail={"days": days, **vars(result)}))
    log.info("retention.purge days=%d cutoff=%.0f gps_events_deleted=%d partitions_dropped=%d events_scrubbed=%d "
             "quarantine_deleted=%d last_fixes_cleared=%d", days, result.cutoff, result.gps_events_deleted,
             result.partitions_dropped, result.events_scrubbed, result.quarantine_deleted, result.last_fixes_cleared)
    return result


def _engine(sessions: sessionmaker[Session]) -> Engine:
    with sessions() as session:
        bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _drop_expired_partitions(engine: Engine, now: float, result: PurgeResult) -> bool:
    """PostgreSQL, partitioned: create the coming days' partitions, drop the expired GPS days
    (counted into `result`). False when `events` is a plain table (SQLite)."""
    with partitioning.maintenance(engine) as conn:
        if conn is None:
            return False
        partitioning.ensure_partitions(conn, now)
        dropped = partitioning.drop_expired_gps(conn, result.cutoff)
    result.partitions_dropped = len(dropped)
    result.gps_events_deleted = sum(d.rows for d in dropped)
    return True


def _in_batches(sessions: sessionmaker[Session], step: Callable[[Session], int]) -> int:
    """Run `step(session)` in its own transaction until it reports 0 rows; the total."""
    total = 0
    while True:
        with sessions.begin() as session:
            done = step(session)
        total += done
        if done == 0:
            return total


def _delete_gps_events(session: Session, cutoff: float, batch: int) -> int:
    ids = session.scalars(
        select(m.Event.id).where(m.Event.channel == "gps", m.Event.received_at < cutoff).order_by(m.Event.id).limit(batch)
    ).all()
    if ids:
        session.execute(delete(m.Event).where(m.Event.id.in_(ids)))
    return len(ids)


def _delete_gps_default_rows(session: Session, cutoff: float, batch: int) -> int:
    """Partitioned: GPS rows outside any day partition (odd device clocks), by receive time."""
    deleted = session.execute(text(
        "DELETE FROM events_gps_default WHERE id IN "
        "(SELECT id FROM events_gps_default WHERE received_at < :cutoff ORDER BY id LIMIT :batch)"
    ), {"cutoff": cutoff, "batch": batch})
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]


def _scrub_other_events(session: Session, cutoff: float, batch: int, among: ColumnElement[bool]) -> int:
    rows = session.execute(
        select(m.Event.id, m.Event.payload)
        .where(among, m.Event.received_at < cutoff, (m.Event.lat.is_not(None)) | (m.Event.lon.is_not(None)))
        .order_by(m.Event.id)
        .limit(batch)
    ).all()
    for event_id, payload in rows:
        session.execute(
            update(m.Event)
            .where(among, m.Event.id == event_id)
            .values(lat=None, lon=None, acc=None, payload=_scrubbed(payload))
        )
    return len(rows)


def _scrubbed(payload: str) -> str:
    """The raw payload without its location keys (left as it is when it is not a JSON object)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(data, dict):
        return payload
    for key in LOCATION_KEYS:
        data.pop(key, None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _delete_gps_quarantine(session: Session, cutoff: float, batch: int) -> int:
    ids = session.scalars(
        select(m.Quarantine.id)
        .where(m.Quarantine.topic.like("%/gps"), m.Quarantine.received_at < cutoff)
        .order_by(m.Quarantine.id)
        .limit(batch)
    ).all()
    if ids:
        session.execute(delete(m.Quarantine).where(m.Quarantine.id.in_(ids)))
    return len(ids)


def _clear_last_fixes(session: Session, cutoff: float) -> int:
    cleared = session.execute(
        update(m.DeviceState)
        .where(m.DeviceState.last_fix_at < cutoff)
        .values(last_lat=None, last_lon=None, last_acc=None, last_fix_at=None)
    )
    return int(cleared.rowcount or 0)  # type: ignore[attr-defined]


@dataclass
class RecordsResult:
    quarantine_deleted: int = 0
    events_deleted: int = 0
    rule_failures_deleted: int = 0
    notifications_scrubbed: int = 0
    audit_deleted: int = 0
    inbound_ids_deleted: int = 0
    short_links_deleted: int = 0


def purge_records(sessions: sessionmaker[Session], now: float, settings: RetentionConfig,
                  batch: int = BATCH) -> RecordsResult:
    """Delete or clear quarantine, events, notifications, audit and inbound ids past their periods."""
    def cutoff(days: int) -> float:
        return now - days * DAY_S

    result = RecordsResult()
    result.quarantine_deleted = _in_batches(sessions, lambda s: _delete_ids(
        s, m.Quarantine.id, m.Quarantine.received_at < cutoff(settings.quarantine_days), batch))
    with sessions() as session:
        newest = session.scalar(select(func.max(m.Event.id))) or 0
    result.events_deleted = _in_batches(sessions, lambda s: _delete_ids(
        s, m.Event.id, (m.Event.received_at < cutoff(settings.events_days)) & (m.Event.id < newest)
        & m.Event.ruled.is_not(False), batch))
    with sessions.begin() as session:  # the records of isolated events go with the events
        result.rule_failures_deleted = int(session.execute(delete(m.RuleFailure).where(
            m.RuleFailure.received_at < cutoff(settings.events_days))).rowcount or 0)  # type: ignore[attr-defined]
    result.notifications_scrubbed = _in_batches(sessions, lambda s: _scrub_notifications(
        s, cutoff(settings.notifications_days), batch))
    result.audit_deleted = _in_batches(sessions, lambda s: _delete_ids(
        s, m.Audit.id, m.Audit.at < cutoff(settings.audit_days), batch))
    with sessions.begin() as session:
        result.inbound_ids_deleted = int(session.execute(delete(m.InboundSms).where(
            m.InboundSms.received_at < cutoff(settings.audit_days))).rowcount or 0)  # type: ignore[attr-defined]
        result.short_links_deleted = int(session.execute(delete(m.ShortLink).where(
            m.ShortLink.expires_at < now)).rowcount or 0)  # type: ignore[attr-defined]
        session.add(m.Audit(at=now, actor="system", channel="system", action="retention.purge_records",
                            detail={**settings.model_dump(), **vars(result)}))
    log.info("retention.purge_records %s", " ".join(f"{k}={v}" for k, v in vars(result).items()))
    return result


def _delete_ids(session: Session, id_column: Any, where: ColumnElement[bool], batch: int) -> int:
    ids = session.scalars(select(id_column).where(where).order_by(id_column).limit(batch)).all()
    if ids:
        session.execute(delete(id_column.class_).where(id_column.in_(ids)))
    return len(ids)


def _scrub_notifications(session: Session, cutoff: float, batch: int) -> int:
    ids = session.scalars(
        select(m.Notification.id)
        .where(m.Notification.created_at < cutoff, m.Notification.state.not_in(PENDING_STATES),
               m.Notification.body != EXPIRED_BODY)
        .order_by(m.Notification.id)
        .limit(batch)
    ).all()
    if ids:
        session.execute(update(m.Notification).where(m.Notification.id.in_(ids)).values(
            body=EXPIRED_BODY, params=None, phone="", recipient_name="", error=None))
    return len(ids)


class RetentionJobs:
    """The hub's periodic jobs on a BackgroundScheduler: the daily location and records purge."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, gps_retention_days: int,
                 records: RetentionConfig | None = None) -> None:
        self.sessions, self.clock, self.days = sessions, clock, gps_retention_days
        self.records = records or RetentionConfig(gps_retention_days=gps_retention_days)
        self.scheduler = BackgroundScheduler(daemon=True, job_defaults={"coalesce": True, "max_instances": 1})

    def start(self) -> None:
        try:  # PostgreSQL: the coming days' partitions now (a row without one still lands in DEFAULT)
            prepare_partitions(_engine(self.sessions), self.clock.now())
        except Exception:
            log.exception("creating the events partitions failed; the daily job retries")
        # APScheduler runs on the wall clock; the purge's cutoff comes from the hub's clock.
        first = datetime.fromtimestamp(SystemClock().now() + FIRST_RUN_DELAY_S, tz=UTC)
        self.scheduler.add_job(self.purge, "interval", days=1, next_run_time=first, id="gps_retention")
        self.scheduler.start()
        log.info("retention jobs started gps_retention_days=%d", self.days)

    def purge(self) -> PurgeResult | None:
        """Both purges; each failure is logged and the other still runs."""
        location = None
        try:
            location = purge_location_history(self.sessions, self.clock.now(), self.days)
        except Exception:
            log.exception("retention.purge failed; next attempt in a day")
        try:
            purge_records(self.sessions, self.clock.now(), self.records)
        except Exception:
            log.exception("retention.purge_records failed; next attempt in a day")
        return location

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
