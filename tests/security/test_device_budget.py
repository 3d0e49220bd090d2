"""Finding 8: one device could slow everyone. Against PostgreSQL (the database that refused the
NUL rows; NUL itself is refused at decode since, reason `nul_char`):
- every device has a budget (a token bucket: a burst, then a rate); beyond it its messages,
  valid or not, are dropped before they cost a row: acknowledged, counted
  (`pingan_ingest_quarantined_total{reason="rate_limited"}`) and noted once per window in the
  quarantine table, while every other device's messages are stored;
- a message the database refuses is isolated once; the device's later messages are written on
  their own, so the other devices' batches are not split again and again."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from ingest.helpers import heartbeat, scalar, seed_devices
from prometheus_client import CollectorRegistry

from hub.clock import VirtualClock
from hub.ingest import BatchWriter, Received, WriterSettings
from hub.metrics import IngestMetrics
from hub.storage.db import make_engine, make_sessions, reset_schema

NOW = 1_764_124_800.0
GOOD = [f"cat-{i:04d}" for i in range(1, 6)]


class Acker:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, received: Received) -> None:
        self.acked.append(received.mid)


class Setup:
    def __init__(self, url: str, settings: WriterSettings) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.transactions = 0
        sa.event.listen(self.engine, "commit", self._count)
        sa.event.listen(self.engine, "rollback", self._count)
        self.registry = CollectorRegistry()
        self.acker = Acker()
        self.clock = VirtualClock(NOW)
        self.writer = BatchWriter(queue.Queue(), make_sessions(self.engine), self.acker, IngestMetrics(self.registry),
                                  settings, self.clock)
        self.mid = 0
        self.seq: dict[str, int] = {}

    def _count(self, *_args: object) -> None:
        self.transactions += 1

    def message(self, device: str, payload: bytes | None = None) -> Received:
        self.mid += 1
        self.seq[device] = self.seq.get(device, 0) + 1
        topic, body = heartbeat(device, self.seq[device], self.clock.now())
        body = body if payload is None else payload
        return Received(topic, body, len(body), self.mid, 1, self.clock.now(), generation=1)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def count(self, sql: str) -> int:
        return int(scalar(self.url, sql))


@pytest.fixture
def pg(pg_database: str) -> Iterator[str]:
    engine = make_engine(pg_database)
    reset_schema(engine, NOW)
    engine.dispose()
    seed_devices(pg_database, [*GOOD, "flood-0001", "bad-0001"])
    yield pg_database


def test_a_flooding_device_is_held_to_its_budget_and_the_others_are_stored(pg: str) -> None:
    setup = Setup(pg, WriterSettings(device_burst=50, device_rate_per_s=2.0))
    sent_flood = 0
    for _ in range(10):
        batch = [setup.message(GOOD[i % 5]) for i in range(20)]
        for k in range(80):  # valid heartbeats and garbage, mixed
            batch.append(setup.message("flood-0001", None if k % 2 else b'{"not": "a heartbeat"'))
            sent_flood += 1
        assert setup.writer.write(batch)
        setup.clock.advance(1.0)
    assert setup.count("SELECT count(*) FROM events WHERE device_id LIKE 'cat-%'") == 200
    flood_rows = setup.count("SELECT count(*) FROM events WHERE device_id = 'flood-0001'")
    flood_quarantined = setup.count(
        "SELECT count(*) FROM quarantine WHERE device_id = 'flood-0001' AND reason <> 'rate_limited'")
    within_budget = 50 + 2 * 9
    assert flood_rows + flood_quarantined <= within_budget
    notes = setup.count("SELECT count(*) FROM quarantine WHERE reason = 'rate_limited'")
    assert notes == 1  # one note per device and window (60 s), not a row per message
    dropped = sent_flood - flood_rows - flood_quarantined
    assert setup.metric("pingan_ingest_quarantined_total", reason="rate_limited") == dropped >= sent_flood - within_budget
    assert len(setup.acker.acked) == setup.mid  # everything acknowledged: the broker does not redeliver the flood
    setup.clock.advance(61)  # a new window: the next excess is noted again
    assert setup.writer.write([setup.message("flood-0001") for _ in range(200)])
    assert setup.count("SELECT count(*) FROM quarantine WHERE reason = 'rate_limited'") == 2
    setup.engine.dispose()


def test_a_row_the_database_refuses_splits_the_batches_once(pg: str) -> None:
    engine = make_engine(pg)
    with engine.begin() as conn:  # a row PostgreSQL refuses, whatever the cause (here: a trigger)
        conn.execute(sa.text(
            "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.device_id = 'bad-0001' THEN RAISE EXCEPTION 'refused row'; END IF; RETURN NEW; END $$"))
        conn.execute(sa.text(
            "CREATE TRIGGER refuse_bad AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_bad()"))
    engine.dispose()
    setup = Setup(pg, WriterSettings())
    split_first = None
    for n in range(6):
        before = setup.transactions
        batch = [setup.message(GOOD[i % 5]) for i in range(127)]
        batch.insert(60, setup.message("bad-0001"))
        assert setup.writer.write(batch)
        setup.clock.advance(1.0)
        used = setup.transactions - before
        if split_first is None:
            split_first = used
            assert used > 10  # the first time, the batch is bisected to find the row
        else:
            assert used <= 4, (n, used)  # then: the others' batch once, the bad device's message on its own
    assert setup.count("SELECT count(*) FROM events WHERE device_id LIKE 'cat-%'") == 6 * 127
    assert setup.count("SELECT count(*) FROM quarantine WHERE device_id = 'bad-0001' AND reason = 'storage_error'") == 6
    assert sorted(setup.acker.acked) == list(range(1, setup.mid + 1))
    setup.engine.dispose()


def test_an_sos_from_a_device_over_its_budget_is_still_stored(pg: str) -> None:
    setup = Setup(pg, WriterSettings(device_burst=5, device_rate_per_s=0.1))
    flood = [setup.message("flood-0001") for _ in range(20)]
    assert setup.writer.write(flood)
    sos = setup.message("flood-0001", b'{"ts": %d, "seq": 999, "type": "sos"}' % int(setup.clock.now()))
    sos = Received(sos.topic.replace("/heartbeat", "/event"), sos.payload, sos.size, sos.mid, 1, sos.received_at, 1)
    assert setup.writer.write([sos, setup.message("flood-0001")])
    assert setup.count("SELECT count(*) FROM events WHERE device_id = 'flood-0001' AND type = 'sos'") == 1
    assert setup.metric("pingan_ingest_quarantined_total", reason="rate_limited") >= 16
