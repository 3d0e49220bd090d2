"""Ingestion as one service: the broker connection, the bounded queue and the batch writer thread.

`start()` connects and starts writing; `stop()` drains: new deliveries are left with the
broker, what is queued is committed and acknowledged, then the connection closes without
clearing the session.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy.orm import Session, sessionmaker

from hub.config import Config, MqttConfig
from hub.ingest.batch import BatchWriter, Clock, OnBatch, Partitioner, Received, WriterSettings
from hub.ingest.broker import BrokerConnection

if TYPE_CHECKING:
    from hub.ingest.gmqtt_broker import GmqttBrokerConnection
from hub.metrics import IngestMetrics

log = logging.getLogger("pingan.ingest")


Connection: TypeAlias = "BrokerConnection | GmqttBrokerConnection"


def make_connection(
    settings: MqttConfig, inbox: queue.Queue[Received], metrics: IngestMetrics, *, receive_maximum: int,
    clock: Clock | None,
) -> Connection:
    """The hub's broker connection on the library `mqtt.client` names (same contract for both)."""
    if settings.client == "gmqtt":
        try:
            from hub.ingest.gmqtt_broker import GmqttBrokerConnection
        except ImportError as exc:
            raise RuntimeError(f"mqtt.client is gmqtt but gmqtt cannot be imported ({exc}); pip install gmqtt "
                               "or set mqtt.client: paho") from exc
        return GmqttBrokerConnection(settings, inbox, metrics, receive_maximum=receive_maximum, clock=clock)
    return BrokerConnection(settings, inbox, metrics, receive_maximum=receive_maximum, clock=clock)


class IngestService:
    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        metrics: IngestMetrics,
        on_batch: OnBatch | None = None,
        clock: Clock | None = None,
        partitioner: Partitioner | None = None,
    ) -> None:
        ing = config.ingest
        self.inbox: queue.Queue[Received] = queue.Queue(maxsize=ing.queue_size)
        # The broker may have queue + one batch in flight to us before it must wait for acks.
        self.broker = make_connection(
            config.mqtt, self.inbox, metrics, receive_maximum=ing.queue_size + ing.batch_size, clock=clock
        )
        settings = WriterSettings(
            topic_root=config.mqtt.topic_root,
            max_payload_bytes=config.mqtt.max_payload_bytes,
            batch_size=ing.batch_size,
            batch_wait_s=ing.batch_wait_ms / 1000,
        )
        self.writer = BatchWriter(self.inbox, sessions, self.broker, metrics, settings, on_batch, clock, partitioner)
        metrics.watch_queue(self.inbox.qsize)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.writer.run, args=(self._stop,), name="ingest-writer")

    @property
    def publisher(self) -> Connection:
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
