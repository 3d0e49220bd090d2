"""The hub's core: one rules engine, every decision stored in the transaction that caused it.

`HubCore` holds the engine (the pure core in alerts/) behind one lock and is the only writer
of its decisions: ingestion calls `on_batch` inside its batch transaction, the scheduler
thread calls `tick` when a deadline falls due, and the board, the API and SMS replies call
the `AlertCommands`/`AbsenceCommands` methods. Each path stores the engine's actions (alerts,
transitions, audit, person state), lets the dispatcher queue SMS in the same transaction,
and after the commit publishes live updates and `alert_ack` commands.

The engine's state is kept per unit (a resident with their devices, or a device of nobody) in
`engine_units` (hub/storage/engine_units.py): a save writes only the units changed since the
previous save, so its cost follows the decision, not the size of the community. It is saved
with every transaction that changes an alert, and otherwise at most every
`STATE_SAVE_INTERVAL_S`, with the id of the newest event it has seen. On start the
saved units are read back in one query and the events stored after it are fed again (see `load`), so a
crash loses no decision. If a transaction fails, the engine is rebuilt from the database
(see `_decision`).

A rule that raises on an event must not wedge the hub (security finding 17): every rebuild
replays the events after the saved state, and would raise on it again. The event is isolated
instead (`PoisonEvent`): recorded in `rule_failures` with an audit record `rule_failure`,
logged and counted, and skipped by the engine from then on, live and on every replay; the
decision that met it is rolled back and made again without it (ingestion writes the batch again).

What a HubCore rules is composed in as its `scope` (`RulesScope`): the whole community
(`WholeCommunity`, the default, one hub) or one partition of the residents (scale-out,
hub/rules/partitions.py `PartitionSlot`). A partition's engine sees only that partition's registry,
its units are saved under the scope `engine:<p>` with every decision, every decision first locks the
partition's lease row and reloads the engine when the saved state is newer than the one in
memory (another hub decided meanwhile), and events reach it through `consume`, not `on_batch`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Table, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from alerts.actions import (
    ALERT_ACTIONS,
    Action,
    Alert,
    AlertAckExpired,
    AlertOpened,
    AlertResolved,
    AlertUpdated,
    DeviceStateChanged,
    PersonStateChanged,
    Severity,
)
from alerts.engine import Engine, UnknownAlert, UnknownResident
from alerts.escalation import ack_command_for
from alerts.registry import RegistrySnapshot
from devices import DeviceMessage, interpret
from devices.topics import Channel, DeviceTopic
from hub.clock import Clock
from hub.config import Config
from hub.dispatch.feedback import Feedback, SendOutcome
from hub.dispatch.providers.base import DeliveryState, StatusUpdate
from hub.ingest import store
from hub.ingest.batch import AfterCommit
from hub.metrics import OperationsMetrics
from hub.ports import AlertNotFound, AlertView, InvalidTransition, ResidentNotFound
from hub.registry import workspace
from hub.registry.changes import changes_since, latest_change, record_change
from hub.registry.file import RegistryError
from hub.registry.snapshot import load_entries, load_snapshot
from hub.registry.workspace import RegistryEdit
from hub.storage import models as m
from hub.storage.alert_store import alert_view, save_alert
from hub.storage.engine_units import META, read_meta, read_units, write_units

log = logging.getLogger("pingan.core")

ENGINE_STATE_KEY = "engine"
STATE_SAVE_INTERVAL_S = 2.0
# Unforced saves are also spaced by 10x their own cost, so they take at most ~10 % of the time
# (a save writes the units changed since the previous one: after a quiet spell, many).
STATE_SAVE_COST_FACTOR = 10.0
REGISTRY_POLL_S = 5.0  # how soon an import made by another process reaches the engine
# Raised before the engine is touched: the engine is still right, no rebuild needed.
REFUSALS = (AlertNotFound, InvalidTransition, ResidentNotFound, RegistryError, workspace.NotFound, workspace.Conflict,
            workspace.OutOfScope)


class PoisonEvent(Exception):
    """A rule raised on this message. It is isolated (skipped from now on); the decision that met
    it rolls back. `retry_batch` tells the ingestion writer to write the same batch again rather
    than split it: the cause is known."""

    retry_batch = True

    def __init__(self, msg: DeviceMessage, error: BaseException) -> None:
        super().__init__(f"rule failed on {message_key(msg)}: {error!r}")
        self.msg = msg


def message_key(msg: DeviceMessage) -> str:
    """A message's identity, the same live and when replayed from its stored row."""
    return f"{msg.device_id}|{msg.channel.value}|{msg.seq}|{msg.device_ts!r}|{msg.received_at!r}"[:300]


class Publisher(Protocol):
    """What the core needs of the broker connection."""

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None: ...


class Waker(Protocol):
    def wake(self) -> None: ...


class LiveBus(Protocol):
    def publish(self, kind: str, data: dict[str, Any] | None = None) -> None: ...


