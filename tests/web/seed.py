"""A small community for the web tests and the screenshots, produced by the real hub.

The registry is imported with the real importer (`hub.registry.importer`). Everything else —
events, device state, alerts, person states, SMS notifications — comes from device messages fed
through the hub's own ingestion writer (`IngestService.writer`, the code path behind MQTT),
its rules core (`HubCore`) and its outbox sender, on a `VirtualClock`:

- 14 days of history (daily routine motion, a GPS tag's battery draining, daily heartbeats), with
  a fall of 张大爷 ten days ago (assisted) and an SOS pressed by mistake twelve days ago (false
  alarm), both resolved through the core's commands;
- the live day, 06:00 → 14:00 in Harbin: hourly heartbeats, motion, a walk of 张大爷's tag;
  王奶奶 silent since 07:20, so an inactivity alert at 13:20 that the grid leader acknowledges
  by SMS at 13:45;
  李奶奶's tag battery at 18 % (low alert) and her SOS at 13:55, not yet acknowledged.

孙奶奶 has no device installed yet, so nobody can tell how she is (person state `unknown`).

SMS go through the console provider, except that one number has opted out (`OptedOut`, a
provider wrapper: the console provider accepts everything), so failed deliveries show too.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub import access
from hub.dispatch.providers.base import ProviderError, SendResult
from hub.dispatch.providers.console import ConsoleProvider
from hub.ingest.batch import Received
from hub.registry.file import load_registry_file
from hub.registry.importer import import_document, known_ids
from hub.storage.models import Absence, Alert, User

TZ = ZoneInfo("Asia/Shanghai")
# 2026-11-26 14:00 in Harbin.
NOW = datetime(2026, 11, 26, 14, 0, tzinfo=TZ).timestamp()
HOUR, DAY = 3600.0, 86400.0
PASSWORD = "correct horse battery"
ROLES = ("admin", "operator", "viewer")
HOME_1 = (45.7512, 126.6421)
HOME_2 = (45.7540, 126.6380)
OPTED_OUT = "+8613800000005"  # 刘网格员 (grid 2) has opted out of SMS: deliveries to him fail for good
ROUTINE_HOURS = (7, 8, 9, 11, 12, 15, 18, 19, 20)

REGISTRY = f"""
communities: [{{id: xuanxin, name: 宣信社区, timezone: Asia/Shanghai}}]
grids:
  - {{id: xuanxin-g01, community: xuanxin, name: 第一网格}}
  - {{id: xuanxin-g02, community: xuanxin, name: 第二网格}}
responders:
  - {{id: wang, name: 王网格员, phone: "+8613800000001", role: grid_worker, grids: [xuanxin-g01], home: {{lat: 45.7531, lon: 126.6440}}}}
  - {{id: liu, name: 刘网格员, phone: "{OPTED_OUT}", role: grid_worker, grids: [xuanxin-g02]}}
  - {{id: zhao, name: 赵组长, phone: "+8613800000002", role: grid_leader, grids: [xuanxin-g01, xuanxin-g02]}}
  - {{id: ops, name: 值班员, phone: "+8613800000004", role: operator}}
residents:
  - id: r-0001
    name: 李奶奶
    grid: xuanxin-g01
    address: 宣信街12号3单元501
    home: {{lat: {HOME_1[0]}, lon: {HOME_1[1]}}}
    contacts: [{{name: 李明, phone: "+8613900000001", relation: son}}]
    zones: [{{name: 小区周边, circle: {{lat: {HOME_1[0]}, lon: {HOME_1[1]}, radius_m: 500}}}}]
  - id: r-0002
    name: 张大爷
    grid: xuanxin-g01
    address: 宣信街8号1单元302
    home: {{lat: {HOME_2[0]}, lon: {HOME_2[1]}}}
    share_location: true
    contacts: [{{name: 张华, phone: "+8613900000002", relation: daughter}}]
    zones: [{{name: 菜市场路线, polygon: [[45.752, 126.636], [45.757, 126.636], [45.757, 126.642], [45.752, 126.642]]}}]
  - {{id: r-0003, name: 王奶奶, grid: xuanxin-g02, address: 宣信街20号2单元101, home: {{lat: 45.7490, lon: 126.6460}}}}
  - {{id: r-0004, name: 陈爷爷, grid: xuanxin-g02, address: 宣信街3号4单元602, home: {{lat: 45.7505, lon: 126.6500}}}}
  - {{id: r-0005, name: 孙奶奶, grid: xuanxin-g02, address: 宣信街5号1单元201, home: {{lat: 45.7480, lon: 126.6410}}}}  # no device yet: unknown
