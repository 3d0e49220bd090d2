"""MQTT ingestion: device messages from the broker to committed events, device state and quarantine.

`IngestService` wires an `MqttConnection` (gmqtt, persistent session, manual acks) to a
`BatchWriter` (batched transactions, ack after commit) through a bounded queue. Other parts
of the hub plug in through `OnBatch` (called inside each transaction with the new messages;
returns `AfterCommit` callables) and publish through `IngestService.publisher`.
"""

from hub.ingest.batch import AfterCommit, BatchWriter, OnBatch, Received, WriterSettings
from hub.ingest.mqtt_connection import MqttConnection
from hub.ingest.service import IngestService, hub_connection

__all__ = ["AfterCommit", "BatchWriter", "IngestService", "MqttConnection", "OnBatch", "Received", "WriterSettings", "hub_connection"]