class Dispatch(Protocol):
    """What the core needs of hub.dispatch.Dispatcher."""

    def on_actions(self, session: Session, actions: Sequence[Action], now: float) -> object: ...

    def sweep(self, session: Session, now: float) -> object: ...

    def request_backup(self, session: Session, alert_id: str, now: float, actor: str = "", channel: str = "sms") -> object: ...

    def on_send_failed(self, session: Session, note: m.Notification, now: float) -> object: ...

    def on_status(self, session: Session, update: StatusUpdate, now: float) -> m.Notification | None: ...


class RulesScope(Protocol):
    """Which residents one engine rules and how its state is kept: the whole community
    (`WholeCommunity`, one hub) or one partition of it (`hub.rules.partitions.PartitionSlot`, several
    hubs). HubCore is the same for both; what differs is composed in through this."""

    @property
    def state_key(self) -> str: ...

    @property
    def saves_every_decision(self) -> bool: ...

    def restrict(self, registry: RegistrySnapshot) -> RegistrySnapshot: ...

    def lock(self, session: Session) -> int | None:
        """Lock the scope for the decision's transaction; the version of its saved state."""
        ...

    def rules_now(self, now: float) -> float: ...

    def missed(self, session: Session, saved: dict[str, Any]) -> Sequence[m.Event]:
        """Events stored after the saved state that the engine must catch up on."""
        ...

    def unruled(self, session: Session, limit: int, received_by: float) -> Sequence[m.Event]:
        """Events stored by any hub and waiting for this engine."""
        ...

    def mark_ruled(self, session: Session, rows: Sequence[m.Event]) -> None: ...

    def state_extras(self, session: Session) -> dict[str, Any]: ...

    def saved(self, session: Session) -> int | None:
        """The state was saved in this transaction: its new version."""
        ...


class WholeCommunity:
    """One engine for every resident, deciding in the ingestion transaction (one hub).

    Its state is saved at intervals with the id of the newest event it has seen; after a crash
    the events stored since are fed again (`missed`). Nothing waits to be ruled (`unruled`):
    every event is ruled in the batch that stored it."""

    state_key = ENGINE_STATE_KEY
    saves_every_decision = False

    def restrict(self, registry: RegistrySnapshot) -> RegistrySnapshot:
        return registry

    def lock(self, session: Session) -> int | None:
        return None

    def rules_now(self, now: float) -> float:
        return now

    def missed(self, session: Session, saved: dict[str, Any]) -> Sequence[m.Event]:
        watermark = saved.get("last_event_id", 0)
        return session.scalars(select(m.Event).where(m.Event.id > watermark).order_by(m.Event.id)).all()

    def unruled(self, session: Session, limit: int, received_by: float) -> Sequence[m.Event]:
        return ()

    def mark_ruled(self, session: Session, rows: Sequence[m.Event]) -> None:
        return None

    def state_extras(self, session: Session) -> dict[str, Any]:
        return {"last_event_id": session.scalar(select(func.max(m.Event.id))) or 0}  # where `missed` starts

    def saved(self, session: Session) -> int | None:
        return None


#: Outbox states a message passes through on its way: counted only once it settles somewhere.
UNSETTLED = (DeliveryState.QUEUED.value, DeliveryState.SENDING.value)


@dataclass
class Outputs:
    """Where the core's decisions go besides the database (all optional)."""

    dispatcher: Dispatch | None = None
    publisher: Publisher | None = None
    bus: LiveBus | None = None
    outbox: Waker | None = None  # the outbox sender, woken when a commit queued messages
    metrics: OperationsMetrics | None = None  # alerts, messages, scheduler lag (hub/metrics.py)


