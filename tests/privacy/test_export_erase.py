"""`pingan export` and `pingan erase` on SQLite and PostgreSQL: the export holds everything about
the resident and nothing about others; the erasure leaves no trace of the person in any table
but keeps their alerts, anonymised, for the statistics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from dashboards.family_links import create_family_link, record_family_view, resolve_family_token
from hub.operations.privacy import ErasureRefused, erase_resident, export_resident
from hub.rules.runtime import ENGINE_STATE_KEY
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions
from pingan.cli import app

NOW = 1_790_000_000.0
REPO = Path(__file__).resolve().parents[2]
SUBJECT = "r-0001"
NAME, ADDRESS, SON_PHONE = "李奶奶", "宣信街12号3单元501", "+8613900000001"


def _event(device: str, seq: int, channel: str, **kw: object) -> m.Event:
    at = NOW - 3600 + seq
    return m.Event(device_id=device, channel=channel, seq=seq, device_ts=at, received_at=at, at=at,
                   payload=json.dumps({"ts": at, "seq": seq, **{k: v for k, v in kw.items() if k != "type"}}), **kw)


def _seed(sessions: sessionmaker[Session]) -> str:
    with sessions.begin() as s:
        s.add(m.Community(id="xuanxin", name="宣信社区"))
        s.flush()
        s.add(m.Grid(id="g1", community_id="xuanxin", name="第一网格"))
        s.add(m.Responder(id="wang", name="王网格员", phone="+8613800000001", role="grid_worker"))
        s.flush()
        s.add_all([
            m.Resident(id=SUBJECT, name=NAME, grid_id="g1", address=ADDRESS, home_lat=45.7512, home_lon=126.6421,
                       inactivity={"day_hours": 5},
                       contacts=[m.Contact(name="李明", phone=SON_PHONE, relation="son")],
                       zones=[m.Zone(name="小区周边", center_lat=45.7512, center_lon=126.6421, radius_m=500)]),
            m.Resident(id="r-0002", name="张大爷", grid_id="g1", address="宣信街8号", home_lat=45.754, home_lon=126.638,
                       contacts=[m.Contact(name="张华", phone="+8613900000002", relation="daughter")]),
        ])
        s.flush()
        s.add_all([m.Device(id="cat-0001", kind="pingan_cat", resident_id=SUBJECT),
                   m.Device(id="tag-0001", kind="gps_tag", resident_id=SUBJECT),
                   m.Device(id="cat-0002", kind="pingan_cat", resident_id="r-0002")])
        s.flush()
        s.add_all([m.DeviceState(device_id="tag-0001", last_lat=45.7513, last_lon=126.6425, last_fix_at=NOW - 60),
                   m.DeviceState(device_id="cat-0002", last_seen_at=NOW - 60)])
        s.add_all([_event("cat-0001", 1, "event", type="sos"), _event("tag-0001", 2, "gps", lat=45.7513, lon=126.6425),
                   _event("cat-0001", 3, "heartbeat", battery=80), _event("cat-0002", 4, "event", type="motion")])
        s.add(m.Quarantine(topic="pingan/v1/dev/tag-0001/gps", device_id="tag-0001", reason="out_of_range",
                           message="lat 95", raw=b'{"lat":95}', received_at=NOW - 100))
        s.add_all([
            m.Alert(id="al-1", code="A7K2", kind="sos", severity="critical", state="resolved", resident_id=SUBJECT,
                    device_id="cat-0001", reason=f"{NAME} SOS", opened_at=NOW - 3000, first_notified_at=NOW - 2995,
                    acknowledged_at=NOW - 2900, acknowledged_by="wang", resolved_at=NOW - 2000, outcome="assisted"),
            m.Alert(id="al-2", code="B3M9", kind="inactivity", severity="high", state="resolved", resident_id="r-0002",
                    device_id="cat-0002", reason="张大爷 6小时无活动", opened_at=NOW - 5000, resolved_at=NOW - 4000,
                    outcome="false_alarm"),
        ])
        s.flush()
        s.add_all([
            m.AlertTransition(alert_id="al-1", state="acknowledged", at=NOW - 2900, by="wang", channel="sms",
                              note=f"去{ADDRESS}"),
            m.Notification(alert_id="al-1", purpose="alert", role="family", recipient_name="李明", phone=SON_PHONE,
                           body=f"【平安】{NAME}({ADDRESS})SOS。码A7K2", state="delivered", created_at=NOW - 2999,
                           sent_at=NOW - 2995, delivered_at=NOW - 2990, template="sos",
                           params={"name": NAME, "address": ADDRESS, "code": "A7K2", "link": "h/s/Ab3xK9"}),
            m.ShortLink(code="Ab3xK9", url="https://h/r/token", expires_at=NOW + 3600, alert_id="al-1"),
            m.Notification(alert_id="al-1", purpose="alert", role="grid_worker", recipient_id="wang",
                           recipient_name="王网格员", phone="+8613800000001", body=f"【平安】{NAME} SOS。码A7K2",
                           state="delivered", created_at=NOW - 2999),
            m.Notification(alert_id="al-2", purpose="alert", role="grid_worker", recipient_id="wang",
                           recipient_name="王网格员", phone="+8613800000001", body="【平安】张大爷 6小时无活动",
                           state="delivered", created_at=NOW - 4999),
            m.Absence(resident_id=SUBJECT, start_at=NOW - 86400, until_at=NOW - 3600, note="住院", created_by="operator"),
            m.ResidentStatus(resident_id=SUBJECT, state="home_active", since_at=NOW - 100),
            m.Audit(at=NOW - 2900, actor="wang", channel="sms", action="alert.ack", alert_id="al-1", resident_id=SUBJECT),
            m.EngineState(key=ENGINE_STATE_KEY, updated_at=NOW, data={"engine": {
                "residents": {SUBJECT: {"last_activity": NOW - 100}, "r-0002": {"last_activity": NOW - 60}},
                "devices": {"tag-0001": {"last_lat": 45.7513}, "cat-0002": {}},
                "deadlines": [["r:" + SUBJECT, NOW + 3600], ["d:tag-0001", NOW + 900], ["d:cat-0002", NOW + 900]],
            }, "last_event_id": 4}),
            m.EngineUnit(scope="engine:3", unit=SUBJECT, data='{"r": {"last_activity": 1}, "d": {"tag-0001": {}}, "t": {}}'),
            m.EngineUnit(scope="engine:1", unit="r-0002", data='{"d": {"cat-0002": {}}, "t": {}}'),
        ])
    with sessions() as s:
        link, token = create_family_link(s, SUBJECT, NOW - 500, "operator", "儿子")
        record_family_view(s, link, NOW - 400, "127.0.0.1")
    return token


@pytest.fixture
def db(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url, writer=True)
    yield engine, make_sessions(engine)
    engine.dispose()


def test_export_holds_everything_about_the_resident_and_nothing_else(db: tuple[Engine, sessionmaker[Session]]) -> None:
    _, sessions = db
    _seed(sessions)
    doc = json.loads(json.dumps(export_resident(sessions, SUBJECT, NOW, "cli:test"), ensure_ascii=False))
    assert doc["resident"]["name"] == NAME and doc["resident"]["address"] == ADDRESS
    assert doc["resident"]["inactivity"] == {"day_hours": 5}
    assert [c["phone"] for c in doc["resident"]["contacts"]] == [SON_PHONE]
    assert [z["name"] for z in doc["resident"]["zones"]] == ["小区周边"]
    assert [d["id"] for d in doc["devices"]] == ["cat-0001", "tag-0001"]
    assert doc["devices"][1]["state"]["last_lat"] == 45.7513
    assert sorted(e["seq"] for e in doc["events"]) == [1, 2, 3]  # not cat-0002's
    assert [q["reason"] for q in doc["quarantine"]] == ["out_of_range"]
    assert [a["id"] for a in doc["alerts"]] == ["al-1"] and doc["alerts"][0]["transitions"][0]["by"] == "wang"
    assert sorted(n["phone"] for n in doc["notifications"]) == ["+8613800000001", SON_PHONE]
    assert [a["note"] for a in doc["absences"]] == ["住院"]
    assert doc["person_state"]["state"] == "home_active"
    assert [(f["label"], "token_hash" in f) for f in doc["family_links"]] == [("儿子", False)]
    assert {a["action"] for a in doc["audit"]} == {"alert.ack", "family_link_created", "family_view"}
    assert "张大爷" not in json.dumps(doc, ensure_ascii=False)
    with sessions() as s:
        audit = s.scalars(select(m.Audit).where(m.Audit.action == "resident.export")).one()
        assert (audit.actor, audit.resident_id, audit.detail["events"]) == ("cli:test", SUBJECT, 3)


def _everything(engine: Engine) -> str:
    """Every row of every table, as text: what a database dump would show."""
    parts = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            if table == "alembic_version":
                continue
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                parts.append(repr(tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in row)))
    return "\n".join(parts)


def test_erase_leaves_no_trace_but_keeps_anonymised_alerts(db: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, sessions = db
    token = _seed(sessions)

    result = erase_resident(sessions, SUBJECT, NOW, "cli:test")

    dump = _everything(engine)
    for trace in (SUBJECT, NAME, ADDRESS, SON_PHONE, "李明", "45.7513", "住院", "儿子"):
        assert trace not in dump, trace
    alias = result["pseudonym"]
    assert alias.startswith("erased-") and len(alias) == len("erased-") + 12
    with sessions() as s:
        alert = s.get(m.Alert, "al-1")
        assert (alert.resident_id, alert.kind, alert.severity, alert.state, alert.outcome) == (
            alias, "sos", "critical", "resolved", "assisted")
        assert (alert.opened_at, alert.acknowledged_at, alert.resolved_at) == (NOW - 3000, NOW - 2900, NOW - 2000)
        assert (alert.reason, alert.device_id) == ("", None)
        assert {(n.state, n.body, n.phone, n.params) for n in s.scalars(select(m.Notification).where(m.Notification.alert_id == "al-1"))} == {
            ("delivered", "[erased]", "", None)}
        assert s.scalars(select(m.ShortLink)).all() == []  # the links to the alert's page go too
        assert s.scalar(select(func.count()).select_from(m.Alert).where(m.Alert.kind == "sos")) == 1  # still counted
        # The other resident is untouched.
        other = s.get(m.Resident, "r-0002")
        assert other is not None and [c.phone for c in other.contacts] == ["+8613900000002"]
        assert s.get(m.Alert, "al-2").resident_id == "r-0002"
        assert s.scalars(select(m.Event.device_id)).all() == ["cat-0002"]
        assert s.get(m.Device, "tag-0001").resident_id is None  # equipment stays, unlinked
        assert resolve_family_token(s, token, NOW) is None
        state = s.get(m.EngineState, ENGINE_STATE_KEY).data["engine"]
        assert list(state["residents"]) == ["r-0002"] and list(state["devices"]) == ["cat-0002"]
        assert state["deadlines"] == [["d:cat-0002", NOW + 900]]
        assert s.execute(select(m.EngineUnit.scope, m.EngineUnit.unit)).all() == [("engine:1", "r-0002")]  # per-unit state too
        erased = s.scalars(select(m.Audit).where(m.Audit.action == "resident.erase")).one()
        assert (erased.actor, erased.resident_id, erased.detail["events"]) == ("cli:test", alias, 3)
        assert {a.resident_id for a in s.scalars(select(m.Audit).where(m.Audit.action == "alert.ack"))} == {alias}


def test_erase_is_refused_while_an_alert_is_open(db: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, sessions = db
    _seed(sessions)
    with sessions.begin() as s:
        s.get(m.Alert, "al-1").state = "acknowledged"
    before = _everything(engine)
    with pytest.raises(ErasureRefused, match="A7K2"):
        erase_resident(sessions, SUBJECT, NOW, "cli:test")
    assert _everything(engine) == before


def test_cli_export_and_erase_with_confirmation(db: tuple[Engine, sessionmaker[Session]], db_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, sessions = db
    _seed(sessions)
    monkeypatch.setenv("PINGAN_DATABASE__URL", db_url)
    runner = CliRunner()
    config = ["--config", str(REPO / "hub" / "default_config.yaml")]
    out = tmp_path / "r-0001.json"
    done = runner.invoke(app, [*config, "export", SUBJECT, "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text(encoding="utf-8"))["resident"]["name"] == NAME
    assert runner.invoke(app, [*config, "export", "r-9999"]).exit_code == 1

    declined = runner.invoke(app, [*config, "erase", SUBJECT], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    with sessions() as s:
        assert s.get(m.Resident, SUBJECT) is not None

    erased = runner.invoke(app, [*config, "erase", SUBJECT, "--yes", "--actor", "operator:zhou"])
    assert erased.exit_code == 0, erased.output
    assert "alert history kept as erased-" in erased.output
    with sessions() as s:
        assert s.get(m.Resident, SUBJECT) is None
        assert s.scalars(select(m.Audit.actor).where(m.Audit.action == "resident.erase")).one() == "operator:zhou"
