"""Shifts: the operators' roster decides who the `operator` step texts; the handover page and
API list what is open and what happened during a shift. The whole hub on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from alerts.config import Role
from alerts.directory import Directory, Responder
from alerts.registry import Point, Resident
from hub.dispatch.dispatcher import load_directory
from hub.storage import models as m
from web.conftest import Web, csrf_of

OPS2_PHONE = "+8613800000044"
HOUR = 3600.0


def _second_operator(web: Web) -> None:
    with web.sessions.begin() as session:
        session.add(m.Responder(id="ops2", name="夜班员", phone=OPS2_PHONE, role="operator", language="zh"))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t).astimezone().isoformat()


def test_the_operator_role_means_those_on_duty_and_everyone_when_nobody_is() -> None:
    lonely = Resident("r-1", "李奶奶", "g01", "Asia/Shanghai", Point(45.75, 126.64))
    ops = (Responder("day", "日班", "+8613800000101", Role.OPERATOR), Responder("night", "夜班", "+8613800000102", Role.OPERATOR))
    everyone = Directory(ops).candidates(Role.OPERATOR, lonely, None)  # type: ignore[arg-type]
    assert [r.key for r in everyone] == ["day", "night"]
    on_duty = Directory(ops, frozenset({"night"})).candidates(Role.OPERATOR, lonely, None)  # type: ignore[arg-type]
    assert [r.key for r in on_duty] == ["night"]
    away = Directory((ops[0], Responder("night", "夜班", "+8613800000102", Role.OPERATOR, available=False)), frozenset({"night"}))
    assert [r.key for r in away.candidates(Role.OPERATOR, lonely, None)] == ["day"]  # type: ignore[arg-type]


def test_a_shift_added_through_the_api_decides_who_is_on_duty(web: Web) -> None:
    _second_operator(web)
    now = web.clock.now()
    client = web.client()
    created = client.post("/api/shifts", headers=web.bearer("operator"),
                          json={"responder": "ops2", "starts_at": _iso(now - HOUR), "ends_at": _iso(now + 7 * HOUR)})
    assert created.status_code == 201, created.text
    shift = created.json()
    assert (shift["responder"], shift["name"], round(shift["ends_at"] - shift["starts_at"])) == ("ops2", "夜班员", 8 * 3600)
    with web.sessions() as session:
        assert load_directory(session, now).on_duty == {"ops2"}
        assert load_directory(session, now + 8 * HOUR).on_duty == frozenset()  # after the shift: nobody rostered
        audit = session.scalars(select(m.Audit).where(m.Audit.action == "shift.add")).one()
        assert (audit.actor, audit.channel) == ("operator-bot", "api")  # the token's name

    listed = client.get("/api/shifts", headers=web.bearer("viewer")).json()
    assert [s["id"] for s in listed] == [shift["id"]]
    assert client.delete(f"/api/shifts/{shift['id']}", headers=web.bearer("viewer")).status_code == 403
    assert client.delete(f"/api/shifts/{shift['id']}", headers=web.bearer("operator")).status_code == 204
    assert client.get("/api/shifts", headers=web.bearer("viewer")).json() == []


def test_a_shift_that_cannot_be_is_refused_with_the_field(web: Web) -> None:
    now = web.clock.now()
    client = web.client()
    cases = [
        ({"responder": "wang", "starts_at": _iso(now), "ends_at": _iso(now + HOUR)}, "responder"),  # a grid worker
        ({"responder": "nobody", "starts_at": _iso(now), "ends_at": _iso(now + HOUR)}, "responder"),
        ({"responder": "ops", "starts_at": _iso(now), "ends_at": _iso(now - HOUR)}, "ends_at"),
        ({"responder": "ops", "starts_at": _iso(now), "ends_at": _iso(now + 30 * HOUR)}, "ends_at"),
        ({"responder": "ops", "starts_at": "tomorrow", "ends_at": _iso(now)}, "starts_at"),
    ]
    for body, field in cases:
        response = client.post("/api/shifts", headers=web.bearer("operator"), json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in {str(part) for item in response.json()["detail"] for part in item["loc"]}, response.text


def test_the_operator_step_texts_only_the_operator_on_duty(web: Web) -> None:
    _second_operator(web)
    now = web.clock.now()
    with web.sessions.begin() as session:
        session.add(m.Shift(responder_id="ops2", starts_at=now - HOUR, ends_at=now + 8 * HOUR, created_by="test"))
    from web.seed import Feeder

    feed = Feeder(web.hub)
    feed.deliver(now + 1, [feed.message(now + 1, "cat-0004", "event", type="sos")])
    for _ in range(3):  # grid workers + family, then the leader, then the operator step
        web.clock.advance(301)
        web.settle()
    with web.sessions() as session:
        sos = session.scalars(select(m.Alert).where(m.Alert.kind == "sos", m.Alert.resident_id == "r-0004",
                                                    m.Alert.opened_at >= now)).one()
        operator_texts = session.scalars(select(m.Notification.phone).where(
            m.Notification.alert_id == sos.id, m.Notification.role == "operator")).all()
    assert operator_texts == [OPS2_PHONE]  # not 值班员 (+8613800000004), who is off duty


def test_the_handover_page_lists_what_is_open_and_what_happened(web: Web) -> None:
    now = web.clock.now()
    client = web.login("operator")
    page = client.get("/shifts")
    assert page.status_code == 200 and "值班表" in page.text
    added = client.post("/shifts", data={"csrf": csrf_of(page.text), "responder": "ops",
                                         "starts_at": datetime.fromtimestamp(now - 2 * HOUR).strftime("%Y-%m-%dT%H:%M"),
                                         "ends_at": datetime.fromtimestamp(now + 6 * HOUR).strftime("%Y-%m-%dT%H:%M")},
                        follow_redirects=True)
    assert "在班" in added.text
    api = client.get("/api/handover", headers=web.bearer("viewer")).json()
    with web.sessions() as session:
        active = session.scalars(select(m.Alert.id).where(m.Alert.state != "resolved")).all()
        during = session.scalars(select(m.Alert.id).where(m.Alert.opened_at >= api["start"])).all()
    assert sorted(a["id"] for a in api["open"]) == sorted(active) and active
    assert sorted(a["id"] for a in api["opened"]) == sorted(during)
    assert any(a["action"] == "shift.add" and a["actor"] == "operator" for a in api["actions"])
    html = client.get("/handover").text
    assert "交接班" in html and all(f"/alerts/{i}" in html for i in active)
