"""Issue 19 item 3: handling an alert as a team — a manual alert (a neighbour phones in) that
escalates like any other, notes, assignment to a named responder, backup — through the API and
the board, over the whole hub (real engine, dispatcher, outbox; SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from hub.storage.models import Audit, Notification

from .conftest import Web, csrf_of


def _audit(web: Web, alert_id: str) -> list[tuple[str, str, str]]:
    with web.sessions() as session:
        rows = session.scalars(select(Audit).where(Audit.alert_id == alert_id).order_by(Audit.id)).all()
        return [(r.action, r.actor, r.channel) for r in rows]


def test_a_phoned_in_alert_escalates_and_the_team_handles_it_through_the_api(web: Web) -> None:
    api, operator = web.client(), web.bearer("operator")
    body = {"resident": "r-0004", "kind": "manual", "note": "邻居来电：敲门无人应答"}
    assert api.post("/api/alerts", json=body, headers=web.bearer("viewer")).status_code == 403
    unknown = api.post("/api/alerts", json={**body, "resident": "r-9999"}, headers=operator)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "resident"]
    wrong_kind = api.post("/api/alerts", json={**body, "kind": "sos"}, headers=operator)
    assert wrong_kind.status_code == 422 and wrong_kind.json()["detail"][0]["loc"] == ["body", "kind"]
    blank = api.post("/api/alerts", json={**body, "note": "  "}, headers=operator)
    assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "note"]

    made = api.post("/api/alerts", json=body, headers=operator)
    assert made.status_code == 201, made.text
    alert = made.json()
    assert (alert["kind"], alert["severity"], alert["state"], alert["resident"]) == ("manual", "critical", "open", "r-0004")
    assert alert["reason"] == {"code": "manual_report", "params": {"by": "operator-bot", "note": body["note"]}}
    assert body["note"] in alert["reason_text"]
    web.settle()  # the outbox sends the first step's texts, as for any critical alert
    with web.sessions() as session:
        texts = session.scalars(select(Notification.body).where(Notification.alert_id == alert["id"])).all()
    assert texts and all("被报告需帮助" in t and alert["code"] in t for t in texts)

    note = api.post(f"/api/alerts/{alert['id']}/notes", json={"text": "已联系其女儿"}, headers=operator)
    assert note.status_code == 201 and note.json()["author"] == "operator-bot" and note.json()["text"] == "已联系其女儿"
    empty = api.post(f"/api/alerts/{alert['id']}/notes", json={"text": ""}, headers=operator)
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "text"]
    assert [n["text"] for n in api.get(f"/api/alerts/{alert['id']}/notes", headers=web.bearer("viewer")).json()] == ["已联系其女儿"]
    assert api.post("/api/alerts/nope/notes", json={"text": "x"}, headers=operator).status_code == 404

    nobody = api.post(f"/api/alerts/{alert['id']}/assign", json={"responder": "ghost"}, headers=operator)
    assert nobody.status_code == 422 and nobody.json()["detail"][0]["loc"] == ["body", "responder"]
    assigned = api.post(f"/api/alerts/{alert['id']}/assign", json={"responder": "zhao"}, headers=operator)
    assert assigned.status_code == 200 and assigned.json()["name"] == "赵组长"

    step = api.get(f"/api/alerts/{alert['id']}", headers=operator).json()["escalation_step"]
    backup = api.post(f"/api/alerts/{alert['id']}/backup", headers=operator)
    assert backup.status_code == 200
    assert api.get(f"/api/alerts/{alert['id']}", headers=operator).json()["escalation_step"] == step + 1

    actions = _audit(web, alert["id"])
    assert ("alert.manual", "operator-bot", "api") in actions
    assert ("alert.note", "operator-bot", "api") in actions
    assert ("alert.assign", "operator-bot", "api") in actions
    assert ("alert.backup", "operator-bot", "api") in actions

    resolved = api.post(f"/api/alerts/{alert['id']}/resolve", json={"outcome": "assisted"}, headers=operator)
    assert resolved.status_code == 200
    late = api.post(f"/api/alerts/{alert['id']}/assign", json={"responder": "wang"}, headers=operator)
    assert late.status_code == 409


def test_the_board_records_an_alert_and_the_alert_page_takes_notes_assignment_and_backup(web: Web) -> None:
    board = web.login("operator")
    csrf = csrf_of(board.get("/").text)
    page = board.post("/alerts", data={"csrf": csrf, "resident": "r-0003", "note": "楼下邻居说听到呼救", "severity": "high"})
    assert page.status_code == 200 and 'id="note-form"' in page.text
    alert_id = str(page.url).rsplit("/", 1)[1]
    assert web.hub.core.engine.alert(alert_id).kind.value == "manual"

    page = board.post(f"/alerts/{alert_id}/notes", data={"csrf": csrf, "text": "<b>门锁着</b>"})
    assert "&lt;b&gt;门锁着&lt;/b&gt;" in page.text  # notes render as text
    page = board.post(f"/alerts/{alert_id}/assign", data={"csrf": csrf, "responder": "liu"})
    assert "刘网格员" in page.text.split('id="assignee"')[1].split("</p>")[0]
    page = board.post(f"/alerts/{alert_id}/assign", data={"csrf": csrf, "responder": "ghost"})
    assert "responder: no responder" in page.text
    board.post(f"/alerts/{alert_id}/backup", data={"csrf": csrf})
    assert _step(web, alert_id) == 1
    assert 'class="assignee"' in board.get("/partials/alerts").text
    assert board.post(f"/alerts/{alert_id}/notes", data={"text": "x"}).status_code == 403  # CSRF

    viewer = web.login("viewer")
    assert viewer.post(f"/alerts/{alert_id}/notes", data={"csrf": csrf_of(viewer.get("/").text), "text": "x"}).status_code == 403
    assert [a for a, actor, channel in _audit(web, alert_id) if actor == "operator" and channel == "board"][:3] == [
        "alert.manual", "alert.note", "alert.assign",
    ]


def _step(web: Web, alert_id: str) -> int:
    from hub.storage.models import Alert

    with web.sessions() as session:
        row = session.get(Alert, alert_id)
        assert row is not None
        return row.escalation_step


def test_a_grid_limited_user_handles_only_their_grids_alerts(web: Web) -> None:
    from hub import access

    api, admin = web.client(), web.bearer("admin")
    api.post("/api/users", json={"name": "g1", "role": "operator", "password": "long enough pw"}, headers=admin)
    with web.sessions.begin() as session:
        access.set_scope(session, "g1", ["xuanxin-g01"], web.clock.now(), "test")
    # The user's own token is limited as the user is (made after or before the scope was set).
    g1 = {"Authorization": f"Bearer {api.post('/api/users/g1/tokens', headers=admin).json()['token']}"}
    other = web.seeded.acked_alert  # r-0003, grid 2
    assert api.post(f"/api/alerts/{other}/notes", json={"text": "x"}, headers=g1).status_code == 404
    assert api.get(f"/api/alerts/{other}/notes", headers=g1).status_code == 404
    assert api.post(f"/api/alerts/{other}/assign", json={"responder": "wang"}, headers=g1).status_code == 404
    assert api.post(f"/api/alerts/{other}/backup", headers=g1).status_code == 404
    refused = api.post("/api/alerts", json={"resident": "r-0003", "kind": "manual", "note": "x"}, headers=g1)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "resident"]
    mine = web.seeded.open_alert  # r-0001, grid 1
    assert api.post(f"/api/alerts/{mine}/notes", json={"text": "在路上"}, headers=g1).status_code == 201
    assert api.post("/api/alerts", json={"resident": "r-0002", "kind": "manual", "note": "x"}, headers=g1).status_code == 201
    assert _audit(web, other) == [a for a in _audit(web, other) if a[1] != "g1"]  # nothing written on the other grid's alert
