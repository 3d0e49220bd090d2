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

`RetentionJobs` runs it daily on an APScheduler BackgroundScheduler that `Hub.start()` starts
and `Hub.stop()` stops (hub/wiring.py); the first run is a minute after start. The daily SMS
digest needs no job here: the dispatcher's sweep sends it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from hub.clock import Clock, SystemClock
from hub.storage import models as m

log = logging.getLogger("pingan.retention")

DAY_S = 86400.0
BATCH = 5000
LOCATION_KEYS = ("lat", "lon", "acc", "speed")
FIRST_RUN_DELAY_S = 60


@dataclass
class PurgeResult:
    cutoff: float
    gps_events_deleted: int = 0
    events_scrubbed: int = 0
    quarantine_deleted: int = 0
    last_fixes_cleared: int = 0


def purge_location_history(sessions: sessionmaker[Session], now: float, days: int, batch: int = BATCH) -> PurgeResult:
    """Delete or scrub every location older than `now - days`; returns the counts."""
    result = PurgeResult(cutoff=now - days * DAY_S)
    result.gps_events_deleted = _in_batches(sessions, lambda s: _delete_gps_events(s, result.cutoff, batch))
    result.events_scrubbed = _in_batches(sessions, lambda s: _scrub_other_events(s, result.cutoff, batch))
    result.quarantine_deleted = _in_batches(sessions, lambda s: _delete_gps_quarantine(s, result.cutoff, batch))
    with sessions.begin() as session:
        result.last_fixes_cleared = _clear_last_fixes(session, result.cutoff)
        session.add(m.Audit(at=now, actor="system", channel="system", action="retention.purge",
                            detail={"days": days, **vars(result)}))
    log.info("retention.purge days=%d cutoff=%.0f gps_events_deleted=%d events_scrubbed=%d quarantine_deleted=%d "
             "last_fixes_cleared=%d", days, result.cutoff, result.gps_events_deleted, result.events_scrubbed,
             result.quarantine_deleted, result.last_fixes_cleared)
    return result


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


def _scrub_other_events(session: Session, cutoff: float, batch: int) -> int:
    rows = session.execute(
        select(m.Event.id, m.Event.payload)
        .where(m.Event.received_at < cutoff, (m.Event.lat.is_not(None)) | (m.Event.lon.is_not(None)))
        .order_by(m.Event.id)
        .limit(batch)
    ).all()
    for event_id, payload in rows:
        session.execute(
            update(m.Event).where(m.Event.id == event_id).values(lat=None, lon=None, acc=None, payload=_scrubbed(payload))
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


class RetentionJobs:
    """The hub's periodic jobs on a BackgroundScheduler: the daily location purge."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, gps_retention_days: int) -> None:
        self.sessions, self.clock, self.days = sessions, clock, gps_retention_days
        self.scheduler = BackgroundScheduler(daemon=True, job_defaults={"coalesce": True, "max_instances": 1})

    def start(self) -> None:
        # APScheduler runs on the wall clock; the purge's cutoff comes from the hub's clock.
        first = datetime.fromtimestamp(SystemClock().now() + FIRST_RUN_DELAY_S, tz=UTC)
        self.scheduler.add_job(self.purge, "interval", days=1, next_run_time=first, id="gps_retention")
        self.scheduler.start()
        log.info("retention jobs started gps_retention_days=%d", self.days)

    def purge(self) -> PurgeResult | None:
        try:
            return purge_location_history(self.sessions, self.clock.now(), self.days)
        except Exception:
            log.exception("retention.purge failed; next attempt in a day")
            return None

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
