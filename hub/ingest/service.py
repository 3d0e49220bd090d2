"""Ingestion as one service: the broker connection, the bounded queue and the batch writer thread.

`start()` connects and starts writing; `stop()` drains: new deliveries are left with the
broker, what is queued is committed and acknowledged, then the connection closes without
clearing the session.

Critical first (`ingest.critical_lane`, one hub): a second persistent session,
`<client_id>-critical`, subscribed to the event channel only, with its own queue and writer.
It stores and rules only alarm events (sos, fall, smoke, gas) and acks everything else at once
(the main session delivers all of it too; dedup drops whichever copy of an alarm comes second).
After an outage the broker's queue for this session holds the events only, not the heartbeats
and fixes, so an SOS is decided within a batch of the hub starting, whatever the backlog; the
main writer gives way while the lane has work. The ordering guarantee is in docs/INGESTION.md.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from hub.clock import Clock
from hub.config import Config
from hub.ingest.batch import (
    BatchWriter,
    Inbox,
    OnBatch,
    Partitioner,
    WriterSettings,
    may_raise_alarm,
    raises_alarm,
)
from hub.ingest.mqtt_connection import Lane, MqttConnection
from hub.metrics import IngestMetrics

log = logging.getLogger("pingan.ingest")


def hub_connection(config: Config, metrics: IngestMetrics, clock: Clock) -> MqttConnection:
    """The hub's broker connection with its bounded inbox. Built first: the core publishes
    commands through it, and ingestion then feeds the core from it."""
    ing = config.ingest
    inbox = Inbox(ing.queue_size)
    # The broker may have queue + one batch in flight to us before it must wait for acks.
    return MqttConnection(config.mqtt, inbox, metrics, clock, receive_maximum=ing.queue_size + ing.batch_size)


CRITICAL_LANE = Lane("critical", ("event",), may_raise_alarm)
CRITICAL_QUEUE = 1000  # alarms are few; a larger backlog of them waits in the broker
CRITICAL_FIRST_MAX_S = 2.0  # at start, the longest the main session waits for the critical lane
CRITICAL_QUIET_S = 0.2  # the critical session's queue counts as delivered after this long without a message


def critical_connection(config: Config, metrics: IngestMetrics, clock: Clock) -> MqttConnection:
    inbox = Inbox(CRITICAL_QUEUE)
    return MqttConnection(config.mqtt, inbox, metrics, clock, receive_maximum=CRITICAL_QUEUE, lane=CRITICAL_LANE)


class IngestService:
    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        connection: MqttConnection,
        clock: Clock,
        on_batch: OnBatch | None = None,
        partitioner: Partitioner | None = None,
        give_way_to: Callable[[], bool] | None = None,
    ) -> None:
        """`give_way_to()`: urgent work elsewhere (the outbox's claim of a fresh SOS text) that the
        main writer waits for before its next batch, like it waits for the critical lane."""
        ing = config.ingest
        metrics = connection.metrics
        self.inbox = connection.inbox
        self.broker = connection
        settings = WriterSettings(
            topic_root=config.mqtt.topic_root,
            max_payload_bytes=config.mqtt.max_payload_bytes,
            batch_size=ing.batch_size,
            batch_wait_s=ing.batch_wait_ms / 1000,
            device_burst=ing.device_burst,
            device_rate_per_s=ing.device_rate_per_s,
        )
        # One hub deciding in the batch transaction; partitions rule stored events in their own order.
        self.critical: MqttConnection | None = None
        self.critical_writer: BatchWriter | None = None
        if ing.critical_lane and partitioner is None:
            self.critical = critical_connection(config, metrics, clock)
            lane_settings = dataclasses.replace(settings, batch_wait_s=0.0)  # an alarm does not wait for company
            self.critical_writer = BatchWriter(self.critical.inbox, sessions, self.critical, metrics, lane_settings,
                                               clock, on_batch, keep=raises_alarm)
        urgent = [f for f in (self.critical_writer.busy if self.critical_writer else None, give_way_to) if f]
        self.writer = BatchWriter(self.inbox, sessions, self.broker, metrics, settings, clock, on_batch, partitioner,
                                  give_way_to=(lambda: any(f() for f in urgent)) if urgent else None)
        metrics.watch_queue(self.inbox.qsize)
        self._stop = threading.Event()
        self._threads = {writer: threading.Thread(target=writer.run, args=(self._stop,), name=name)
                         for writer, name in zip(self.writers, ("ingest-critical", "ingest-writer")[-len(self.writers):],
                                                 strict=True)}

    @property
    def publisher(self) -> MqttConnection:
        """`publisher.publish(topic, payload, qos=1)` on the hub's own connection."""
        return self.broker

    @property
    def connected(self) -> bool:
        return self.broker.connected

    @property
    def connections(self) -> list[MqttConnection]:
        return [self.broker] if self.critical is None else [self.critical, self.broker]

    @property
    def writers(self) -> list[BatchWriter]:
        return [self.writer] if self.critical_writer is None else [self.critical_writer, self.writer]

    def start(self) -> None:
        for thread in self._threads.values():
            thread.start()
        if self.critical is not None:
            self.critical.start()
            self._drain_critical_first()
        self.broker.start()

    def _drain_critical_first(self) -> None:
        """Before the main session floods the hub with its backlog: connect the critical lane and
        let it store and rule what its session held (until CRITICAL_QUIET_S without a message),
        at most CRITICAL_FIRST_MAX_S; later alarms pass through it while the main session drains."""
        assert self.critical is not None and self.critical_writer is not None
        deadline = time.monotonic() + CRITICAL_FIRST_MAX_S
        quiet_since = None
        while time.monotonic() < deadline:
            if not self.critical.connected or self.critical_writer.busy():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= CRITICAL_QUIET_S:
                return
            time.sleep(0.005)
        log.warning("critical lane still busy after %.1fs; starting the main session anyway", CRITICAL_FIRST_MAX_S)

    def stop(self, drain_timeout_s: float = 30.0) -> None:
        for connection in self.connections:
            connection.pause()
        self._stop.set()
        for writer, thread in self._threads.items():
            thread.join(drain_timeout_s)
            if thread.is_alive():  # database down at shutdown: leave the rest unacked for redelivery
                log.error("drain timed out; unacknowledged messages stay with the broker left=%d", writer.inbox.qsize())
                writer.give_up.set()
                thread.join(10)
        for connection in self.connections:
            connection.stop()
        log.info("ingestion stopped committed=%d", self.writer.committed)