devices:
  - {{id: cat-0001, kind: pingan_cat, resident: r-0001, heartbeat_s: 3600}}
  - {{id: tag-0001, kind: gps_tag, resident: r-0001, heartbeat_s: 86400}}
  - {{id: cat-0002, kind: pingan_cat, resident: r-0002, heartbeat_s: 3600}}
  - {{id: door-0002, kind: door_sensor, resident: r-0002, heartbeat_s: 86400}}
  - {{id: tag-0002, kind: gps_tag, resident: r-0002, heartbeat_s: 86400}}
  - {{id: cat-0003, kind: pingan_cat, resident: r-0003, heartbeat_s: 3600}}
  - {{id: cat-0004, kind: pingan_cat, resident: r-0004, heartbeat_s: 3600}}
"""
DEVICES = ("cat-0001", "tag-0001", "cat-0002", "door-0002", "tag-0002", "cat-0003", "cat-0004")


class OptedOut(ConsoleProvider):
    """The console provider, except that numbers in `refused` answer like an opted-out handset."""

    def __init__(self, refused: frozenset[str] = frozenset({OPTED_OUT})) -> None:
        super().__init__(echo=False)
        self.refused = refused

    def send(
        self, to: str, body: str, validity_s: int, status_callback: str | None, template: Any = None
    ) -> SendResult:
        if to in self.refused:
            raise ProviderError(False, "21610", "the recipient has opted out")
        return super().send(to, body, validity_s, status_callback, template)


@dataclass(frozen=True)
class Seeded:
    now: float
    tokens: dict[str, str]  # role -> bearer token
    open_alert: str  # critical SOS of r-0001, 5 minutes old, nobody on it
    acked_alert: str  # inactivity of r-0003, acknowledged by 赵组长 by SMS
    low_alert: str  # low battery of tag-0001
    resolved_alert: str  # fall of r-0002 ten days ago, assisted
    false_alarm: str  # SOS of r-0002 twelve days ago, pressed by mistake


class Feeder:
    """Device messages into the hub's ingestion writer, as MQTT would deliver them."""

    def __init__(self, hub: Any, root: str = "pingan/v1") -> None:
        self.hub, self.root = hub, root
        self.seq: dict[str, int] = defaultdict(int)
        self.mid = 0

    def message(self, at: float, device: str, channel: str, **payload: Any) -> Received:
        self.seq[device] += 1
        self.mid += 1
        body = json.dumps({"ts": at, "seq": self.seq[device], **payload}).encode()
        return Received(f"{self.root}/dev/{device}/{channel}", body, len(body), self.mid, 1, at, 0)

    def deliver(self, at: float, messages: list[Received], tick: bool = True) -> None:
        """Set the clock to `at`, write the batch (rules run in its transaction), then let the
        scheduler fire what fell due and the outbox send what was queued."""
        self.hub.clock.set(at)
        if messages:
            # A command that queued texts (an acknowledgement...) rang the outbox bell, and the main
            # writer gives way to the bell for up to 2 s of wall time until the sender thread
            # claims. No sender thread runs here (the pass below is the claim): the write would
            # wait the 2 s for nothing, then store the same rows.
            self.hub.sender.bell.pending = False
            assert self.hub.ingest.writer.write(sorted(messages, key=lambda r: r.received_at))
        if tick:
            self.hub.core.tick()
            while self.hub.sender.run_once():
                pass

    def at(self, at: float) -> None:
        self.deliver(at, [])


