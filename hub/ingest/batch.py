"""The batch writer: from received MQTT messages to committed rows, then acknowledgements.

One thread takes what the network thread queued, validates it with `devices.interpret`,
and writes a batch in one transaction: events (deduplicated on device, seq, ts), device
state, quarantine rows, and whatever the `on_batch` hook adds (the rules engine's alerts).
Only after the commit are the messages acknowledged to the broker, so a crash at any point
means redelivery, never loss; dedup makes the redelivery harmless.

A database error never escapes: transient ones (connection lost, database locked) retry the
whole batch with backoff and acknowledge nothing; an error from the hook that isolated its
cause (`retry_batch`, a rule that raised on one event: hub.rules.runtime.PoisonEvent) writes the same
batch again; any other error splits the batch in halves until the one message that causes it
is found, stored without the hook if possible, else quarantined as `storage_error`.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Protocol, TypeAlias

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from alerts.rules.critical import CRITICAL_EVENTS
from devices import Channel, DeviceMessage, Event, Rejection, interpret
from devices.messages import MAX_QUARANTINED_BYTES
from devices.topics import DeviceTopic, TopicError, topic_of
from hub.clock import Clock
from hub.ingest import store
from hub.logging_setup import LogThrottle
from hub.metrics import IngestMetrics

log = logging.getLogger("pingan.ingest")

AfterCommit = Callable[[], None]
#: Called inside the batch transaction after events are inserted, with the messages that were
#: not duplicates (status messages included), in arrival order. Returns work to run after commit.
OnBatch = Callable[[Session, list[DeviceMessage], float], list[AfterCommit]]

TRANSIENT_DB_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
MAX_BACKOFF_S = 5.0
GIVE_WAY_MAX_S = 2.0  # the longest the main writer waits for the critical lane before a batch
CHANNELS = frozenset(c.value for c in Channel)
_CHANNEL, _SKEWED, _LATE = attrgetter("channel"), attrgetter("skewed"), attrgetter("late")


@dataclass(slots=True)
class Received:
    """One PUBLISH as it came off the wire, before any parsing. Immutable by convention: not
    frozen, because a frozen dataclass's `__init__` sets each field through `object.__setattr__`
    (2x the cost of building one, once per message in the network thread; devices.messages)."""

    topic: str
    payload: bytes  # cut to MAX_QUARANTINED_BYTES when larger than the configured maximum
    size: int  # length of the payload as sent
    mid: int
    qos: int
    received_at: float
    generation: int  # which broker connection delivered it: its ack is only valid there


class Inbox:
    """The bounded FIFO between the network thread and the writer: a `queue.SimpleQueue` (C, no
    Python lock or condition per message) and a size check. `queue.Queue.put` and `get` cost
    ~1 µs each in Python per message, on both threads that share the GIL (docs/BENCHMARKS.md,
    issue 18 item 3, third round). One producer (the connection's event loop); when full, `put`
    waits in short sleeps — the loop then stops reading the socket and TCP holds the broker."""

    FULL_POLL_S = 0.005  # the writer frees a batch (1000) at a time, the queue holds 20 batches

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: queue.SimpleQueue[Received] = queue.SimpleQueue()
        self.get = self._items.get  # (block=True, timeout=None): the writer's calls go straight to C
        self.get_nowait = self._items.get_nowait
        self.qsize = self._items.qsize
        self.empty = self._items.empty

    def put(self, item: Received, timeout: float | None = None) -> None:
        """Queue `item`; raise `queue.Full` when it stayed full for `timeout` seconds."""
        items = self._items
        if items.qsize() >= self.maxsize:
            deadline = None if timeout is None else time.monotonic() + timeout
            while items.qsize() >= self.maxsize:
                if deadline is not None and time.monotonic() >= deadline:
                    raise queue.Full
                time.sleep(self.FULL_POLL_S)
        items.put(item)


#: What the writer takes its messages from (tests pass a plain `queue.Queue`).
InboxLike: TypeAlias = "Inbox | queue.Queue[Received]"


#: A batch's valid messages and its rejections, in arrival order.
Interpreted: TypeAlias = "tuple[list[DeviceMessage], list[Rejection]]"


@dataclass(slots=True)
class Prepared:
    """A batch after the first stage: what is within the budgets, interpreted, and when."""

    within: list[Received]
    interpreted: Interpreted
    now: float


class Acker(Protocol):
    def ack(self, received: Received) -> None: ...


class Partitioner(Protocol):
    """Scale-out (hub/rules/partitions.py): the rules partition of each device, stored with its events."""

    def partitions(self, session: Session, device_ids: Iterable[str]) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class WriterSettings:
    topic_root: str = "pingan/v1"
    max_payload_bytes: int = 16 * 1024
    batch_size: int = 1000
    batch_wait_s: float = 0.02
    #: every device's budget (security finding 8): a burst (a tag's buffered backlog after a day
    #: offline fits), then a sustained rate far above any real device's; beyond it, dropped
    device_burst: int = 2000
    device_rate_per_s: float = 10.0
    budget_window_s: float = 60.0  # one `rate_limited` quarantine note per device and window
    suspect_s: float = 600.0  # after a row the database refused, the device's messages are written on their own


class DeviceBudget:
    """A token bucket per device: `burst` messages at once, then `rate_per_s`. Bounded memory:
    the least recently seen devices go first (a made-up id per message cannot grow it)."""

    def __init__(self, burst: int, rate_per_s: float, max_devices: int = 100_000) -> None:
        self.burst, self.rate_per_s, self.max_devices = float(burst), rate_per_s, max_devices
        self._state: dict[str, tuple[float, float]] = {}  # device -> (tokens, at)

    def allow(self, device: str, now: float) -> bool:
        # Every message pays this: plain comparisons, not min()/max() calls (2x faster).
        state = self._state
        tokens, last = state.pop(device, (self.burst, now))  # popped: re-inserted as the newest
        if now > last and tokens < self.burst:
            tokens += (now - last) * self.rate_per_s
            if tokens > self.burst:
                tokens = self.burst
        allowed = tokens >= 1.0
        state[device] = (tokens - 1.0 if allowed else tokens, now)
        while len(state) > self.max_devices:
            state.pop(next(iter(state)))
        return allowed


class BatchWriter:
    """Drains the queue in batches; commits, then acks, then runs after-commit work.

    Before a batch is written every message is charged to its device's budget (`DeviceBudget`):
    what exceeds it is acknowledged and counted, never parsed or stored, with one quarantine
    note (`rate_limited`) per device and window. A device one of whose rows the database refused
    is a suspect for `suspect_s`: its messages are written one by one, apart from the batch, so
    a broken or hostile device cannot make the writer split everybody's batches again and again.
    """

    def __init__(
        self,
        inbox: InboxLike,
        sessions: sessionmaker[Session],
        acker: Acker,
        metrics: IngestMetrics,
        settings: WriterSettings,
        clock: Clock,
        on_batch: OnBatch | None = None,
        partitioner: Partitioner | None = None,
        *,
        keep: Callable[[DeviceMessage], bool] | None = None,
        give_way_to: Callable[[], bool] | None = None,
    ) -> None:
        self.inbox = inbox
        # A lane's writer (the critical lane) stores only what `keep` accepts and acks the rest
        # unstored: the main session delivers those too, and quarantines what is invalid.
        self.keep = keep
        # The main writer waits, up to GIVE_WAY_MAX_S a batch, while `give_way_to()` says the
        # critical lane has work: its alarm then waits for neither the write lock nor the core.
        self.give_way_to = give_way_to
        self._writing = False
        self._taken = self._written = 0  # batches taken from the queue / written (two threads, one counter each)
        self.sessions = sessions
        self.acker = acker
        self.metrics = metrics
        self.settings = settings
        self.on_batch = on_batch
        self.clock = clock
        self.partitioner = partitioner
        self.known: set[str] = set()
        self.budget = DeviceBudget(settings.device_burst, settings.device_rate_per_s)
        self._noted: dict[str, float] = {}  # device -> start of the window its rate_limited note covers
        self._suspects: dict[str, float] = {}  # device -> until when its messages are written on their own
        self.committed = 0  # messages committed and acknowledged since start
        self._throttle = LogThrottle(log)
        self.give_up = threading.Event()  # set at a forced shutdown: stop retrying, leave messages unacked

    # --- loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Write batches until `stop` is set and the queue is empty. Never raises.

        Two stages, in order: a helper thread takes the next batch, charges the budgets and
        interprets it while this thread writes the one before. The database's own work (SQLite's
        B-trees, PostgreSQL's server and round trips) runs without the GIL, so the next batch's
        Python overlaps with it instead of waiting (docs/INGESTION.md, "Throughput")."""
        prepared: queue.Queue[Prepared | None] = queue.Queue(maxsize=1)
        preparer = threading.Thread(target=self._prepare_batches, args=(stop, prepared),
                                    name=f"{threading.current_thread().name}-prepare", daemon=True)
        preparer.start()
        while (batch := prepared.get()) is not None:
            self._write_prepared(batch)
        preparer.join()
        log.info("writer stopped committed=%d left_in_queue=%d", self.committed, self.inbox.qsize())

    def _prepare_batches(self, stop: threading.Event, out: queue.Queue[Prepared | None]) -> None:
        try:
            while not (stop.is_set() and self.inbox.empty()) and not self.give_up.is_set():
                batch = self.take_batch()
                if batch:
                    self._taken += 1
                    out.put(self._prepare(batch))
        finally:
            out.put(None)  # the writer stops after what was handed over

    def take_batch(self) -> list[Received]:
        try:
            batch = [self.inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = self.clock_monotonic() + self.settings.batch_wait_s
        while len(batch) < self.settings.batch_size:
            try:
                batch.append(self.inbox.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - self.clock_monotonic()
            if left <= 0:
                break
            try:
                batch.append(self.inbox.get(timeout=left))
            except queue.Empty:
                break
        return batch

    @staticmethod
    def clock_monotonic() -> float:
        return time.monotonic()  # how long a batch waits to fill: wall time, never a decision
    # --- one batch ------------------------------------------------------------------------

    def busy(self) -> bool:
        """Messages queued, a batch prepared or one being written (the main writer gives way meanwhile)."""
        return self._writing or self._taken > self._written or not self.inbox.empty()

    def _give_way(self) -> None:
        if self.give_way_to is None:
            return
        deadline = self.clock_monotonic() + GIVE_WAY_MAX_S
        while self.give_way_to() and self.clock_monotonic() < deadline:
            time.sleep(0.002)

    def write(self, batch: Sequence[Received]) -> bool:
        """Charge the budgets, then commit what is within them and ack it; retry transient errors;
        isolate others. False only when giving up. (`run` does the same in two stages.)"""
        self._taken += 1
        return self._write_prepared(self._prepare(batch))

    def _prepare(self, batch: Sequence[Received]) -> Prepared:
        """The first stage, no database: budgets charged (what is over them acked and counted),
        the rest interpreted."""
        now = self.clock.now()
        within = self._charge(batch, now)
        return Prepared(within, self.interpret_all(within), now)

    def _write_prepared(self, prepared: Prepared) -> bool:
        self._give_way()
        self._writing = True
        try:
            return self._write_within(prepared)
        finally:
            self._writing = False
            self._written += 1

    def _write_within(self, prepared: Prepared) -> bool:
        within, now = prepared.within, prepared.now
        suspects = {d for d, until in self._suspects.items() if until > now}
        if not suspects:
            return self._write(within, prepared.interpreted) if within else True
        # rare: split only then (the device lookup per message is not free); interpreted again
        root = self.settings.topic_root
        together = [r for r in within if _device_of(r.topic, root) not in suspects]
        alone = [r for r in within if _device_of(r.topic, root) in suspects]
        ok = self._write(together) if together else True
        for item in alone:
            ok = self._write([item]) and ok
        return ok

    def _charge(self, batch: Sequence[Received], now: float) -> list[Received]:
        """The messages within their device's budget; the rest are acked, counted and noted."""
        within: list[Received] = []
        over: list[Received] = []
        root, allow, critical = self.settings.topic_root, self.budget.allow, _CRITICAL_SEARCH
        for item in batch:  # every message: `_critical` inlined
            topic = item.topic
            if (topic.endswith("/event") and critical(item.payload) is not None) or allow(_device_of(topic, root), now):
                within.append(item)
            else:
                over.append(item)
        if over:
            self._drop(over, now)
        return within

    def _drop(self, over: list[Received], now: float) -> None:
        notes = []
        for item in over:
            device = _device_of(item.topic, self.settings.topic_root)
            if now - self._noted.get(device, float("-inf")) >= self.settings.budget_window_s:
                self._noted[device] = now
                s = self.settings
                notes.append(Rejection(item.topic, device or None, "rate_limited",
                                       f"over its budget ({s.device_burst} at once, {s.device_rate_per_s}/s): its "
                                       f"messages are dropped and counted, this note once per {s.budget_window_s:.0f}s",
                                       item.received_at, item.payload[:MAX_QUARANTINED_BYTES]))
        if notes:
            try:
                with self.sessions.begin() as session:
                    store.insert_quarantine(session, notes)
            except Exception as exc:  # the note is a courtesy: the drop and the count stand
                log.error("rate_limited note not stored error=%s", _first_line(exc))
            self._throttle.warning("rate_limited", "devices over their budget: %s",
                                   " ".join(sorted({n.device_id or "?" for n in notes})))
        self.metrics.quarantined.labels("rate_limited").inc(len(over))
        for channel, n in Counter(_channel_label(r.topic) for r in over).items():
            self.metrics.messages.labels(channel, "quarantined").inc(n)
        while len(self._noted) > 100_000:
            self._noted.pop(next(iter(self._noted)))
        self._ack(over)

    def _suspect(self, item: Received) -> None:
        device = _device_of(item.topic, self.settings.topic_root)
        self._suspects[device] = self.clock.now() + self.settings.suspect_s
        log.warning("device suspect: its messages are written on their own for %.0fs device=%s",
                    self.settings.suspect_s, device)

    def _write(self, batch: Sequence[Received], interpreted: Interpreted | None = None) -> bool:
        """Commit `batch` (`interpreted`: what `interpret_all(batch)` gave, when known) and ack it;
        retry transient errors; bisect others. False only when giving up."""
        backoff_s = 0.05
        retries = len(batch)  # a hook that isolated the cause asks for the batch again, at most once per message
        while not self.give_up.is_set():
            try:
                self._commit(batch, run_hook=True, interpreted=interpreted)
                return True
            except TRANSIENT_DB_ERRORS as exc:
                self.metrics.db_errors.labels("transient").inc()
                log.warning("batch not committed, will retry size=%d in_s=%.2f error=%s", len(batch), backoff_s,
                            _first_line(exc))
                self.give_up.wait(backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
            except Exception as exc:
                if getattr(exc, "retry_batch", False) and retries > 0:
                    retries -= 1  # the hook knows the message that failed and skips it now (hub.rules.runtime.PoisonEvent)
                    log.warning("batch written again size=%d: %s", len(batch), _first_line(exc))
                    continue
                self.metrics.db_errors.labels("data").inc()
                log.error("batch failed, isolating the cause size=%d error=%s", len(batch), _first_line(exc))
                if len(batch) == 1:
                    return self._write_alone(batch[0])
                half = len(batch) // 2
                return self._write(batch[:half]) and self._write(batch[half:])
        return False

    def _write_alone(self, item: Received) -> bool:
        """One message that failed in a batch: store it without the hook, else quarantine it."""
        self._suspect(item)
        try:
            self._commit([item], run_hook=False)
            self.metrics.hook_errors.inc()
            log.error("message stored without on_batch hook topic=%s mid=%d", item.topic, item.mid)
            return True
        except TRANSIENT_DB_ERRORS:
            return self._write([item])
        except Exception as exc:
            rejection = Rejection(item.topic, _device_of(item.topic, self.settings.topic_root) or None, "storage_error", _first_line(exc), item.received_at,
                                  item.payload[:MAX_QUARANTINED_BYTES])
            log.error("message quarantined after storage error topic=%s error=%s", item.topic, _first_line(exc))
            with self.sessions.begin() as session:
                store.insert_quarantine(session, [rejection])
            self._count_quarantine([rejection])
            self.acker.ack(item)
            return True

    def _commit(self, batch: Sequence[Received], run_hook: bool, interpreted: Interpreted | None = None) -> None:
        messages, rejections = interpreted if interpreted is not None else self.interpret_all(batch)
        if self.keep is not None:
            messages, rejections = [m for m in messages if self.keep(m)], []
        started = self.clock_monotonic()
        with self.sessions.begin() as session:
            messages, unknown = self._split_unknown(session, messages)
            rejections = rejections + unknown  # a new list: a retry of the batch starts from `interpreted` again
            unique, keys = _unique(messages)
            partitions = None if self.partitioner is None else self.partitioner.partitions(session, {m.device_id for m in unique})
            inserted = store.insert_events(session, unique, partitions)
            fresh = [m for m, key in zip(unique, keys, strict=True) if key in inserted]
            store.insert_quarantine(session, rejections)
            store.upsert_state_rows(session, store.state_rows(fresh))
            after: list[AfterCommit] = []
            if run_hook and self.on_batch is not None:
                after = self.on_batch(session, fresh, self.clock.now())
        self.metrics.commit_seconds.observe(self.clock_monotonic() - started)
        self.metrics.batch_size.observe(len(batch))
        self._ack(batch)
        self.committed += len(batch)
        self._count(messages, fresh, rejections)
        for work in after:
            try:
                work()
            except Exception:
                log.exception("after-commit work failed")

    def _ack(self, batch: Sequence[Received]) -> None:
        """After the commit only. One call per batch when the connection can take it (gmqtt: one
        hand-over to its event loop instead of one per message)."""
        ack_all = getattr(self.acker, "ack_all", None)
        if ack_all is not None:
            ack_all(batch)
            return
        for item in batch:
            self.acker.ack(item)

    def interpret_all(self, batch: Sequence[Received]) -> Interpreted:
        messages: list[DeviceMessage] = []
        rejections: list[Rejection] = []
        limit, root = self.settings.max_payload_bytes, self.settings.topic_root
        for item in batch:
            if item.size > limit:  # cut in the network thread, never parsed
                rejections.append(Rejection(item.topic, None, "too_large", f"payload of {item.size} bytes exceeds {limit}",
                                            item.received_at, item.payload[:MAX_QUARANTINED_BYTES]))
                continue
            result = interpret(item.topic, item.payload, item.received_at, root, max_payload_bytes=limit)
            if type(result) is DeviceMessage:
                messages.append(result)
            else:
                rejections.append(result)  # type: ignore[arg-type]
        return messages, rejections

    def _split_unknown(self, session: Session, messages: list[DeviceMessage]) -> tuple[list[DeviceMessage], list[Rejection]]:
        # Ask the database only about ids not seen before, so a device registered a second ago is
        # accepted, and a flood of made-up ids costs one small query per batch.
        ids = {m.device_id for m in messages}
        missing = ids - self.known
        if missing:
            self.known |= store.known_devices(session, missing)
        if ids <= self.known:  # nearly always: no second pass over the messages
            return messages, []
        known = [m for m in messages if m.device_id in self.known]
        unknown = [
            Rejection(topic_of(m.device_id, m.channel, self.settings.topic_root), m.device_id, "unknown_device", f"device {m.device_id!r} is not registered",
                      m.received_at, m.raw[:MAX_QUARANTINED_BYTES])
            for m in messages if m.device_id not in self.known
        ]
        return known, unknown

    # --- metrics --------------------------------------------------------------------------

    def _count(self, messages: list[DeviceMessage], fresh: list[DeviceMessage], rejections: list[Rejection]) -> None:
        # Per message: the enum as key (`.value` is slow) and map/attrgetter, which run in C where
        # a generator resumes a Python frame per message.
        m = self.metrics
        stored = Counter(map(_CHANNEL, fresh))
        for channel, n in Counter(map(_CHANNEL, messages)).items():
            if stored[channel]:
                m.messages.labels(channel.value, "stored").inc(stored[channel])
            if n > stored[channel]:
                m.messages.labels(channel.value, "duplicate").inc(n - stored[channel])
        m.clock_skew.inc(sum(map(_SKEWED, fresh)))
        m.late.inc(sum(map(_LATE, fresh)))
        self._count_quarantine(rejections)

    def _count_quarantine(self, rejections: list[Rejection]) -> None:
        if not rejections:
            return
        reasons = Counter(r.reason for r in rejections)
        for reason, n in reasons.items():
            self.metrics.quarantined.labels(reason).inc(n)
        for channel, n in Counter(_channel_label(r.topic) for r in rejections).items():
            self.metrics.messages.labels(channel, "quarantined").inc(n)
        log.warning("quarantined %s", " ".join(f"{reason}={n}" for reason, n in sorted(reasons.items())))


def _unique(messages: list[DeviceMessage]) -> tuple[list[DeviceMessage], list[store.DedupKey]]:
    """First occurrence of each (device, seq, ts) in the batch, with its key; messages lacking seq
    or ts are never duplicates."""
    seen: set[store.DedupKey] = set()
    unique: list[DeviceMessage] = []
    keys: list[store.DedupKey] = []
    for m in messages:  # store.dedup_key inlined: every message
        seq, ts = m.seq, m.device_ts
        key = (m.device_id, seq, ts)
        if seq is not None and ts is not None:
            if key in seen:
                continue
            seen.add(key)
        unique.append(m)
        keys.append(key)
    return unique, keys


#: Someone may be on the floor: an SOS, fall, smoke or gas event (or an SOS cancel) is never
#: dropped for its device's budget. A hostile device can send these past the budget, but each
#: is an alert an operator sees, not a silent load.
_CRITICAL_MARKERS = (b'"sos"', b'"sos_cancel"', b'"fall"', b'"smoke"', b'"gas"')
# One search for any of the markers: `any(marker in payload for ...)` ran a generator and, per
# marker, bytes' `in` first tried the marker as an integer (a TypeError raised and cleared):
# ~2,200 instructions an event message (callgrind, docs/BENCHMARKS.md, session 11).
_CRITICAL_SEARCH = re.compile(b"|".join(re.escape(m) for m in _CRITICAL_MARKERS)).search


def _critical(item: Received) -> bool:
    return item.topic.endswith("/event") and _CRITICAL_SEARCH(item.payload) is not None


#: What the critical lane takes (docs/INGESTION.md, critical first): events that raise an alarm.
#: Not `sos_cancel`: a cancel clears, and clearing waits for the device's messages before it.
ALARM_EVENTS = frozenset(CRITICAL_EVENTS)
_ALARM_MARKERS = tuple(f'"{e}"'.encode() for e in sorted(ALARM_EVENTS))  # '"sos"' is not in '"sos_cancel"'
_ALARM_SEARCH = re.compile(b"|".join(re.escape(m) for m in _ALARM_MARKERS)).search  # one search: see _CRITICAL_SEARCH


def may_raise_alarm(topic: str, payload: bytes) -> bool:
    """A cheap test on the raw bytes (no parsing, network thread): could this be an alarm event?"""
    return topic.endswith("/event") and _ALARM_SEARCH(payload) is not None


def raises_alarm(msg: DeviceMessage) -> bool:
    """An alarm event that dedup can recognise when the main session delivers it again (seq and
    ts set; without them a second copy would be ruled twice, so it is left to the main lane)."""
    p = msg.payload
    return isinstance(p, Event) and p.type in ALARM_EVENTS and msg.seq is not None and msg.device_ts is not None


@lru_cache(maxsize=65_536)
def _device_of(topic: str, root: str) -> str:
    """The device a topic names, "" for a topic that names none: those share one budget.

    Cached (bounded): asked three times per message (budget, suspects, batch split), and
    `DeviceTopic.parse` was ~12 % of the writer's time in cProfile (docs/BENCHMARKS.md)."""
    try:
        return DeviceTopic.parse(topic, root).device_id
    except TopicError:
        return ""


def _channel_label(topic: str) -> str:
    """The channel a rejected topic names, or `unknown`: metric labels stay a small, fixed set."""
    last = topic.rsplit("/", 1)[-1]
    return last if last in CHANNELS else "unknown"


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]
