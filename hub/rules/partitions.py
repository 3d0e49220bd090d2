"""Scale-out: the rules split into partitions of residents, each run by one hub at a time.

With several hubs on one MQTT shared subscription, one device's messages reach every hub in
turn, while a rules engine must see all messages of a resident. So ingestion and rules are
split: any hub stores what it receives (events carry their `partition` and `ruled` false), and
the hub that owns a partition feeds that partition's engine from the database, in id order,
storing the decisions and marking the events ruled in one transaction.

What this module owns:
- `partition_of(key, count)`: the stable partition of a resident (or of a device without one);
- `PartitionMap`: device id -> partition for the ingestion writer (cached, misses asked of the db);
- `PartitionSlot`: what a `HubCore` needs to run one partition: its registry subset, its state
  key, the lock of its `partition_leases` row, the unruled events;
- `Leases`: who owns which partition (`partition_leases`, `hub_presence`), renewed by the
  owner, shared fairly among the live hubs, taken over when a hub stops renewing;
- `PartitionedCore`: the `HubCore` API over one `HubCore` per partition, and the scheduler
  loop that consumes, ticks and sweeps for the partitions this hub owns.

Correctness does not rest on the leases: every decision for a partition locks its lease row
(`SELECT ... FOR UPDATE`) and compares the row's `state_version` with the version of the
engine it holds in memory; an older engine is reloaded from the saved state first. The lease
only decides which hub does the background work, so engines stay cached where they run.
"""

from __future__ import annotations

import logging
import math
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker, undefer

from alerts.actions import Action
from alerts.registry import RegistrySnapshot
from devices import DeviceMessage
from hub.clock import Clock
from hub.config import Config
from hub.dispatch.feedback import SendOutcome
from hub.dispatch.providers.base import StatusUpdate
from hub.ingest.batch import AfterCommit
from hub.ports import AlertNotFound, AlertView
from hub.registry.workspace import RegistryEdit
from hub.rules.runtime import HubCore, Outputs
from hub.storage import models as m

log = logging.getLogger("pingan.partitions")

CONSUME_BATCH = 500  # events per consuming transaction
SWEEP_EVERY_S = 1.0  # escalation steps and digests: the dispatcher's sweep, once a second per hub
RELOAD_CHECK_S = 30.0  # tick every partition at least this often: a tick reloads the registry when due


def partition_of(key: str, count: int) -> int:
    """Stable across processes and restarts (Python's own hash() is salted per process)."""
    return zlib.crc32(key.encode()) % count


def rules_key(device_id: str, resident_id: str | None) -> str:
    """A device follows its resident; a device of nobody is a partition key of its own."""
    return resident_id if resident_id is not None else "device:" + device_id


# --- ingestion side -----------------------------------------------------------------------


