"""The batch writer against real SQLite and PostgreSQL: dedup, state, quarantine, hook, ack after commit.

The broker side is replaced by `RecordingAcker`, a hand-written fake at the `Acker` port that
checks, at the moment of each ack, that the message's row is already committed.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from devices import DeviceMessage
from devices.examples import INVALID
from hub.clock import VirtualClock
from hub.ingest import AfterCommit, BatchWriter, Received, WriterSettings
from hub.ingest.batch import Inbox
from hub.metrics import IngestMetrics
from hub.storage.db import make_engine, make_sessions
from ingest.helpers import heartbeat, motion, rows, scalar, seed_devices

NOW = 1_764_124_800.0


class RecordingAcker:
    """Records acks; each ack checks the committed state through a separate connection."""

    def __init__(self, check: Callable[[Received], None] | None = None) -> None:
        self.acked: list[Received] = []
        self.check = check

    def ack(self, received: Received) -> None:
        if self.check:
            self.check(received)
        self.acked.append(received)


class Setup:
    def __init__(self, db_url: str, on_batch=None, acker: RecordingAcker | None = None) -> None:  # type: ignore[no-untyped-def]
        self.db_url = db_url
        self.engine = make_engine(db_url)
        self.registry = CollectorRegistry()
        self.acker = acker or RecordingAcker()
        self.clock = VirtualClock(NOW)
        self.mid = 0
        self.writer = BatchWriter(queue.Queue(), make_sessions(self.engine), self.acker, IngestMetrics(self.registry),
                                  WriterSettings(max_payload_bytes=1024), self.clock, on_batch)

    def received(self, topic: str, payload: bytes, at: float = NOW) -> Received:
        self.mid += 1
        return Received(topic, payload[:2048], len(payload), self.mid, 1, at, generation=1)

    def write(self, *messages: tuple[str, bytes], at: float = NOW) -> list[Received]:
        batch = [self.received(t, p, at) for t, p in messages]
        assert self.writer.write(batch)
        return batch

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def setup(db_url: str) -> Setup:
    seed_devices(db_url, ["cat-0001", "cat-0002", "tag-0001"])
    return Setup(db_url)


def test_redelivered_messages_are_stored_once_and_all_acked(setup: Setup) -> None:
    first = setup.write(heartbeat("cat-0001", 1, NOW), motion("cat-0001", 2, NOW), motion("cat-0001", 2, NOW))
    again = setup.write(heartbeat("cat-0001", 1, NOW), motion("cat-0001", 3, NOW))
    assert scalar(setup.db_url, "SELECT count(*) FROM events") == 3
    assert [r.mid for r in setup.acker.acked] == [r.mid for r in first + again]
    assert setup.metric("pingan_ingest_messages_total", channel="event", result="duplicate") == 1
    assert setup.metric("pingan_ingest_messages_total", channel="heartbeat", result="duplicate") == 1


def test_on_batch_gets_only_new_messages_and_status_inside_the_transaction(setup: Setup) -> None:
    seen: list[list[str]] = []
    done: list[str] = []

    def on_batch(session: Session, messages: list[DeviceMessage], now: float) -> list[AfterCommit]:
        # Inside the transaction: the events of this batch are visible to the hook's session.
        stored = session.execute(sa.text("SELECT count(*) FROM events")).scalar()
        seen.append([f"{m.device_id}/{m.channel}/{m.seq}" for m in messages])
        assert now == NOW and stored is not None and stored >= len(messages)
        return [lambda: done.append("after")]

    setup.writer.on_batch = on_batch
    setup.write(heartbeat("cat-0001", 1, NOW), ("pingan/v1/dev/cat-0001/status", b'{"state": "online"}'))
    setup.write(heartbeat("cat-0001", 1, NOW), motion("cat-0002", 5, NOW))
    assert seen == [["cat-0001/heartbeat/1", "cat-0001/status/None"], ["cat-0002/event/5"]]
    assert done == ["after", "after"]


def test_ack_happens_only_after_commit(db_url: str) -> None:
    seed_devices(db_url, ["cat-0001"])

    def committed(received: Received) -> None:
        seq = json.loads(received.payload)["seq"]
        assert scalar(db_url, "SELECT count(*) FROM events WHERE seq = :s", s=seq) == 1, "acked before commit"

    s = Setup(db_url, acker=RecordingAcker(committed))
    s.write(*(motion("cat-0001", i, NOW) for i in range(20)))
    assert len(s.acker.acked) == 20


def test_run_prepares_the_next_batch_during_the_transaction_and_keeps_arrival_order(db_url: str) -> None:
    """`run`'s two stages: the next batch is taken and interpreted while the one before is in its
    transaction; batches still commit, reach the hook and are acked one after the other, in the
    order the broker delivered them, each ack after its commit; a stop drains the queue."""
    seed_devices(db_url, ["cat-0001", "cat-0002"])

    def committed(received: Received) -> None:
        seq = json.loads(received.payload)["seq"]
        assert scalar(db_url, "SELECT count(*) FROM events WHERE seq = :s", s=seq) == 1, "acked before commit"

    inbox = Inbox(1000)
    ruled: list[int] = []
    taken_during_first: list[int] = []

    def on_batch(_session: Session, messages: list[DeviceMessage], _now: float) -> list[AfterCommit]:
        if not ruled:  # the first batch's transaction: the second stage must not wait for it
            deadline = time.monotonic() + 30
            while writer._taken < 2 and time.monotonic() < deadline:
                time.sleep(0.001)
            taken_during_first.append(writer._taken)
        ruled.extend(m.seq or 0 for m in messages)
        return []

    acker = RecordingAcker(committed)
    writer = BatchWriter(inbox, make_sessions(make_engine(db_url)), acker, IngestMetrics(CollectorRegistry()),
                         WriterSettings(batch_size=50, batch_wait_s=0.0), VirtualClock(NOW), on_batch)
    sent = []
    for i in range(300):
        topic, payload = motion(f"cat-000{1 + i % 2}", i, NOW)
        sent.append(Received(topic, payload, len(payload), i + 1, 1, NOW, 1))
        inbox.put(sent[-1])
    stop = threading.Event()
    stop.set()  # run drains what is queued, then returns
    writer.run(stop)
    assert taken_during_first[0] >= 2, "the next batch waited for the transaction"
    assert ruled == list(range(300))
    assert [r.mid for r in acker.acked] == [r.mid for r in sent]
    assert scalar(db_url, "SELECT count(*) FROM events") == 300


def test_transient_database_error_is_retried_and_nothing_is_acked_before_success(setup: Setup) -> None:
    calls = []

    def flaky(session: Session, messages: list[DeviceMessage], now: float) -> list[AfterCommit]:
        calls.append(len(messages))
        if len(calls) == 1:
            assert setup.acker.acked == []
            raise sa.exc.OperationalError("INSERT", {}, Exception("connection lost"))
        return []

    setup.writer.on_batch = flaky
    setup.write(motion("cat-0001", 1, NOW), motion("cat-0001", 2, NOW))
    assert calls == [2, 2]
    assert len(setup.acker.acked) == 2
    assert scalar(setup.db_url, "SELECT count(*) FROM events") == 2
    assert setup.metric("pingan_ingest_db_errors_total", kind="transient") == 1


def test_a_hook_bug_on_one_message_costs_neither_that_message_nor_the_others(setup: Setup) -> None:
    def buggy(session: Session, messages: list[DeviceMessage], now: float) -> list[AfterCommit]:
        if any(m.seq == 13 for m in messages):
            raise ValueError("rules engine bug")
        return []

    setup.writer.on_batch = buggy
    setup.write(*(motion("cat-0001", i, NOW) for i in range(10, 20)))
    assert scalar(setup.db_url, "SELECT count(*) FROM events") == 10
    assert len(setup.acker.acked) == 10
    assert setup.metric("pingan_ingest_hook_errors_total") == 1


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e.name)
def test_invalid_payloads_are_quarantined_with_their_reason(setup: Setup, example) -> None:  # type: ignore[no-untyped-def]
    topic = f"pingan/v1/dev/cat-0001/{example.channel.value}"
    setup.write((topic, example.raw))
    got = rows(setup.db_url, "SELECT topic, reason, raw FROM quarantine")
    assert [(r.topic, r.reason) for r in got] == [(topic, example.reason)]
    assert bytes(got[0].raw) == example.raw[:2048]
    assert setup.metric("pingan_ingest_quarantined_total", reason=example.reason) == 1
    assert len(setup.acker.acked) == 1


def test_unknown_devices_mismatched_ids_and_bad_topics_are_quarantined(setup: Setup) -> None:
    setup.write(
        heartbeat("ghost-001", 1, NOW),
        ("pingan/v1/dev/cat-0001/event", b'{"type": "motion", "device_id": "cat-0002"}'),
        ("pingan/v1/dev/Bad Id/heartbeat", b"{}"),
        ("pingan/v1/dev/cat-0001/weird", b"{}"),
    )
    reasons = sorted(r.reason for r in rows(setup.db_url, "SELECT reason FROM quarantine"))
    assert reasons == ["bad_device_id", "device_id_mismatch", "unknown_channel", "unknown_device"]
    assert scalar(setup.db_url, "SELECT count(*) FROM events") == 0
    # Registered a moment later: its next message is accepted without a restart.
    seed_devices(setup.db_url, ["ghost-001"])
    setup.write(heartbeat("ghost-001", 2, NOW))
    assert scalar(setup.db_url, "SELECT count(*) FROM events WHERE device_id = 'ghost-001'") == 1


def test_device_state_and_late_data_never_move_activity_backwards(setup: Setup) -> None:
    setup.write(
        ("pingan/v1/dev/cat-0001/heartbeat", b'{"ts": %d, "seq": 1, "battery": 80, "rssi": -60, "fw": "1.4"}' % NOW),
        motion("cat-0001", 2, NOW - 10),
        ("pingan/v1/dev/cat-0001/event", b'{"ts": %d, "seq": 3, "type": "tamper"}' % NOW),
        ("pingan/v1/dev/cat-0001/status", b'{"state": "online"}'),
    )
    # Buffered on the device for an hour and flushed now: stored as late, state stays current.
    setup.clock.advance(60)
    setup.write(
        motion("cat-0001", 4, NOW - 3600),
        ("pingan/v1/dev/cat-0001/heartbeat", b'{"ts": %d, "seq": 5, "battery": 15}' % (NOW - 3500)),
        at=NOW + 60,
    )
    state = rows(setup.db_url, "SELECT * FROM device_state WHERE device_id = 'cat-0001'")[0]
    assert state.last_activity_at == NOW - 10  # tamper is not activity; late motion is older
    assert state.last_seen_at == NOW + 60
    assert (state.battery, state.rssi, state.fw, bool(state.online)) == (80, -60, "1.4", True)
    assert state.late_count == 2
    late = rows(setup.db_url, "SELECT seq, late FROM events WHERE device_id = 'cat-0001' AND seq IS NOT NULL ORDER BY seq")
    assert [(r.seq, bool(r.late)) for r in late] == [(1, False), (2, False), (3, False), (4, True), (5, True)]


def test_last_will_marks_offline_and_gps_fix_and_skew_are_kept(setup: Setup) -> None:
    setup.write(("pingan/v1/dev/tag-0001/status", b'{"state": "online"}'),
                ("pingan/v1/dev/tag-0001/gps", b'{"ts": %d, "seq": 1, "lat": 45.75, "lon": 126.64, "acc": 9}' % NOW),
                ("pingan/v1/dev/tag-0001/event", b'{"ts": %d, "seq": 2, "type": "sos"}' % (NOW + 3600)))
    setup.write(("pingan/v1/dev/tag-0001/status", b'{"state": "offline"}'), at=NOW + 1)
    state = rows(setup.db_url, "SELECT * FROM device_state WHERE device_id = 'tag-0001'")[0]
    assert bool(state.online) is False and state.status_at == NOW + 1
    assert (state.last_lat, state.last_lon, state.last_acc, state.last_fix_at) == (45.75, 126.64, 9.0, NOW)
    assert state.skew_count == 1
    sos = rows(setup.db_url, "SELECT at, device_ts, skewed FROM events WHERE type = 'sos'")[0]
    assert (sos.at, sos.device_ts, bool(sos.skewed)) == (NOW, NOW + 3600, True)
    assert setup.metric("pingan_ingest_clock_skew_total") == 1


def test_oversized_payload_is_rejected_unparsed(setup: Setup) -> None:
    big = b'{"type": "motion", "pad": "' + b"x" * 5000 + b'"}'
    setup.write(("pingan/v1/dev/cat-0001/event", big))
    got = rows(setup.db_url, "SELECT reason, raw FROM quarantine")
    assert [r.reason for r in got] == ["too_large"] and len(bytes(got[0].raw)) == 2048


def test_text_with_quotes_backslashes_commas_and_braces_is_stored_exactly(setup: Setup) -> None:
    # PostgreSQL gets each column as one array literal: every character that literal syntax
    # gives a meaning to must come back as sent (an unknown event type is stored, not refused).
    weird = 'we"ird\\\\ty,pe {x} NULL 平安'
    event = json.dumps({"ts": NOW, "seq": 1, "type": weird}).encode()
    heartbeat_ = json.dumps({"ts": NOW, "seq": 2, "battery": 80, "fw": '1.4"b\\\\{,}'}).encode()
    setup.write(("pingan/v1/dev/cat-0001/event", event), ("pingan/v1/dev/cat-0001/heartbeat", heartbeat_))
    stored = rows(setup.db_url, "SELECT type, payload FROM events ORDER BY seq")
    assert [(r.type, r.payload) for r in stored] == [(weird, event.decode()), (None, heartbeat_.decode())]
    state = rows(setup.db_url, "SELECT fw FROM device_state WHERE device_id = 'cat-0001'")[0]
    assert state.fw == '1.4"b\\\\{,}'