class HubCore:
    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        clock: Clock,
        outputs: Outputs | None = None,
        *,
        scope: RulesScope | None = None,
    ) -> None:
        self.config = config
        self.scope: RulesScope = scope or WholeCommunity()
        self.partitioner = None  # one engine: events need no partition (see PartitionedCore)
        self._state_key = self.scope.state_key
        self._state_version: int | None = None  # of the scope's saved state this engine matches
        self.sessions = sessions
        self.clock = clock
        self.outputs = outputs or Outputs()
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)
        self.engine: Engine | None = None
        self.registry = RegistrySnapshot({}, {})
        self._saved_at = float("-inf")
        self._meta_saved = False  # a meta row (event watermark) exists: units may be saved alone
        self._save_cost_s = 0.0  # wall time of the last state save (the changed units)
        self.saved_bytes = 0  # JSON bytes the last state save wrote (benchmarks/state.py)
        self._registry_polled_at = float("-inf")
        self._adopted_change = 0  # the newest registry change (hub/registry/changes.py) in the engine
        self._stale = False
        self._poison: set[str] = set()  # message_key of isolated events: never fed to the engine
        self._unrecorded: list[tuple[DeviceMessage, str]] = []  # isolated, not in rule_failures yet
        self.rule_failures = 0  # events isolated by this process (the metric pingan_rule_failures)
        self._just_loaded = False  # the current decision rebuilt the engine (its catch-up fed every stored event)
        self._after_load: list[AfterCommit] = []  # after-commit work of that catch-up's decisions

    # --- start ----------------------------------------------------------------------------

    def load(self) -> None:
        """Build the engine from the registry and its saved state, then catch up on later events."""
        with self._decision() as session:
            if not self._just_loaded:  # a first decision builds the engine already
                self._load_isolating(session)

    def save_state(self) -> None:
        """Save what changed since the last save now (a clean stop, after ingestion drained):
        the next start restores it and has no stored events to feed again."""
        if self.engine is None or self._stale:
            return  # nothing loaded, or a rebuild pending: the next start catches up from the database
        with self._decision() as session:
            self._save_state(session, force=True)

    def _load_isolating(self, session: Session) -> None:
        """`_load`, again without each event that raises on the way (each try isolates one more)."""
        while True:
            self._record_poison(session)
            try:
                self._load(session)
                return
            except PoisonEvent:
                continue  # nothing of the failed load was written: the engine is built afresh

    def _load(self, session: Session) -> None:
        started = time.perf_counter()
        now = self.clock.now()
        self._after_load = []
        self._poison |= set(session.scalars(select(m.RuleFailure.key)))
        self._adopted_change = latest_change(session)  # before the read: a later change is adopted again
        self.registry = self._load_registry(session, now)
        self.engine = Engine(self.registry, self.config.rules, self.config.alerts)
        self._registry_polled_at = now
        self._stale = False
        saved = read_meta(session, self._state_key)
        self._meta_saved = saved is not None
        current: dict[str, int] = {}  # units saved alone since the meta row, and up to which event
        if saved is not None:
            units = read_units(session, self._state_key)
            self.engine.restore_units(saved, _noting_watermarks(units, saved.get("last_event_id", 0), current))
        snapshot = session.get(m.EngineState, self._state_key) if saved is None else None
        if snapshot is not None:  # a hub that saved full snapshots: upgraded once, below
            self.engine.restore(snapshot.data["engine"])
            self.engine.mark_all_dirty()
            saved = snapshot.data
        replayed = self._catch_up(session, saved or {}, current)
        if snapshot is not None:
            self._save_state(session, force=True)
            session.delete(snapshot)
            log.info("engine state upgraded from a full snapshot to units state=%s", self._state_key)
        log.info("core loaded state=%s open_alerts=%d events_replayed=%d load_s=%.2f", self._state_key,
                 len(self.engine.open_alerts()), replayed, time.perf_counter() - started)

    def _load_registry(self, session: Session, now: float) -> RegistrySnapshot:
        return self.scope.restrict(load_snapshot(session, now))

    def _catch_up(self, session: Session, saved: dict[str, Any], current: dict[str, int]) -> int:
        """Feed the events stored after the saved state (their decisions were not saved), each
        to a unit that was not saved after it (`_save_units`)."""
        rows = self.scope.missed(session, saved)
        if current:
            unit_of = self._engine().unit_of
            rows = [row for row in rows if current.get(unit_of(row.device_id), 0) < row.id]
        messages = self._messages(rows)
        if messages:
            self._after_load = self._apply_messages(session, messages)
            self._save_state(session, force=True)
        return len(messages)

    def _messages(self, rows: Sequence[m.Event]) -> list[DeviceMessage]:
        """Stored events as the device messages they were (interpreted as at their receive time)."""
        root = self.config.mqtt.topic_root
        messages = []
        for row in rows:
            topic = str(DeviceTopic(row.device_id, Channel(row.channel), root))
            msg = interpret(topic, row.payload.encode(), row.received_at, root)
            if isinstance(msg, DeviceMessage):
                messages.append(msg)
        return messages

    @contextmanager
    def _decision(self, session: Session | None = None) -> Iterator[Session]:
        """One decision: the database transaction first, then the core lock.

        Ingestion calls `on_batch` inside its transaction, which on SQLite holds the write lock:
        every path takes the two in that order, or two threads would wait on each other. A
        failure — in the decision or in the commit after it — leaves the engine ahead of the
        database: it is marked stale and rebuilt from the database by the next decision.
        A partition's core locks its lease row first (see hub/rules/partitions.py) and reloads the
        engine when another hub saved a newer state."""
        with contextlib.ExitStack() as stack:
            stack.push(self._stale_on_failure)  # first in, last out: sees a failed commit too
            if session is None:
                session = stack.enter_context(self.sessions.begin())
                session.connection()  # BEGIN now (SQLite: take the write lock before the core lock)
            else:  # the caller commits: a rollback there must not leave the engine ahead
                event.listen(session, "after_soft_rollback", self._rolled_back)
            version = self.scope.lock(session)
            stack.enter_context(self.lock)
            self._record_poison(session)
            self._just_loaded = self._stale or self.engine is None or version != self._state_version
            if self._just_loaded:
                self._state_version = version  # before the load: a save on the way bumps it
                self._load_isolating(session)
            yield session

    def _stale_on_failure(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        if exc_type is not None and not issubclass(exc_type, REFUSALS):
            self._rolled_back()

    def _rolled_back(self, *_args: object) -> None:
        if not self._stale:
            log.warning("decision not committed; the engine will be rebuilt from the database state=%s", self._state_key)
        self._stale = True

    # --- inputs ---------------------------------------------------------------------------

    def on_batch(self, session: Session, messages: list[DeviceMessage], now: float) -> list[AfterCommit]:
        """Ingestion hook: runs inside the batch transaction, after the events were inserted."""
        with self._decision(session):
            # A rebuild in this decision caught up on every stored event, this batch's included
            # (inserted before the hook runs; e.g. written again after an isolated rule failure):
            # feeding them again would rule them twice.
            actions = [] if self._just_loaded else self._handle_messages(messages)
            after = self._store(session, actions, self.clock.now())
            if self._just_loaded:
                after, self._after_load = self._after_load + after, []
            # At once only when an alert changed; person/device state changes alone (live-board
            # updates) wait for the interval, so a device heard many times is written once.
            self._save_state(session, only=_alert_units(actions))
            self.wake.notify_all()
        return after

    def _apply_messages(self, session: Session, messages: list[DeviceMessage]) -> list[AfterCommit]:
        """Rule stored events (a backlog: a crash's catch-up, a partition's batch) as they would
        have been ruled live, like `replay --offline`: the deadlines that fell due between two
        events fire before the later one. Without it, a backlog that holds a resident's quiet
        night and the morning's first movement never raised that night's inactivity alert."""
        return self._store(session, self._handle_messages(messages, fire_due_first=True), self.clock.now())

    def _handle_messages(self, messages: list[DeviceMessage], fire_due_first: bool = False) -> list[Action]:
        engine = self._engine()
        actions: list[Action] = []
        for msg in messages:
            if self._poison and message_key(msg) in self._poison:
                continue
            while fire_due_first and (due := engine.next_deadline()) is not None and due < msg.received_at:
                actions += engine.tick(due)
            try:
                actions += engine.handle(msg, msg.received_at)
            except Exception as exc:
                self._isolate(msg, exc)
                raise PoisonEvent(msg, exc) from exc
        return actions

    def _isolate(self, msg: DeviceMessage, exc: Exception) -> None:
        """Skip `msg` from now on; it is written to rule_failures by the next decision (this
        one rolls back: the engine may be half-way through the message)."""
        key = message_key(msg)
        self._poison.add(key)
        self._unrecorded.append((msg, f"{type(exc).__name__}: {exc}"[:2000]))
        self.rule_failures += 1
        log.exception("rule_failure: a rule raised on an event; it is isolated and skipped from now on key=%s", key)

    def _record_poison(self, session: Session) -> None:
        """Store the isolated events not stored yet, each with an audit record, in `session`."""
        now = self.clock.now()
        while self._unrecorded:
            msg, error = self._unrecorded.pop(0)
            row = {"key": message_key(msg), "device_id": msg.device_id, "channel": msg.channel.value, "seq": msg.seq,
                   "device_ts": msg.device_ts, "received_at": msg.received_at, "error": error, "at": now}
            table: Table = m.RuleFailure.__table__  # type: ignore[assignment]
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            done = session.execute(insert(table).values(**row).on_conflict_do_nothing(index_elements=[table.c.key]))
            if done.rowcount:  # type: ignore[attr-defined]  # another hub may have recorded it first
                session.add(m.Audit(at=now, actor="system", channel="rules", action="rule_failure", detail={
                    "device": msg.device_id, "channel": msg.channel.value, "seq": msg.seq,
                    "received_at": msg.received_at, "error": error[:300]}))

    def consume(self, limit: int) -> int:
        """Feed the engine up to `limit` events that hubs stored for its scope and nobody ruled
        yet (a partition's; the whole community has none), in device-time order; store the
        decisions, mark the events ruled and save the state, all in one transaction. Returns
        how many events were ruled."""
        while True:
            try:
                return self._consume(limit)
            except PoisonEvent:
                continue  # that event is skipped now: the same rows again, in a new transaction

    def _consume(self, limit: int) -> int:
        with self._decision() as session:
            rows = self.scope.unruled(session, limit, self.rules_now())
            if not rows:
                return 0
            # Round robin spreads a device's messages over the hubs, whose batches commit in any
            # order: rule what settled in device-time order (stable: ties keep the id order).
            messages = sorted(self._messages(rows), key=lambda msg: msg.at)
            messages = skewed_in_seq_order(messages, self.config.scale.settle_ms / 1000)
            after = self._apply_messages(session, messages)
            self.scope.mark_ruled(session, rows)
            self._save_state(session, force=True)
        _run(after)
        return len(rows)

    def tick(self, sweep: bool = True) -> list[Action]:
        """Fire due deadlines and (with `sweep`) due escalation steps; one transaction."""
        with self._decision() as session:
            now = self.clock.now()
            after = self._adopt_registry_changes(session, now)
            actions = self._engine().tick(self.rules_now())
            after += self._store(session, actions, now)
            if sweep and self.outputs.dispatcher is not None:
                self.outputs.dispatcher.sweep(session, now)
            # Like on_batch: at once only for alert changes.
            self._save_state(session, only=_alert_units(actions))
        _run(after)
        return actions

    def rules_now(self) -> float:
        """How far the rules have seen: now, or for a partition now less its settle window."""
        return self.scope.rules_now(self.clock.now())

    def run_scheduler(self, stop: threading.Event, max_wait_s: float = 1.0) -> None:
        """Tick when the engine's next deadline falls due, and at least every `max_wait_s`
        (escalation steps and the outbox live in the database, swept on each tick)."""
        due = self._next_deadline()
        while not stop.is_set():
            self._observe_lag(due)
            try:
                self.tick()
            except Exception:
                log.exception("tick failed; retrying")
            with self.lock:
                due = self._next_deadline()
                wait = max_wait_s if due is None else min(max_wait_s, max(0.0, due - self.clock.now()))
                if wait > 0 and not stop.is_set():
                    self.wake.wait(wait)

    def _next_deadline(self) -> float | None:
        with self.lock:
            return self.engine.next_deadline() if self.engine is not None else None

    def _observe_lag(self, due: float | None) -> None:
        """How late this tick fires the deadline it was waiting for (a busy or suspended hub)."""
        now = self.clock.now()
        if due is not None and due <= now and self.outputs.metrics is not None:
            self.outputs.metrics.scheduler_lag.observe(now - due)

    # --- operators and responders (hub.ports.AlertCommands, AbsenceCommands) ----------------

    def acknowledge(self, alert_id: str, actor: str, channel: str) -> AlertView:
        return self._command(alert_id, lambda e, now: e.acknowledge(alert_id, actor, channel, now))

    def on_site(self, alert_id: str, actor: str, channel: str) -> AlertView:
        return self._command(alert_id, lambda e, now: e.on_site(alert_id, actor, channel, now))

    def resolve(self, alert_id: str, outcome: str, actor: str, channel: str) -> AlertView:
        return self._command(alert_id, lambda e, now: e.resolve(alert_id, outcome, actor, channel, now))

    def request_backup(self, alert_id: str, actor: str, channel: str) -> AlertView:
        def backup(session: Session, now: float) -> None:
            if self.outputs.dispatcher is not None:
                self.outputs.dispatcher.request_backup(session, alert_id, now, actor, channel)

        return self._command(alert_id, lambda e, now: [], also=backup)

    def open_manual(self, resident_id: str, severity: str, note: str, actor: str, channel: str) -> AlertView:
        """An alert recorded by hand (a neighbour phoned in), escalated like any other; audited."""
        with self._decision() as session:
            now = self.clock.now()
            try:
                actions = self._engine().open_manual(resident_id, Severity(severity), note, actor, channel, now)
            except UnknownResident:
                raise ResidentNotFound(resident_id) from None
            after = self._store(session, actions, now)
            alert = next(a.alert for a in actions if isinstance(a, AlertOpened | AlertUpdated))
            session.add(m.Audit(at=now, actor=actor, channel=channel, action="alert.manual", alert_id=alert.id,
                                resident_id=resident_id, detail={"severity": severity, "note": note}))
            self._save_state(session, force=True)
            view = _view(session, alert.id)
        _run(after)
        return view

    def add_absence(self, resident_id: str, start_at: float, until_at: float, note: str, actor: str) -> int:
        if until_at <= start_at:
            raise ValueError("the expected return must be after the start")
        with self._decision() as session:
            if session.get(m.Resident, resident_id) is None:
                raise LookupError(f"no resident {resident_id!r}")
            row = m.Absence(resident_id=resident_id, start_at=start_at, until_at=until_at, note=note, created_by=actor)
            session.add(row)
            session.flush()
            _audit(session, self.clock.now(), actor, "absence.add", resident_id, {"absence": row.id, "until": until_at})
            record_change(session, [resident_id])
            after = self.registry_entries_changed(session, {resident_id}, set())
        _run(after)
        return row.id

    def remove_absence(self, absence_id: int, actor: str) -> None:
        with self._decision() as session:
            row = session.get(m.Absence, absence_id)
            if row is None:
                raise LookupError(f"no absence {absence_id}")
            _audit(session, self.clock.now(), actor, "absence.remove", row.resident_id, {"absence": absence_id})
            session.delete(row)
            record_change(session, [row.resident_id])
            after = self.registry_entries_changed(session, {row.resident_id}, set())
        _run(after)

    def change_registry(self, edit: Callable[[Session], RegistryEdit]) -> RegistryEdit:
        """A workspace edit (hub/registry/workspace.py) in one decision: the edit's writes, then
        only the residents and devices it touched reloaded into the engine (`registry_entries_changed`).
        Raises what the edit raises; nothing is written then."""
        with self._decision() as session:
            result = edit(session)
            record_change(session, result.residents, result.devices)
            after = self.registry_entries_changed(session, result.residents, result.devices)
        _run(after)
        return result

    def adopt_registry_entries(self, resident_ids: set[str], device_ids: set[str]) -> None:
        """Adopt an edit committed elsewhere (a partitioned hub's workspace) for these ids only."""
        with self._decision() as session:
            after = self.registry_entries_changed(session, resident_ids, device_ids)
        _run(after)

    def registry_entries_changed(self, session: Session, resident_ids: set[str], device_ids: set[str]) -> list[AfterCommit]:
        """Adopt changes to a few residents and devices (and those residents' absences) without
        reloading the whole registry (`Engine.update_registry_entries`). Entries outside this
        engine's scope (another partition's) are left out."""
        if not resident_ids and not device_ids:
            return []
        now = self.clock.now()
        entries = load_entries(session, resident_ids, device_ids, now)
        kept = self.scope.restrict(RegistrySnapshot(
            {k: v for k, v in entries.residents.items() if v is not None},
            {k: v for k, v in entries.devices.items() if v is not None},
        ))
        actions = self._engine().update_registry_entries(
            {k: kept.residents.get(k) for k in entries.residents}, {k: kept.devices.get(k) for k in entries.devices},
            {k: entries.absences[k] if k in kept.residents else () for k in entries.residents},
        )
        after = self._store(session, actions, now)
        self._save_state(session, force=any(isinstance(a, ALERT_ACTIONS) for a in actions))
        bus = self.outputs.bus
        if bus is not None and resident_ids:
            changed = sorted(resident_ids)

            def publish() -> None:
                for resident_id in changed:
                    bus.publish("resident", {"resident": resident_id})

            after.append(publish)
        return after

    def reload_registry(self) -> None:
        """Adopt registry changes made elsewhere (an import, the board)."""
        with self._decision() as session:
            after = self._registry_changed(session)
        _run(after)

    # --- what the SMS provider answered (hub/dispatch/feedback.py) -------------------------

    def on_send_outcome(self, outcome: SendOutcome) -> bool:
        """The provider's answer for a message the outbox sent; False when the sender lost its lease."""
        with self._decision() as session:
            now = self.clock.now()
            applied = self._feedback().send_outcome(session, outcome, now)
            if applied is None:
                return False
            if applied.first_message and applied.row.alert_id is not None:
                with contextlib.suppress(UnknownAlert):  # resolved meanwhile
                    self._engine().mark_notified(applied.row.alert_id, now)
            after = self._after_feedback(applied.row)
        _run(after)
        return True

    def on_receipt(self, update: StatusUpdate) -> bool:
        """A delivery receipt; False for a sid the outbox never sent."""
        with self._decision() as session:
            row = self._feedback().receipt(session, update, self.clock.now())
            after = [] if row is None else self._after_feedback(row)
        _run(after)
        return row is not None

    def _feedback(self) -> Feedback:
        if self.outputs.dispatcher is None:
            raise RuntimeError("this core has no dispatcher: nothing is sent, so nothing is answered")
        return Feedback(self.outputs.dispatcher)

    def _after_feedback(self, row: m.Notification) -> list[AfterCommit]:
        """The board shows the message's new state; a failure may have queued someone else's text."""
        bus, outbox, alert_id, metrics = self.outputs.bus, self.outputs.outbox, row.alert_id, self.outputs.metrics
        after: list[AfterCommit] = []
        if metrics is not None and row.state not in UNSETTLED:
            state, channel = row.state, getattr(row, "channel", "sms")
            after.append(lambda: metrics.on_message(state, channel))
        if bus is not None and alert_id is not None:
            after.append(lambda: bus.publish("alert", {"id": alert_id}))
        if outbox is not None and row.state in (DeliveryState.FAILED.value, DeliveryState.UNDELIVERED.value):
            after.append(outbox.wake)
        return after

    # --- internals ------------------------------------------------------------------------

    def _command(
        self,
        alert_id: str,
        step: Callable[[Engine, float], list[Action]],
        also: Callable[[Session, float], None] | None = None,
    ) -> AlertView:
        with self._decision() as session:
            now = self.clock.now()
            engine = self._engine()
            try:
                engine.alert(alert_id)
            except UnknownAlert:
                row = session.get(m.Alert, alert_id)
                raise AlertNotFound(alert_id) if row is None else InvalidTransition(f"alert {row.code} is {row.state}") from None
            try:
                actions = step(engine, now)
            except ValueError as exc:
                raise InvalidTransition(str(exc)) from None
            after = self._store(session, actions, now)
            if also is not None:
                also(session, now)
            self._save_state(session, force=True)
            view = _view(session, alert_id)
        _run(after)
        return view

    def _store(self, session: Session, actions: list[Action], now: float) -> list[AfterCommit]:
        """Write the actions, queue their messages, and return what to do after the commit."""
        if not actions:
            return []
        alert_actions = [a for a in actions if isinstance(a, AlertOpened | AlertUpdated | AlertResolved | AlertAckExpired)]
        new = [a for a in alert_actions if not isinstance(a, AlertOpened) or session.get(m.Alert, a.alert.id) is None]
        for action in alert_actions:
            save_alert(session, action.alert)
        _save_persons(session, [a for a in actions if isinstance(a, PersonStateChanged)])
        if self.outputs.dispatcher is not None and new:
            self.outputs.dispatcher.on_actions(session, new, now)
            self._copy_first_notified(session, new)
        return self._after_commit(actions)

    def _copy_first_notified(self, session: Session,
                             actions: Sequence[AlertOpened | AlertUpdated | AlertResolved | AlertAckExpired]) -> None:
        engine = self._engine()
        for action in actions:
            alert = action.alert
            row = session.get(m.Alert, alert.id)
            if row is not None and row.first_notified_at is not None and alert.first_notified_at is None:
                with contextlib.suppress(UnknownAlert):  # resolved in the same batch
                    engine.mark_notified(alert.id, row.first_notified_at)

    def _after_commit(self, actions: list[Action]) -> list[AfterCommit]:
        after: list[AfterCommit] = []
        bus, publisher, outbox, metrics = self.outputs.bus, self.outputs.publisher, self.outputs.outbox, self.outputs.metrics
        if metrics is not None:
            after.append(lambda: metrics.on_actions(actions))
        if outbox is not None and any(not isinstance(a, PersonStateChanged | DeviceStateChanged) for a in actions):
            after.append(outbox.wake)
        for action in actions:
            if bus is not None:
                kind, data = _live_event(action)
                after.append(functools.partial(bus.publish, kind, data))
            if publisher is not None and isinstance(action, AlertUpdated) and action.reason.value == "acknowledged":
                command = ack_command_for(action.alert, self.registry, self.config.mqtt.topic_root)
                if command is not None:
                    topic, payload = command
                    after.append(functools.partial(publisher.publish, topic, payload, 1))
        return after

    def _registry_changed(self, session: Session) -> list[AfterCommit]:
        now = self.clock.now()
        self._adopted_change = latest_change(session)
        self.registry = self._load_registry(session, now)
        actions = self._engine().set_registry(self.registry)
        after = self._store(session, actions, now)
        self._save_state(session, force=True)
        return after

    def _adopt_registry_changes(self, session: Session, now: float) -> list[AfterCommit]:
        """Adopt what other processes (an import, another hub's workspace) changed since the last
        change this engine adopted: those entries only, the whole registry only when one change
        asks for it (hub/registry/changes.py)."""
        if now - self._registry_polled_at < REGISTRY_POLL_S:
            return []
        self._registry_polled_at = now
        pending = changes_since(session, self._adopted_change)
        if pending.full:
            return self._registry_changed(session)
        self._adopted_change = pending.last
        return self.registry_entries_changed(session, pending.residents, pending.devices)

    def _save_state(self, session: Session, force: bool = False, only: Collection[str] = ()) -> None:
        """Write the units changed since the last save and the meta row with the event watermark:
        forced, or when the interval has passed. `only` (an alert decision's units) writes those
        units at once and alone (see `_save_units`)."""
        if only and self._meta_saved and not self.scope.saves_every_decision:
            self._save_units(session, only)
            return
        now = self.clock.now()
        force = force or bool(only) or self.scope.saves_every_decision
        if not force and now - self._saved_at < max(STATE_SAVE_INTERVAL_S, STATE_SAVE_COST_FACTOR * self._save_cost_s):
            return
        started = time.perf_counter()  # the save's CPU cost, not decision time: only spaces the saves
        engine = self._engine()
        extras = self.scope.state_extras(session)
        changed = self._unit_rows(engine.take_dirty(), extras.get("last_event_id"))
        changed[META] = {**engine.meta_state(), **extras}
        self.saved_bytes = write_units(session, self._state_key, changed)
        self._meta_saved = True
        self._state_version = self.scope.saved(session)
        self._saved_at = now
        self._save_cost_s = time.perf_counter() - started

    def _save_units(self, session: Session, units: Collection[str]) -> None:
        """Write these units now, each with the newest event id it has seen (`w`), and leave the
        other changed units and the meta row to the next interval save. After a flood (a backlog,
        every device's first heartbeat) every unit is changed: the first alarm would otherwise
        write them all before its alert commits (2.1 s at 100,000 residents). At start-up a
        unit's stored events up to its own `w` are not fed to it again (`_catch_up`)."""
        engine = self._engine()
        dirty = engine.take_dirty()
        now_units = dirty.intersection(units)
        engine.mark_dirty(dirty - now_units)
        watermark = self.scope.state_extras(session).get("last_event_id")
        self.saved_bytes = write_units(session, self._state_key, self._unit_rows(now_units, watermark))

    def _unit_rows(self, units: Iterable[str], watermark: int | None) -> dict[str, dict[str, Any] | None]:
        engine = self._engine()
        rows = {unit: engine.unit_state(unit) for unit in units}
        if watermark is not None:  # the whole community's event id; a partition has no `missed` events
            for data in rows.values():
                if data is not None:
                    data["w"] = watermark
        return rows

    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("HubCore.load() was not called")
        return self.engine


def _alert_units(actions: Sequence[Action]) -> set[str]:
    """The units whose alerts these actions changed: saved with the decision."""
    return {action.alert.resident for action in actions if isinstance(action, ALERT_ACTIONS)}


def _noting_watermarks(units: Iterable[tuple[str, dict[str, Any]]], floor: int,
                       into: dict[str, int]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Pass the stored units through, noting those saved alone after the meta row (`w` > floor)."""
    for unit, data in units:
        if data.get("w", 0) > floor:
            into[unit] = data["w"]
        yield unit, data


def skewed_in_seq_order(messages: list[DeviceMessage], window_s: float) -> list[DeviceMessage]:
    """Put a device's messages with an untrusted clock back in the order it sent them.

    Such a message's `at` is the receive time of the hub that took it (its own ts was rejected
    as skewed), and round robin hands a device's consecutive messages to different hubs: an
    `sos_cancel` sent right after its `sos` was stamped 11 ms before it, and the cancel was
    judged too late (the SOS stayed open). Within `window_s` of each other, a device's skewed
    messages take the places they hold in `messages` in `seq` order, and their `at` is made
    non-decreasing in that order. Further apart, receive order is send order (and a seq that
    restarted after a reboot is not taken for an earlier message)."""
    places: dict[str, list[int]] = {}
    for i, msg in enumerate(messages):
        if msg.skewed and msg.seq is not None:
            places.setdefault(msg.device_id, []).append(i)
    out = list(messages)
    for indexes in places.values():
        for run in _runs_within(indexes, messages, window_s):
            ordered = sorted((messages[i] for i in run), key=lambda msg: msg.seq or 0)
            for k in range(1, len(ordered)):
                if ordered[k].at < ordered[k - 1].at:
                    ordered[k] = dataclasses.replace(ordered[k], at=ordered[k - 1].at)
            for i, msg in zip(run, ordered, strict=True):
                out[i] = msg
    return out


def _runs_within(indexes: list[int], messages: list[DeviceMessage], window_s: float) -> list[list[int]]:
    """`indexes` (in time order) cut where two neighbours are more than `window_s` apart."""
    runs = [[indexes[0]]]
    for i in indexes[1:]:
        if messages[i].at - messages[runs[-1][-1]].at <= window_s:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [run for run in runs if len(run) > 1]


def _run(work: list[AfterCommit]) -> None:
    for item in work:
        try:
            item()
        except Exception:
            log.exception("after-commit work failed")


def _view(session: Session, alert_id: str) -> AlertView:
    row = session.get(m.Alert, alert_id)
    assert row is not None
    return alert_view(row, session.get(m.Resident, row.resident_id) if row.resident_id else None)


PERSON_COLUMNS = ("resident_id", "state", "reason", "detail", "reason_params", "since_at")
PG_PERSON_TYPES = ("varchar", "varchar", "varchar", "varchar", "json", "float8")
UPSERT_PERSONS = store.driver_upsert("resident_status", PERSON_COLUMNS, PG_PERSON_TYPES,
                                     ", ".join(f"{c} = excluded.{c}" for c in PERSON_COLUMNS[1:]))


def _save_persons(session: Session, actions: list[PersonStateChanged]) -> None:
    """One upsert for the residents whose fused state changed, the last change of each winning.

    A `session.get` + ORM flush per change cost ~1 ms: when 10,000 residents' states change in
    a burst (a restart, the morning) that was most of each ingestion batch. Rows go to the
    driver as tuples (`store.upsert_rows`), like device state: SQLAlchemy's per-row parameter
    processing was 70–85 % of that upsert's CPU (docs/BENCHMARKS.md, issue 18 item 3).
    `reason_params` is JSON text, `null` for none, as the JSON column stored it."""
    latest = {a.resident: a for a in actions}
    rows = [
        (a.resident, a.state.value, a.reason.value, "",
         json.dumps(None if a.explanation is None else dict(a.explanation.params)), a.at)
        for _, a in sorted(latest.items())  # sorted: a stable lock order across concurrent hubs
    ]
    store.upsert_rows(session, UPSERT_PERSONS, PERSON_COLUMNS, PG_PERSON_TYPES, rows)


def _live_event(action: Action) -> tuple[str, dict[str, Any]]:
    if isinstance(action, PersonStateChanged):
        return "resident", {"resident": action.resident, "state": action.state.value}
    if isinstance(action, DeviceStateChanged):
        return "device", {"device": action.device, "state": action.state.value}
    alert: Alert = action.alert
    return "alert", {"id": alert.id, "code": alert.code, "kind": alert.kind.value, "state": alert.state.value,
                     "severity": alert.severity.value, "resident": alert.resident}


def _audit(session: Session, now: float, actor: str, action: str, resident_id: str | None, detail: dict[str, Any]) -> None:
    session.add(m.Audit(at=now, actor=actor, channel="board", action=action, resident_id=resident_id, detail=detail))