def local(day: int, hour: float, now: float = NOW) -> float:
    """`hour` o'clock (Harbin) `day` days from the day of `now` (0 today, -1 yesterday)."""
    midnight = datetime.fromtimestamp(now, TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp() + day * DAY + hour * HOUR


def import_registry(sessions: sessionmaker[Session], text: str = REGISTRY) -> None:
    """As `pingan import` does: a file may name communities, grids and residents stored before."""
    with tempfile.TemporaryDirectory() as tmp, sessions.begin() as session:
        path = Path(tmp) / "registry.yaml"
        path.write_text(text, encoding="utf-8")
        import_document(session, load_registry_file(path, known_ids(session)))


def seed(hub: Any, now: float = NOW) -> Seeded:
    """Import the registry, add users and tokens, then play the history and the live day."""
    import_registry(hub.sessions)
    with hub.sessions.begin() as s:
        tokens = {}
        for role in ROLES:
            _add_user(s, role, now - 15 * DAY)
            tokens[role] = access.create_token(s, f"{role}-bot", role, now - 15 * DAY)
    hub.clock.set(local(-14, 6, now))
    hub.core.load()
    feed = Feeder(hub)
    start = local(-14, 6, now)
    feed.deliver(start, [feed.message(start, d, "status", state="online") for d in DEVICES])
    _history(hub, feed, now)
    _today(hub, feed, now)
    ids = _alert_ids(hub.sessions)
    return Seeded(now, tokens, ids["sos", "r-0001"], ids["inactivity", "r-0003"], ids["low_battery", "r-0001"],
                  ids["fall", "r-0002"], ids["sos", "r-0002"])  # fmt: skip


_password_hashes: dict[str, str] = {}


def _add_user(session: Session, role: str, at: float) -> None:
    """`access.add_user`, hashing PASSWORD once per process (argon2 is slow on purpose; the
    seed runs for every test)."""
    if role not in _password_hashes:
        _password_hashes[role] = access.add_user(session, role, role, PASSWORD, at).password_hash
        return
    session.add(User(name=role, role=role, password_hash=_password_hashes[role], created_at=at))


def _history(hub: Any, feed: Feeder, now: float) -> None:
    for day in range(-14, 0):
        batch = [feed.message(local(day, 6.5, now), d, "heartbeat", battery=90 if d != "tag-0001" else 60 - 3 * (day + 14))
                 for d in DEVICES]  # fmt: skip
        batch += [feed.message(local(day, hour, now), d, "heartbeat") for hour in range(0, 24, 2) for d in DEVICES if d.startswith("cat")]
        for hour in ROUTINE_HOURS:
            batch.append(feed.message(local(day, hour, now), "cat-0001", "event", type="motion"))
            batch.append(feed.message(local(day, hour + 1 / 6, now), "cat-0002", "event", type="motion"))
            batch.append(feed.message(local(day, hour + 0.3, now), "cat-0003", "event", type="motion"))
            batch.append(feed.message(local(day, hour + 0.4, now), "cat-0004", "event", type="motion"))
        feed.deliver(local(day, 21, now), batch)
        if day == -12:
            _incident(hub, feed, local(day, 21.5, now), "sos", "false_alarm", on_site=False)
        if day == -10:
            _incident(hub, feed, local(day, 21.5, now), "fall", "assisted", on_site=True)
    feed.at(local(-1, 23.9, now))
    # 陈爷爷 went into hospital three days ago (before the registry knew of any absence).
    hub.core.add_absence("r-0004", now - 3 * DAY, now + 2 * DAY, "住院观察", "operator")


def _incident(hub: Any, feed: Feeder, at: float, kind: str, outcome: str, on_site: bool) -> None:
    feed.deliver(at, [feed.message(at, "cat-0002", "event", type=kind)])
    alert = _newest(hub.sessions, "r-0002", kind)
    feed.at(at + 60)
    hub.core.acknowledge(alert, "wang", "sms")
    if on_site:
        feed.at(at + 1500)
        hub.core.on_site(alert, "wang", "web")
    feed.at(at + 1800 if not on_site else at + 3600)
    hub.core.resolve(alert, outcome, "wang", "web")
    feed.at(hub.clock.now())  # the "resolved" texts go out now


def _today(hub: Any, feed: Feeder, now: float) -> None:
    for hour in range(6, 14):
        at = local(0, hour, now)
        batch = [feed.message(at, d, "heartbeat", battery=90 if d != "tag-0001" else 21) for d in DEVICES]
        if hour in ROUTINE_HOURS:
            batch.append(feed.message(at + 60, "cat-0001", "event", type="motion"))
            batch.append(feed.message(at + 600, "cat-0002", "event", type="motion"))
            batch.append(feed.message(at + 900, "cat-0004", "event", type="motion"))
        if hour == 7:
            batch.append(feed.message(at + 1200, "cat-0003", "event", type="motion"))  # her last, at 07:20
        feed.deliver(at + 900, batch)
        if hour == 13:
            feed.at(at + 1200)  # 王奶奶's silence falls due at 13:20
            feed.at(at + 2700)
            hub.core.acknowledge(_newest(hub.sessions, "r-0003", "inactivity"), "zhao", "sms")
    walk = [feed.message(now - HOUR + i * 300, "tag-0002", "gps", lat=HOME_2[0] + 0.0001 * i, lon=HOME_2[1] + 0.0001 * i, acc=10.0)
            for i in range(12)]  # fmt: skip
    walk.append(feed.message(now - 48 * 60, "cat-0002", "event", type="motion"))
    walk.append(feed.message(now - 35 * 60, "cat-0001", "event", type="motion"))
    walk.append(feed.message(now - 20 * 60, "tag-0001", "heartbeat", battery=18))
    walk.append(feed.message(now - 12 * 60, "cat-0002", "event", type="motion"))
    feed.deliver(now - 10 * 60, walk)
    feed.deliver(now - 5 * 60, [feed.message(now - 5 * 60, "cat-0001", "event", type="sos")])
    feed.at(now)


def _newest(sessions: sessionmaker[Session], resident: str, kind: str) -> str:
    with sessions() as s:
        found = s.scalars(select(Alert.id).where(Alert.resident_id == resident, Alert.kind == kind).order_by(Alert.opened_at.desc())).first()
    assert found is not None, f"the hub raised no {kind} alert for {resident}"
    return found


def _alert_ids(sessions: sessionmaker[Session]) -> Mapping[tuple[str, str], str]:
    with sessions() as s:
        rows = s.execute(select(Alert.kind, Alert.resident_id, Alert.id).order_by(Alert.opened_at)).all()
    return {(kind, resident): id_ for kind, resident, id_ in rows}


def absence_ids(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as s:
        return list(s.scalars(select(Absence.id).order_by(Absence.id)))