class PartitionMap:
    """Device id -> partition, for the ingestion writer (`hub.ingest.batch.Partitioner`).

    Cached; ids not in the cache are looked up in the devices table in the writer's own
    transaction, so a device registered a second ago is placed right. `forget()` drops the
    cache after the registry changed (a device moved to another resident)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._cache: dict[str, int] = {}
        self._lock = threading.Lock()

    def partitions(self, session: Session, device_ids: Iterable[str]) -> Mapping[str, int]:
        wanted = set(device_ids)
        with self._lock:
            found = {d: self._cache[d] for d in wanted if d in self._cache}
        missing = sorted(wanted - found.keys())
        if missing:
            rows = session.execute(select(m.Device.id, m.Device.resident_id).where(m.Device.id.in_(missing)))
            fresh = {d: partition_of(rules_key(d, r), self.count) for d, r in rows}
            with self._lock:
                self._cache.update(fresh)
            found.update(fresh)
        return found

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


# --- one partition, as a HubCore runs it ----------------------------------------------------


@dataclass(frozen=True)
class PartitionSlot:
    """One partition of the residents as a HubCore's scope (hub.rules.runtime.RulesScope).

    Its events wait `settle_s` before they are ruled (`unruled`), so a device's messages that
    reached different hubs are ruled in device-time order, and the rules' clock stays that far
    behind (`rules_now`). A partition may move to another hub at any decision and its ruled
    events are never fed again: every decision saves (and versions) its state, so there is
    nothing to catch up on (`missed`)."""

    index: int
    count: int
    settle_s: float = 0.0
    saves_every_decision = True

    @property
    def state_key(self) -> str:
        return f"engine:{self.index}"

    def rules_now(self, now: float) -> float:
        """A tick must not run the engine's deadlines past events stored but not ruled yet, or a
        device heard half a second ago is declared offline by a deadline its message would move."""
        return now - self.settle_s

    def missed(self, session: Session, saved: dict[str, Any]) -> Sequence[m.Event]:
        return ()

    def state_extras(self, session: Session) -> dict[str, Any]:
        return {}

    def saved(self, session: Session) -> int:
        return self.bump(session)

    def restrict(self, registry: RegistrySnapshot) -> RegistrySnapshot:
        """The residents of this partition, their devices, and devices of nobody hashed here."""
        residents = {k: v for k, v in registry.residents.items() if partition_of(k, self.count) == self.index}
        devices = {
            k: d for k, d in registry.devices.items() if partition_of(rules_key(d.id, d.resident), self.count) == self.index
        }
        absences = tuple(a for a in registry.absences if a.resident in residents)
        return RegistrySnapshot(residents, devices, absences)

    def lock(self, session: Session) -> int:
        """Lock this partition for the transaction; returns the version of its saved engine state."""
        version = session.scalar(
            select(m.PartitionLease.state_version).where(m.PartitionLease.partition == self.index).with_for_update()
        )
        if version is None:
            _insert_missing_leases(session, [self.index])
            version = session.scalar(
                select(m.PartitionLease.state_version).where(m.PartitionLease.partition == self.index).with_for_update()
            )
        return int(version or 0)

    def bump(self, session: Session) -> int:
        """The engine state was saved in this transaction: count it."""
        row = session.get(m.PartitionLease, self.index)
        assert row is not None, "lock() first"
        row.state_version += 1
        return row.state_version

    def unruled(self, session: Session, limit: int, received_by: float) -> Sequence[m.Event]:
        """Events of this partition not ruled yet and received at or before `received_by`
        (the settle horizon, `HubCore.rules_now`, to which ticks also run), in device-time
        order (`at`, then id), the order `consume` feeds them in.

        Not by id: ids follow the order the hubs' batches committed in, and under a backlog a
        batch boundary then split one device's messages out of order (1,000 homes, 3 hubs: fixes
        outside, inside, outside 0.25 s apart were fed outside, outside: a false exit;
        tests/faults/test_consume_order.py). No FOR UPDATE on the events: the partition row
        locked by lock() already serialises every consumer of this partition. An event
        committed late is still unruled and is taken by the next round: the flag, unlike a
        watermark, skips none."""
        return session.scalars(
            select(m.Event)
            .where(m.Event.partition == self.index, m.Event.ruled.is_(False), m.Event.received_at <= received_by)
            .order_by(m.Event.at, m.Event.id)
            .limit(limit)
            .options(undefer(m.Event.day))
        ).all()

    def mark_ruled(self, session: Session, rows: Sequence[m.Event]) -> None:
        """Flag the rows ruled. Naming their channels and days too lets PostgreSQL update only
        the partitions of `events` that hold them (hub/storage/partitioning.py) instead of
        probing every one (2.6-3x slower). No session synchronisation: the rows are not read
        again, and evaluating the update against them cost a third of a consuming transaction."""
        if rows:
            stmt = (
                update(m.Event)
                .where(
                    m.Event.id.in_([row.id for row in rows]),
                    m.Event.channel.in_({row.channel for row in rows}),
                    m.Event.day.in_({row.day for row in rows}),
                )
                .values(ruled=True)
            )
            session.execute(stmt.execution_options(synchronize_session=False))


def has_backlog(session: Session, partition: int) -> bool:
    return bool(
        session.scalar(select(exists().where(m.Event.partition == partition, m.Event.ruled.is_(False))))
    )


def _insert(session: Session, table: object) -> object:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)  # type: ignore[arg-type]


def _insert_missing_leases(session: Session, partitions: Sequence[int]) -> None:
    stmt = _insert(session, m.PartitionLease).on_conflict_do_nothing()  # type: ignore[attr-defined]
    session.execute(stmt, [{"partition": p, "owner": None, "lease_until": 0.0, "state_version": 0} for p in partitions])


# --- who runs which partition ------------------------------------------------------------


@dataclass
class Leases:
    """The partitions `owner` runs: renewed every round, shared fairly among live hubs."""

    sessions: sessionmaker[Session]
    owner: str
    count: int
    lease_s: float

    def balance(self, now: float) -> list[int]:
        """Say we are alive, renew our leases, give back more than our share, take free or
        expired ones up to it. One short transaction; returns the partitions we own."""
        with self.sessions.begin() as session:
            self._present(session, now)
            live = session.scalar(select(func.count()).select_from(m.HubPresence).where(m.HubPresence.alive_until > now))
            share = math.ceil(self.count / max(1, int(live or 1)))
            rows = session.execute(select(m.PartitionLease.partition, m.PartitionLease.owner)).all()
            if len(rows) < self.count:
                _insert_missing_leases(session, [p for p in range(self.count) if p not in {r[0] for r in rows}])
            mine = sorted(p for p, o in rows if o == self.owner)
            keep, excess = mine[:share], mine[share:]
            if excess:
                session.execute(
                    update(m.PartitionLease)
                    .where(m.PartitionLease.partition.in_(excess), m.PartitionLease.owner == self.owner)
                    .values(owner=None, lease_until=0.0)
                )
                log.info("partitions released owner=%s partitions=%s share=%d", self.owner, excess, share)
            if keep:
                session.execute(
                    update(m.PartitionLease)
                    .where(m.PartitionLease.partition.in_(keep), m.PartitionLease.owner == self.owner)
                    .values(lease_until=now + self.lease_s)
                )
            taken: list[int] = []
            if len(keep) < share:
                free = session.scalars(
                    select(m.PartitionLease.partition)
                    .where((m.PartitionLease.owner.is_(None)) | (m.PartitionLease.lease_until < now))
                    .order_by(m.PartitionLease.partition)
                    .limit(share - len(keep))
                    .with_for_update(skip_locked=True)
                ).all()
                for row in session.scalars(select(m.PartitionLease).where(m.PartitionLease.partition.in_(free))):
                    if row.owner not in (None, self.owner):
                        log.warning("partition taken over partition=%d from=%s to=%s", row.partition, row.owner, self.owner)
                    row.owner, row.lease_until = self.owner, now + self.lease_s
                    taken.append(row.partition)
                if taken:
                    log.info("partitions taken owner=%s partitions=%s share=%d", self.owner, taken, share)
            return sorted(keep + taken)

    def release(self) -> None:
        """Graceful stop: hand every partition back at once, and leave."""
        with self.sessions.begin() as session:
            session.execute(
                update(m.PartitionLease).where(m.PartitionLease.owner == self.owner).values(owner=None, lease_until=0.0)
            )
            session.execute(delete(m.HubPresence).where(m.HubPresence.owner == self.owner))
        log.info("partitions released owner=%s (stopping)", self.owner)

    def _present(self, session: Session, now: float) -> None:
        row = session.get(m.HubPresence, self.owner)
        if row is None:
            session.execute(
                _insert(session, m.HubPresence).on_conflict_do_nothing(),  # type: ignore[attr-defined]
                [{"owner": self.owner, "alive_until": now + self.lease_s}],
            )
        else:
            row.alive_until = now + self.lease_s


# --- the facade ---------------------------------------------------------------------------


@dataclass
class PartitionTimes:
    next_tick_at: float = float("-inf")  # tick at once when a partition is acquired


class PartitionedCore:
    """`HubCore`'s API for the wiring, the web and SMS replies, over one core per partition."""

    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        clock: Clock,
        outputs: Outputs | None = None,
        *,
        owner: str | None = None,
        make_core: Callable[[PartitionSlot], HubCore] | None = None,
    ) -> None:
        count = config.scale.partitions
        if count is None:
            raise ValueError("scale.partitions is not set")
        self.config = config
        self.sessions = sessions
        self.clock = clock
        self.outputs = outputs or Outputs()
        self.count = count
        self.owner = owner or config.mqtt.client_id
        self.map = PartitionMap(count)
        self.partitioner = self.map  # ingestion stores each event with its device's partition
        self.leases = Leases(sessions, self.owner, count, config.scale.lease.total_seconds())
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)
        build = make_core or (lambda slot: HubCore(config, sessions, clock, self.outputs, scope=slot))
        self.cores = [build(PartitionSlot(p, count, config.scale.settle_ms / 1000)) for p in range(count)]
        self.owned: list[int] = []
        self._times = {p: PartitionTimes() for p in range(count)}
        self._lease_due = float("-inf")
        self._swept_at = float("-inf")
        self._ruled = 0  # events ruled by this hub since start

    # --- start and ingestion --------------------------------------------------------------

    def load(self) -> None:
        """Join the hubs: take a fair share of the partitions (their engines load on first use)."""
        self._balance(self.clock.now())

    def on_batch(self, session: Session, messages: list[DeviceMessage], now: float) -> list[AfterCommit]:
        """Ingestion hook: the events are stored with their partition; the owners rule them.
        Wakes this hub's scheduler (after the commit) for the partitions it owns."""
        return [self._notify] if messages else []

    def _notify(self) -> None:
        with self.lock:
            self.wake.notify_all()

    # --- the scheduler -------------------------------------------------------------------

    def run_scheduler(self, stop: threading.Event, max_wait_s: float = 1.0) -> None:
        """Consume, tick and sweep for the owned partitions until `stop`; then hand them back."""
        poll_s = min(max_wait_s, self.config.scale.poll_ms / 1000)
        while not stop.is_set():
            more = False
            try:
                more = self.round()
            except Exception:
                log.exception("partition round failed; retrying")
            with self.lock:
                if not stop.is_set() and not more:
                    self.wake.wait(poll_s)
        try:
            self.leases.release()
        except Exception:
            log.exception("could not release partitions; they move when their leases expire")

    def step(self) -> int:
        """Rounds until no owned partition has a settled backlog left (tests, and `tick`'s
        meaning). Returns the number of events ruled."""
        start = self._ruled
        while self.round():
            pass
        return self._ruled - start

    def round(self) -> bool:
        """One bounded round: leases, then at most one batch of events per owned partition,
        then the due deadlines of the partitions whose backlog is ruled, then the sweep.
        Bounded, and leases renewed between partitions when due, so that they are renewed and
        shared every `lease/3` even under a backlog (an unbounded round once lasted 28 s: longer
        than the lease; the hubs then took each other's partitions as expired, back and forth). Returns whether some partition has more events waiting."""
        now = self.clock.now()
        more = False
        for p in self._renew_if_due():  # _balance replaces the list, never changes it in place
            if p not in self._renew_if_due():
                continue  # handed back or taken over since the round began
            n = self._consume(p)
            self._ruled += n
            if n == CONSUME_BATCH:
                more = True  # deadlines wait until the events stored ahead of them are ruled
            else:
                self._tick_if_due(p)
        if self.outputs.dispatcher is not None and now - self._swept_at >= SWEEP_EVERY_S:
            with self.sessions.begin() as session:
                self.outputs.dispatcher.sweep(session, now)
            self._swept_at = now
        return more

    def _renew_if_due(self) -> list[int]:
        """Renew and share the leases when `lease/3` has passed — also between two partitions'
        batches, since a round over 16 partitions of a loaded machine can outlast a lease.
        Returns the partitions owned."""
        now = self.clock.now()
        if now >= self._lease_due:
            self._balance(now)
        return self.owned

    def _balance(self, now: float) -> None:
        owned = self.leases.balance(now)
        for p in set(owned) - set(self.owned):
            self._times[p].next_tick_at = float("-inf")
        if owned != self.owned:
            log.info("partitions owned owner=%s partitions=%s", self.owner, owned)
        self.owned = owned
        self._lease_due = now + self.leases.lease_s / 3
        self.map.forget()  # a device may have moved to another resident

    def _consume(self, p: int) -> int:
        """One batch of partition p's settled events, if it has any."""
        with self.sessions() as session:
            if not has_backlog(session, p):
                return 0
        n = self.cores[p].consume(CONSUME_BATCH)
        if n:
            self._times[p].next_tick_at = float("-inf")  # new deadlines may be due
        return n

    def _tick_if_due(self, p: int) -> None:
        core = self.cores[p]
        seen = core.rules_now()  # deadlines are judged up to the settle horizon, like consume
        if seen < self._times[p].next_tick_at:
            return
        core.tick(sweep=False)
        due = core.engine.next_deadline() if core.engine is not None else None
        self._times[p].next_tick_at = min(due if due is not None else math.inf, seen + RELOAD_CHECK_S)

    def tick(self) -> list[Action]:
        """Tick every owned partition now (tests, and the same meaning as HubCore.tick)."""
        actions: list[Action] = []
        for p in self.owned:
            actions += self.cores[p].tick(sweep=False)
        if self.outputs.dispatcher is not None:
            with self.sessions.begin() as session:
                self.outputs.dispatcher.sweep(session, self.clock.now())
        return actions

    # --- operators and responders: routed to the alert's or resident's partition -----------

    def acknowledge(self, alert_id: str, actor: str, channel: str) -> AlertView:
        return self._core_of_alert(alert_id).acknowledge(alert_id, actor, channel)

    def on_site(self, alert_id: str, actor: str, channel: str) -> AlertView:
        return self._core_of_alert(alert_id).on_site(alert_id, actor, channel)

    def resolve(self, alert_id: str, outcome: str, actor: str, channel: str) -> AlertView:
        return self._core_of_alert(alert_id).resolve(alert_id, outcome, actor, channel)

    def request_backup(self, alert_id: str, actor: str, channel: str) -> AlertView:
        return self._core_of_alert(alert_id).request_backup(alert_id, actor, channel)

    def open_manual(self, resident_id: str, severity: str, note: str, actor: str, channel: str) -> AlertView:
        return self.cores[partition_of(resident_id, self.count)].open_manual(resident_id, severity, note, actor, channel)

    def add_absence(self, resident_id: str, start_at: float, until_at: float, note: str, actor: str) -> int:
        return self.cores[partition_of(resident_id, self.count)].add_absence(resident_id, start_at, until_at, note, actor)

    def remove_absence(self, absence_id: int, actor: str) -> None:
        with self.sessions() as session:
            row = session.get(m.Absence, absence_id)
            if row is None:
                raise LookupError(f"no absence {absence_id}")
            resident_id = row.resident_id
        self.cores[partition_of(resident_id, self.count)].remove_absence(absence_id, actor)

    def change_registry(self, edit: Callable[[Session], RegistryEdit]) -> RegistryEdit:
        """A workspace edit in its own transaction, then each partition this hub runs adopts the
        residents and devices it touched (other hubs adopt them from the registry's change log)."""
        with self.sessions.begin() as session:
            result = edit(session)
        self.map.forget()
        for p in self.owned:
            self.cores[p].adopt_registry_entries(result.residents, result.devices)
        return result

    def reload_registry(self) -> None:
        """Adopt registry changes in the partitions this hub runs (others load it when taken over)."""
        self.map.forget()
        for p in self.owned:
            self.cores[p].reload_registry()

    # --- what the SMS provider answered: decided by the alert's partition ----------------------

    def on_send_outcome(self, outcome: SendOutcome) -> bool:
        return self._core_of_message(outcome.alert_id).on_send_outcome(outcome)

    def on_receipt(self, update: StatusUpdate) -> bool:
        with self.sessions() as session:
            alert_id = session.scalar(select(m.Notification.alert_id).where(m.Notification.provider_sid == update.sid))
        return self._core_of_message(alert_id).on_receipt(update)

    def _core_of_message(self, alert_id: str | None) -> HubCore:
        """A message of an alert is decided with its alert; one without (a digest, a reply's
        confirmation) touches no escalation, and any partition's step records it."""
        return self._core_of_alert(alert_id) if alert_id is not None else self.cores[0]

    def _core_of_alert(self, alert_id: str) -> HubCore:
        with self.sessions() as session:
            row = session.get(m.Alert, alert_id)
            if row is None:
                raise AlertNotFound(alert_id)
            key = row.resident_id if row.resident_id is not None else "device:" + (row.device_id or "")
        return self.cores[partition_of(key, self.count)]

    @property
    def rule_failures(self) -> int:
        """Events isolated because a rule raised on them, over this hub's partitions since start."""
        return sum(core.rule_failures for core in self.cores)


__all__ = [
    "Leases",
    "PartitionMap",
    "PartitionSlot",
    "PartitionedCore",
    "partition_of",
    "rules_key",
]
