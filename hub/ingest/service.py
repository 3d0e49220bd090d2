"""Ingestion as one service: the broker connection, the bounded queue and the batch writer thread.

`start()` connects and starts writing; `stop()` drains: new deliveries are left with the
broker, what is queued is committed and acknowledged, then the connection closes without
clearing the session.
"""

from __future__ import annotations

import logging
import queue
import threading

from sqlalchemy.orm import Session, sessionmaker

from hub.clock import Clock
from hub.config import Config
from hub.ingest.batch import BatchWriter, OnBatch, Partitioner, Received, WriterSettings
from hub.ingest.mqtt_connection import MqttConnection
from hub.metrics import IngestMetrics

log = logging.getLogger("pingan.ingest")


def hub_connection(config: Config, metrics: IngestMetrics, clock: Clock) -> MqttConnection:
    """The hub's broker connection with its bounded inbox. Built first: the core publishes
    commands through it, and ingestion then feeds the core from it."""
    ing = config.ingest
    inbox: queue.Queue[Received] = queue.Queue(maxsize=ing.queue_size)
    # The broker may have queue + one batch in flight to us before it must wait for acks.
    return MqttConnection(config.mqtt, inbox, metrics, clock, receive_maximum=ing.queue_size + ing.batch_size)


class IngestService:
    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        connection: MqttConnection,
        clock: Clock,
        on_batch: OnBatch | None = None,
        partitioner: Partitioner | None = None,
    ) -> None:
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
        self.writer = BatchWriter(self.inbox, sessions, self.broker, metrics, settings, clock, on_batch, partitioner)
        metrics.watch_queue(self.inbox.qsize)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.writer.run, args=(self._stop,), name="ingest-writer")

    @property
    def publisher(self) -> MqttConnection:
        """`publisher.publish(topic, payload, qos=1)` on the hub's own connection."""
        return self.broker

    @property
    def connected(self) -> bool:
        return self.broker.connected

    def start(self) -> None:
        self._thread.start()
        self.broker.start()

    def stop(self, drain_timeout_s: float = 30.0) -> None:
        self.broker.pause()
        self._stop.set()
        self._thread.join(drain_timeout_s)
        if self._thread.is_alive():  # database down at shutdown: leave the rest unacked for redelivery
            log.error("drain timed out; unacknowledged messages stay with the broker left=%d", self.inbox.qsize())
            self.writer.give_up.set()
            self._thread.join(10)
        self.broker.stop()
        log.info("ingestion stopped committed=%d", self.writer.committed)
