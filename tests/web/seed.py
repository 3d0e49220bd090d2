"""A small community for the web tests and the screenshots: residents in every person state,
devices in every health, open and resolved alerts with messages, users and API tokens per role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from hub import access
from hub.storage.models import (
    Absence,
    Alert,
    AlertTransition,
    Community,
    Contact,
    Device,
    DeviceState,
    Event,
    Grid,
    Notification,
    Resident,
    Responder,
    Zone,
)

# 2026-11-26 14:00 in Harbin.
NOW = datetime(2026, 11, 26, 14, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
PASSWORD = "correct horse battery"
ROLES = ("admin", "operator", "viewer")
HOME_1 = (45.7512, 126.6421)
HOME_2 = (45.7540, 126.6380)


@dataclass(frozen=True)
class Seeded:
    now: float
    tokens: dict[str, str]  # role -> bearer token
    open_alert: str  # critical SOS of r-0001
    acked_alert: str  # inactivity of r-0003, acknowledged
    low_alert: str  # low battery of tag-0001
    resolved_alert: str


def _alert(id_: str, code: str, kind: str, severity: str, resident: str, device: str | None, opened: float, reason: str, **kw: object) -> Alert:
    return Alert(id=id_, code=code, kind=kind, severity=severity, state=kw.pop("state", "open"), resident_id=resident,
                 device_id=device, reason=reason, opened_at=opened, **kw)  # fmt: skip


def seed(sessions: sessionmaker[Session], now: float = NOW) -> Seeded:
    with sessions() as s:
        s.add(Community(id="xuanxin", name="宣信社区", timezone="Asia/Shanghai"))
        s.add_all([Grid(id="xuanxin-g01", community_id="xuanxin", name="第一网格"), Grid(id="xuanxin-g02", community_id="xuanxin", name="第二网格")])
        s.flush()
        s.add_all([
            Responder(id="wang", name="王网格员", phone="+8613800000001", role="grid_worker", home_lat=45.7531, home_lon=126.6440),
            Responder(id="zhao", name="赵组长", phone="+8613800000002", role="grid_leader"),
        ])  # fmt: skip
        residents = [
            Resident(id="r-0001", name="李奶奶", grid_id="xuanxin-g01", address="宣信街12号3单元501", home_lat=HOME_1[0], home_lon=HOME_1[1], share_location=False,
                     contacts=[Contact(name="李明", phone="+8613900000001", relation="son")],
                     zones=[Zone(name="小区周边", center_lat=HOME_1[0], center_lon=HOME_1[1], radius_m=500)]),
            Resident(id="r-0002", name="张大爷", grid_id="xuanxin-g01", address="宣信街8号1单元302", home_lat=HOME_2[0], home_lon=HOME_2[1], share_location=True,
                     contacts=[Contact(name="张华", phone="+8613900000002", relation="daughter")],
                     zones=[Zone(name="菜市场路线", polygon=[[45.752, 126.636], [45.757, 126.636], [45.757, 126.642], [45.752, 126.642]])]),
            Resident(id="r-0003", name="王奶奶", grid_id="xuanxin-g02", address="宣信街20号2单元101", home_lat=45.7490, home_lon=126.6460),
            Resident(id="r-0004", name="陈爷爷", grid_id="xuanxin-g02", address="宣信街3号4单元602", home_lat=45.7505, home_lon=126.6500),
        ]  # fmt: skip
        s.add_all(residents)
        s.flush()
        s.add_all([
            Device(id="cat-0001", kind="pingan_cat", resident_id="r-0001"),
            Device(id="tag-0001", kind="gps_tag", resident_id="r-0001"),
            Device(id="cat-0002", kind="pingan_cat", resident_id="r-0002"),
            Device(id="door-0002", kind="door_sensor", resident_id="r-0002"),
            Device(id="tag-0002", kind="gps_tag", resident_id="r-0002"),
            Device(id="cat-0003", kind="pingan_cat", resident_id="r-0003"),
            Device(id="cat-0004", kind="pingan_cat", resident_id="r-0004"),
        ])  # fmt: skip
        s.flush()
        s.add_all([
            DeviceState(device_id="cat-0001", online=True, last_seen_at=now - 120, last_activity_at=now - 25 * 60, battery=None, rssi=-70, fw="1.4.2"),
            DeviceState(device_id="tag-0001", online=True, last_seen_at=now - 200, battery=18, last_lat=45.7513, last_lon=126.6425, last_acc=12, last_fix_at=now - 200),
            DeviceState(device_id="cat-0002", online=True, last_seen_at=now - 60, last_activity_at=now - 12 * 60, rssi=-65, fw="1.4.2"),
            DeviceState(device_id="door-0002", online=True, last_seen_at=now - 300, last_activity_at=now - 40 * 60),
            DeviceState(device_id="tag-0002", online=True, last_seen_at=now - 90, battery=76, last_lat=45.7551, last_lon=126.6392, last_acc=8, last_fix_at=now - 90),
            DeviceState(device_id="cat-0003", online=False, last_seen_at=now - 5 * 3600, last_activity_at=now - 9 * 3600),
            DeviceState(device_id="cat-0004", online=True, last_seen_at=now - 100, last_activity_at=now - 3 * 86400),
        ])  # fmt: skip
        s.add(Absence(resident_id="r-0004", start_at=now - 3 * 86400, until_at=now + 2 * 86400, note="住院观察", created_by="operator"))
        _events(s, now)
        alerts = [
            _alert("al-sos-1", "A7K2", "sos", "critical", "r-0001", "cat-0001", now - 300, "SOS 按键 (cat-0001)"),
            _alert("al-ina-3", "B3M9", "inactivity", "high", "r-0003", "cat-0003", now - 3 * 3600, "9 小时无活动；通常 08:15 前有活动",
                   state="acknowledged", acknowledged_at=now - 2.5 * 3600, acknowledged_by="wang", first_notified_at=now - 3 * 3600 + 5),
            _alert("al-bat-1", "C5P1", "low_battery", "low", "r-0001", "tag-0001", now - 6 * 3600, "电量 18%"),
            _alert("al-fall-2", "D8Q4", "fall", "critical", "r-0002", "cat-0002", now - 10 * 86400, "跌倒检测",
                   state="resolved", first_notified_at=now - 10 * 86400 + 3, acknowledged_at=now - 10 * 86400 + 60, acknowledged_by="wang",
                   on_site_at=now - 10 * 86400 + 1500, resolved_at=now - 10 * 86400 + 3600, outcome="assisted"),
            _alert("al-ina-2", "E2R6", "inactivity", "high", "r-0002", "cat-0002", now - 12 * 86400, "6 小时无活动",
                   state="resolved", acknowledged_at=now - 12 * 86400 + 300, acknowledged_by="wang", resolved_at=now - 12 * 86400 + 1800, outcome="false_alarm"),
            _alert("al-ina-1", "F4S8", "inactivity", "high", "r-0001", "cat-0001", now - 15 * 86400, "6 小时无活动",
                   state="resolved", acknowledged_at=now - 15 * 86400 + 120, acknowledged_by="wang", on_site_at=now - 15 * 86400 + 2400,
                   resolved_at=now - 15 * 86400 + 3000, outcome="ok"),
        ]  # fmt: skip
        s.add_all(alerts)
        s.flush()
        s.add_all([
            Notification(alert_id="al-sos-1", purpose="alert", step=0, role="grid_worker", recipient_id="wang", recipient_name="王网格员", phone="+8613800000001",
                         body="【平安】李奶奶 SOS", state="delivered", attempts=1, created_at=now - 299, sent_at=now - 297, delivered_at=now - 290),
            Notification(alert_id="al-sos-1", purpose="alert", step=0, role="family", recipient_name="李明", phone="+8613900000001",
                         body="【平安】李奶奶 SOS", state="sent", attempts=1, created_at=now - 299, sent_at=now - 296),
            Notification(alert_id="al-ina-3", purpose="alert", step=0, role="grid_worker", recipient_id="wang", recipient_name="王网格员", phone="+8613800000001",
                         body="【平安】王奶奶 9小时无活动", state="failed", attempts=5, created_at=now - 3 * 3600, error="30003 unreachable"),
        ])  # fmt: skip
        s.add(AlertTransition(alert_id="al-ina-3", state="acknowledged", at=now - 2.5 * 3600, by="wang", channel="sms"))
        tokens = {}
        for role in ROLES:
            access.add_user(s, role, role, PASSWORD, now)
            tokens[role] = access.create_token(s, f"{role}-bot", role, now)
        s.commit()
    return Seeded(now, tokens, "al-sos-1", "al-ina-3", "al-bat-1", "al-fall-2")


def _events(s: Session, now: float) -> None:
    """14 days of routine motion for r-0001/r-0002, a falling battery on tag-0001, a walk of tag-0002."""
    rows = []
    seq = 0
    day0 = now - 14 * 86400
    for day in range(14):
        for hour in (7, 8, 9, 11, 12, 15, 18, 19, 20):
            for device, offset in (("cat-0001", 0), ("cat-0002", 600)):
                seq += 1
                at = day0 + day * 86400 + (hour - 14) * 3600 + offset + 86400 * 0
                if at < now:
                    rows.append(Event(device_id=device, channel="event", type="motion", seq=seq, device_ts=at, received_at=at, at=at,
                                      payload=json.dumps({"ts": at, "seq": seq, "type": "motion"})))  # fmt: skip
    for i in range(15):
        seq += 1
        at = now - (14 - i) * 86400 - 600
        battery = 60 - 3 * i
        rows.append(Event(device_id="tag-0001", channel="heartbeat", seq=seq, device_ts=at, received_at=at, at=at, battery=battery,
                          payload=json.dumps({"ts": at, "seq": seq, "battery": battery})))  # fmt: skip
    for i in range(12):
        seq += 1
        at = now - 3600 + i * 300
        lat, lon = HOME_2[0] + 0.0001 * i, HOME_2[1] + 0.0001 * i
        rows.append(Event(device_id="tag-0002", channel="gps", seq=seq, device_ts=at, received_at=at, at=at, lat=lat, lon=lon, acc=10.0,
                          payload=json.dumps({"ts": at, "seq": seq, "lat": lat, "lon": lon, "acc": 10.0})))  # fmt: skip
    s.add_all(rows)
