"""Several hubs, one board: live events shared through PostgreSQL LISTEN/NOTIFY.

Each hub's `EventBus` feeds the SSE streams of its own browsers; with several hubs
(docs/SCALE_OUT.md) an alert decided by hub 2 must also appear on the board that hub 1 serves,
and a session ended on hub 1 must end that user's open boards on hub 2. `PgLiveBus` publishes
every event locally and as a `NOTIFY pingan_live` with its origin; a listener thread on each
hub republishes the others' events to its local subscribers. Why NOTIFY and not Redis or the
broker: PostgreSQL is already what every hub of a scale-out shares, and an event is only a hint
("reload this alert"), so at-most-once delivery is enough — after the listener loses its
connection it sends its boards one `resync` (they reload their lists) and listens again.

Payloads are small (kind and an id); NOTIFY's limit (8,000 bytes) is checked: a larger event
goes out as `resync` instead.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from typing import Any

import psycopg

from dashboards.live import RESYNC, EventBus

log = logging.getLogger("pingan.live.bridge")

CHANNEL = "pingan_live"
MAX_PAYLOAD = 7900  # NOTIFY refuses payloads of 8,000 bytes and more
RECONNECT_S = 2.0
OUTGOING_MAX = 10_000  # events waiting for the database; beyond, dropped (the others resync)


class PgLiveBus(EventBus):
    """An `EventBus` whose events also reach the `PgLiveBus` of every other hub on the database."""

    def __init__(self, conninfo: str, queue_size: int = 256) -> None:
        super().__init__(queue_size)
        self.conninfo = conninfo
        self.origin = uuid.uuid4().hex
        # Publishing happens after commits on the hub's busy threads: it only queues; a thread of
        # its own sends the NOTIFYs, many per round trip.
        self._outgoing: queue.Queue[str] = queue.Queue(OUTGOING_MAX)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.listening = threading.Event()  # set while LISTEN is active (tests wait on it)

    # --- out ------------------------------------------------------------------------------

    def publish(self, kind: str, data: dict[str, Any] | None = None) -> None:
        super().publish(kind, data)
        payload = json.dumps({"o": self.origin, "k": kind, "d": data or {}}, default=str, separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD:
            payload = json.dumps({"o": self.origin, "k": RESYNC, "d": {}})
        try:
            self._outgoing.put_nowait(payload)
        except queue.Full:  # the database is away: the others' boards resync when it is back
            log.warning("live.notify_queue_full kind=%s: dropped", kind)

    def _send_forever(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    while not self._stop.is_set():
                        batch = self._take_batch()
                        if batch:
                            conn.cursor().executemany("SELECT pg_notify(%s, %s)", [(CHANNEL, p) for p in batch])
            except psycopg.Error as exc:  # the others' boards miss hints; their listener resyncs
                log.warning("live.notify_failed error=%s: reconnecting", exc)
                self._stop.wait(RECONNECT_S)

    def _take_batch(self) -> list[str]:
        try:
            batch = [self._outgoing.get(timeout=0.5)]
        except queue.Empty:
            return []
        while len(batch) < 200:
            try:
                batch.append(self._outgoing.get_nowait())
            except queue.Empty:
                break
        return batch

    # --- in -------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._threads = [threading.Thread(target=self._listen_forever, name="live-listener", daemon=True),
                         threading.Thread(target=self._send_forever, name="live-notifier", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    def _listen_forever(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if not first:  # events may have passed while we were away
                        super().publish(RESYNC)
                    first = False
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=1.0):
                            self._take(notify.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("live.listen_lost error=%s: reconnecting", exc)
                self._stop.wait(RECONNECT_S)
        self.listening.clear()

    def _take(self, payload: str) -> None:
        try:
            event = json.loads(payload)
            if event["o"] == self.origin:
                return
            super().publish(str(event["k"]), dict(event["d"]))
        except (ValueError, KeyError, TypeError):
            log.warning("live.bad_payload %r", payload[:200])


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy) → `postgresql://...` (libpq)."""
    scheme, rest = sqlalchemy_url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else sqlalchemy_url
