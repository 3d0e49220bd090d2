"""Several hubs, one board: live events shared through PostgreSQL LISTEN/NOTIFY.

Each hub's `EventBus` feeds the SSE streams of its own browsers; with several hubs
(docs/SCALE_OUT.md) an alert decided by hub 2 must also appear on the board that hub 1 serves,
and a session ended on hub 1 must end that user's open boards on hub 2. `PgLiveBus` publishes
every event locally and, packed with the events published around it, as a `NOTIFY pingan_live`
with its origin; a listener thread on each hub republishes the others' events to its local
subscribers. Why NOTIFY and not Redis or the broker: PostgreSQL is already what every hub of a
scale-out shares, and an event is only a hint ("reload this alert"), so at-most-once delivery is
enough — after the listener loses its connection it sends its boards one `resync` (they reload
their lists) and listens again.

One notification carries as many events as fit NOTIFY's limit (8,000 bytes), in the order they
were published: a batch of ingestion that changes 150 devices costs one `pg_notify`, not 150, and
each hub's listener, which hears its own notifications too, skips those by their first bytes
without parsing them. The payload (JSON):

    {"o":"<origin>","k":"resync","d":{},"n":<sequence>,"e":[["device",{"device":"d-1",...}],...]}

`e` holds the events; `k`/`d` are what a hub of the previous format (one event a notification,
`{"o","k","d"}`) reads, so during a rolling upgrade its boards reload instead of missing the
events; this listener still reads that format. `n` makes each payload distinct: PostgreSQL
delivers identical payloads of one transaction once, and the notifications of a round trip
share one. An event too large for a notification on its own goes out as `resync`.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import threading
import uuid
from typing import Any

import msgspec
import psycopg

from dashboards.live import RESYNC, EventBus

log = logging.getLogger("pingan.live.bridge")

CHANNEL = "pingan_live"
MAX_PAYLOAD = 7900  # NOTIFY refuses payloads of 8,000 bytes and more
RECONNECT_S = 2.0
OUTGOING_MAX = 10_000  # events waiting for the database; beyond, dropped (the others resync)
TAKE_MAX = 2_000  # events taken per round trip

# Events are encoded one by one (to know where a payload must end) by msgspec: ~0.3 µs an event
# where `json.dumps` spends ~4 µs setting up its encoder for each call. What JSON cannot carry
# goes as its str(), as with json's `default=str`.
_encode = msgspec.json.Encoder(enc_hook=str).encode
_RESYNC_PART = _encode((RESYNC, {}))


class PgLiveBus(EventBus):
    """An `EventBus` whose events also reach the `PgLiveBus` of every other hub on the database."""

    def __init__(self, conninfo: str, queue_size: int = 256) -> None:
        super().__init__(queue_size)
        self.conninfo = conninfo
        self.origin = uuid.uuid4().hex
        self._own = f'{{"o":"{self.origin}"'  # how this hub's payloads begin
        self._sequence = itertools.count()
        # Publishing happens after commits on the hub's busy threads: it only appends (a deque's
        # append is atomic); a thread of its own encodes, packs and sends.
        self._outgoing: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._wake = threading.Event()  # set when events wait
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.listening = threading.Event()  # set while LISTEN is active (tests wait on it)
        self.events_sent = 0  # events handed to pg_notify, and in how many payloads (tests, the log at stop)
        self.notifications_sent = 0

    # --- out ------------------------------------------------------------------------------

    def publish(self, kind: str, data: dict[str, Any] | None = None) -> None:
        super().publish(kind, data)
        if len(self._outgoing) >= OUTGOING_MAX:  # the database is away: the others' boards resync when it is back
            log.warning("live.notify_queue_full kind=%s: dropped", kind)
            return
        self._outgoing.append((kind, dict(data) if data else {}))
        if not self._wake.is_set():
            self._wake.set()

    def _send_forever(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    while not self._stop.is_set():
                        events = self._take_batch()
                        if events:
                            payloads = self.pack(events)
                            conn.cursor().executemany("SELECT pg_notify(%s, %s)", [(CHANNEL, p) for p in payloads])
                            self.events_sent += len(events)
                            self.notifications_sent += len(payloads)
            except psycopg.Error as exc:  # the others' boards miss hints; their listener resyncs
                log.warning("live.notify_failed error=%s: reconnecting", exc)
                self._stop.wait(RECONNECT_S)

    def _take_batch(self) -> list[tuple[str, dict[str, Any]]]:
        """The waiting events, oldest first (up to TAKE_MAX); [] after half a second without any."""
        if not self._outgoing and not self._wake.wait(0.5):
            return []
        self._wake.clear()  # before taking: an event appended from now on sets it again
        outgoing = self._outgoing
        batch: list[tuple[str, dict[str, Any]]] = []
        while outgoing and len(batch) < TAKE_MAX:
            batch.append(outgoing.popleft())
        return batch

    def pack(self, events: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """`events` as few payloads as fit MAX_PAYLOAD, in order."""
        payloads: list[str] = []
        head = f'{self._own},"k":"{RESYNC}","d":{{}},"n":'
        limit = MAX_PAYLOAD - len(head.encode()) - 32  # room for the sequence number (≤ 20 digits), `,"e":[` and `]}`
        parts: list[bytes] = []
        size = 0

        def close() -> None:
            payloads.append(f'{head}{next(self._sequence)},"e":[{b",".join(parts).decode()}]}}')

        for kind, data in events:
            try:
                part = _encode((kind, data))  # UTF-8: its length is its size in the payload
            except (msgspec.EncodeError, TypeError, ValueError, OverflowError) as exc:  # never stop the sender
                log.warning("live.unencodable kind=%s error=%s: sent as resync", kind, exc)
                part = _RESYNC_PART
            if len(part) > limit:
                part = _RESYNC_PART
            if parts and size + len(part) + 1 > limit:
                close()
                parts, size = [], 0
            parts.append(part)
            size += len(part) + 1
        if parts:
            close()
        return payloads

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
        log.info("live.stopped events_sent=%d notifications=%d", self.events_sent, self.notifications_sent)

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
        if payload.startswith(self._own):  # our own: the local subscribers had it at publish
            return
        try:
            message = json.loads(payload)
            events = message.get("e")
            if events is None:  # a hub of the previous format: one event
                super().publish(str(message["k"]), dict(message["d"]))
                return
            for kind, data in events:
                super().publish(str(kind), dict(data))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("live.bad_payload %r", payload[:200])


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy) → `postgresql://...` (libpq)."""
    scheme, rest = sqlalchemy_url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else sqlalchemy_url
