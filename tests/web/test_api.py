"""The /api endpoints on SQLite and PostgreSQL: filters, timelines, commands, status, absences."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.storage.models import Alert, Audit

from .conftest import Web

ALERT_FIELDS = {"id", "code", "kind", "severity", "state", "resident", "device", "opened_at", "acknowledged_at",
                "resolved_at", "outcome", "reason", "notes", "reason_text"}  # fmt: skip


def test_alert_list_filters_and_order(web: Web) -> None:
    c, h, s = web.client(), web.bearer("viewer"), web.seeded
    active = c.get("/api/alerts?state=active", headers=h).json()
    assert [a["id"] for a in active] == [s.open_alert, s.acked_alert, s.low_alert]  # severity first, then oldest
    assert set(active[0]) >= ALERT_FIELDS
    assert [a["id"] for a in c.get("/api/alerts?state=open", headers=h).json()] == [s.open_alert, s.low_alert]
    assert [a["id"] for a in c.get("/api/alerts?kind=inactivity", headers=h).json()] == [s.acked_alert]
    assert {a["id"] for a in c.get("/api/alerts?resident=r-0002", headers=h).json()} == {s.resolved_alert, s.false_alarm}
    since = s.now - 11 * 86400
    assert {a["id"] for a in c.get(f"/api/alerts?since={since}", headers=h).json()} == {s.open_alert, s.acked_alert, s.low_alert, s.resolved_alert}
    assert c.get("/api/alerts?state=bogus", headers=h).status_code == 422
    assert c.get("/api/alerts?since=nan", headers=h).status_code == 422


def test_alert_detail_has_its_timeline(web: Web) -> None:
    c = web.client()
    detail = c.get(f"/api/alerts/{web.seeded.acked_alert}", headers=web.bearer("viewer")).json()
    assert detail["acknowledged_by"] == "zhao"
    assert [t["state"] for t in detail["transitions"]] == ["open", "acknowledged"]
    assert [(n["role"], n["state"]) for n in detail["notifications"] if n["purpose"] == "alert"][:2] == [("grid_worker", "failed"), ("grid_leader", "delivered")]
    assert "phone" not in detail["notifications"][0]
    assert c.get("/api/alerts/nope", headers=web.bearer("viewer")).status_code == 404


def test_ack_and_resolve_go_through_the_hub_core(web: Web) -> None:
    c, h, sos = web.client(), web.bearer("operator"), web.seeded.open_alert
    acked = c.post(f"/api/alerts/{sos}/ack", headers=h)
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    assert web.hub.core.engine.alert(sos).state.value == "acknowledged"  # the engine decided, not only the table
    again = c.post(f"/api/alerts/{sos}/ack", headers=h)  # a second responder joining: the engine allows it
    assert again.status_code == 200 and again.json()["acknowledged_at"] == acked.json()["acknowledged_at"]
    assert c.post(f"/api/alerts/{sos}/resolve", headers=h, json={"outcome": "cleared"}).status_code == 422  # not for people
    resolved = c.post(f"/api/alerts/{sos}/resolve", headers=h, json={"outcome": "assisted"}).json()
    assert resolved["state"] == "resolved" and resolved["outcome"] == "assisted"
    assert c.post(f"/api/alerts/{sos}/resolve", headers=h, json={"outcome": "ok"}).status_code == 409
    assert c.post("/api/alerts/missing/ack", headers=h).status_code == 404
    with web.sessions() as session:
        actions = session.scalars(select(Audit.action).where(Audit.alert_id == sos, Audit.channel == "api").order_by(Audit.id)).all()
        actors = set(session.scalars(select(Audit.actor).where(Audit.alert_id == sos, Audit.channel == "api")).all())
    assert actions == ["alert.acknowledged", "alert.resolved"] and actors == {"operator-bot"}
    web.settle()  # the outbox sends the "resolved" texts to those who were told
    timeline = c.get(f"/api/alerts/{sos}", headers=h).json()
    assert [t["state"] for t in timeline["transitions"]] == ["open", "acknowledged", "resolved"]
    assert {n["recipient"] for n in timeline["notifications"] if n["purpose"] == "done"} >= {"王网格员", "李明"}


def test_resident_status(web: Web) -> None:
    c, h = web.client(), web.bearer("viewer")
    s1 = c.get("/api/residents/r-0001/status", headers=h).json()
    assert s1["person_state"] == "alert" and {a["id"] for a in s1["open_alerts"]} == {web.seeded.open_alert, web.seeded.low_alert}
    assert {d["id"]: d["health"] for d in s1["devices"]} == {"cat-0001": "ok", "tag-0001": "low_battery"}
    s2 = c.get("/api/residents/r-0002/status", headers=h).json()
    assert s2["person_state"] == "home_active" and s2["last_activity_at"] == web.seeded.now - 12 * 60
    s4 = c.get("/api/residents/r-0004/status", headers=h).json()
    assert s4["person_state"] == "away" and s4["absence"]["note"] == "住院观察"
    assert c.get("/api/residents/r-9999/status", headers=h).status_code == 404


def test_absences_crud(web: Web) -> None:
    c, h = web.client(), web.bearer("operator")
    now = web.seeded.now
    created = c.post("/api/absences", headers=h, json={"resident": "r-0002", "start_at": now, "until_at": now + 86400, "note": "探亲"})
    assert created.status_code == 201
    absence = created.json()
    assert absence["created_by"] == "operator-bot"
    assert c.get(f"/api/absences/{absence['id']}", headers=h).json() == absence
    assert absence in c.get("/api/absences?resident=r-0002", headers=h).json()
    assert c.get("/api/residents/r-0002/status", headers=h).json()["person_state"] == "away"
    assert c.post("/api/absences", headers=h, json={"resident": "r-0002", "start_at": now, "until_at": now - 1}).status_code == 422
    assert c.post("/api/absences", headers=h, json={"resident": "r-9999", "start_at": now, "until_at": now + 1}).status_code == 404
    assert c.delete(f"/api/absences/{absence['id']}", headers=h).status_code == 204
    assert c.get(f"/api/absences/{absence['id']}", headers=h).status_code == 404
    assert c.delete(f"/api/absences/{absence['id']}", headers=h).status_code == 404


def test_docs_work_offline(web: Web) -> None:
    c = web.login("viewer")  # the API docs need a login (http.api_docs, docs/SECURITY.md)
    page = c.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert c.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    schema = c.get("/openapi.json").json()
    assert "/api/alerts/{alert_id}/resolve" in schema["paths"]
    assert not any(p.startswith(("/f/", "/r/", "/login")) for p in schema["paths"])



def test_an_alert_explains_itself_as_data_worded_in_the_requested_language(web: Web) -> None:
    c, h, inactivity = web.client(), web.bearer("viewer"), web.seeded.acked_alert
    zh = c.get(f"/api/alerts/{inactivity}", headers=h).json()
    params = zh["reason"]["params"]
    assert zh["reason"]["code"] == "silence_exceeded"
    assert params["last_device"] == {"id": "cat-0003", "kind": "pingan_cat"} and params["devices"] == [params["last_device"]]
    assert (params["threshold_s"], params["basis"]) == (6 * 3600, "day")
    assert zh["opened_at"] - params["last_activity"] == pytest.approx(6 * 3600, abs=120)  # 王奶奶 still since 07:20
    assert zh["reason_text"] == "07:20起无活动（最后由平安猫检测到）；允许静默6小时，白天固定阈值；依据：平安猫"
    en = c.get(f"/api/alerts/{inactivity}?lang=en", headers=h).json()
    assert en["reason"] == zh["reason"]
    assert en["reason_text"] == (
        "no activity since 07:20 (last seen by the Ping'an Cat); 6 h of silence allowed, fixed day threshold; judged on Ping'an Cat")
    assert c.get(f"/api/alerts/{inactivity}", headers={**h, "Accept-Language": "en-US,en;q=0.9"}).json()["reason_text"] == en["reason_text"]
    assert c.get("/api/alerts?kind=inactivity&lang=en", headers=h).json()[0]["reason_text"] == en["reason_text"]
    assert "cat-0003" not in zh["reason_text"] + en["reason_text"]  # devices by kind, never by id
    assert c.get(f"/api/alerts/{inactivity}?lang=x", headers=h).status_code == 422
    page = web.login("viewer").get(f"/alerts/{inactivity}").text
    assert zh["reason_text"] in page  # the board words the same data


def test_a_row_from_before_reason_codes_reads_as_its_sentence(web: Web) -> None:
    sentence = "no activity since 07:20; allowed silence 6 h by day, 12 h at night (21:00-07:00)"
    alert_id = web.seeded.acked_alert
    with web.sessions.begin() as session:  # as migration reasons_a1 leaves an old row: the sentence, no data
        row = session.get(Alert, alert_id)
        assert row is not None
        row.reason, row.reason_data = sentence, None
    c, h = web.client(), web.bearer("viewer")
    for lang in ("zh-CN", "en"):
        got = c.get(f"/api/alerts/{alert_id}?lang={lang}", headers=h).json()
        assert got["reason"] == {"code": "legacy_text", "params": {"text": sentence}}
        assert got["reason_text"] == sentence
    assert sentence in web.login("viewer").get(f"/alerts/{alert_id}").text
