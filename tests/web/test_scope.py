"""Communities and grids as boundaries: a user or token limited to grid 1 sees only grid 1's
residents, their alerts, reports and live events — on the board, the API, the CSV and the live
stream; a direct link to someone else's resident or alert is a 404, and so is acting on it.
The whole hub on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from dashboards.scope import LiveScope, grids_of
from hub import access
from hub.access import AccessError
from hub.storage import models as m
from web.conftest import Web, csrf_of
from web.seed import PASSWORD

GRID_1 = "xuanxin-g01"  # 李奶奶 r-0001, 张大爷 r-0002; grid 2 has 王奶奶 r-0003, 陈爷爷 r-0004, 孙奶奶 r-0005


def _limited_login(web: Web) -> object:
    now = web.clock.now()
    with web.sessions.begin() as session:
        access.add_user(session, "g1op", "operator", PASSWORD, now)
        access.set_scope(session, "g1op", [GRID_1], now, "test")
    client = web.client()
    csrf = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": "g1op", "password": PASSWORD, "csrf": csrf, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303
    return client


def _alert_of(web: Web, resident: str) -> str:
    with web.sessions() as session:
        return session.scalars(select(m.Alert.id).where(m.Alert.resident_id == resident)).first()  # type: ignore[return-value]


def test_a_grid_limited_operator_never_sees_another_grids_resident_on_the_board(web: Web) -> None:
    client = _limited_login(web)
    board = client.get("/").text  # type: ignore[attr-defined]
    assert "李奶奶" in board and "张大爷" in board
    assert "王奶奶" not in board and "陈爷爷" not in board and "孙奶奶" not in board
    other = _alert_of(web, "r-0003")
    assert client.get("/residents/r-0003").status_code == 404  # type: ignore[attr-defined]
    assert client.get(f"/alerts/{other}").status_code == 404  # type: ignore[attr-defined]
    assert client.get("/residents/r-0001").status_code == 200  # type: ignore[attr-defined]
    with web.sessions() as session:
        before = session.scalar(select(m.Alert.state).where(m.Alert.id == other))
    resolve = client.post(f"/alerts/{other}/resolve", data={"csrf": csrf_of(board), "outcome": "ok"},  # type: ignore[attr-defined]
                          follow_redirects=False)
    assert resolve.status_code == 404
    with web.sessions() as session:
        assert before != "resolved" and session.scalar(select(m.Alert.state).where(m.Alert.id == other)) == before
    features = client.get("/map/data.json").text  # type: ignore[attr-defined]
    assert "r-0001" in features and "r-0003" not in features and "王奶奶" not in features
    handover = client.get("/handover").text  # type: ignore[attr-defined]
    assert other not in handover


def test_reports_and_csv_count_only_the_users_grids(web: Web) -> None:
    client = _limited_login(web)
    limited = list(csv.reader(io.StringIO(client.get("/reports.csv").text)))  # type: ignore[attr-defined]
    everyone = list(csv.reader(io.StringIO(web.login("viewer").get("/reports.csv").text)))
    assert limited != everyone
    with web.sessions() as session:
        grid_1 = session.scalars(select(m.Alert.kind).join(m.Resident, m.Resident.id == m.Alert.resident_id)
                                 .where(m.Resident.grid_id == GRID_1)).all()
        grid_2 = session.scalars(select(m.Alert.kind).join(m.Resident, m.Resident.id == m.Alert.resident_id)
                                 .where(m.Resident.grid_id != GRID_1)).all()
    assert grid_1 and grid_2
    assert "inactivity" in grid_2 and "inactivity" not in grid_1  # 王奶奶's silence is grid 2's
    assert not [row for row in limited if row and row[0] == "inactivity" and row[1] not in ("0", "")]


def test_a_limited_token_sees_only_its_grids_through_the_api(web: Web) -> None:
    now = web.clock.now()
    with web.sessions.begin() as session:
        token = access.create_token(session, "grid1-bot", "operator", now, [GRID_1])
    headers = {"Authorization": f"Bearer {token}"}
    client = web.client()
    residents = {a["resident"] for a in client.get("/api/alerts", headers=headers).json()}
    assert residents and residents <= {"r-0001", "r-0002"}
    assert client.get("/api/residents/r-0003/status", headers=headers).status_code == 404
    assert client.get("/api/residents/r-0001/status", headers=headers).status_code == 200
    other = _alert_of(web, "r-0003")
    assert client.get(f"/api/alerts/{other}", headers=headers).status_code == 404
    assert client.post(f"/api/alerts/{other}/ack", headers=headers).status_code == 404
    everything = {a["resident"] for a in client.get("/api/alerts", headers=web.bearer("viewer")).json()}
    assert "r-0003" in everything


def test_live_events_about_other_grids_are_not_streamed(web: Web) -> None:
    with web.sessions() as session:
        grids = grids_of(session, [GRID_1])
        assert grids_of(session, ["xuanxin"]) == {GRID_1, "xuanxin-g02"}  # a community means its grids
    assert grids is not None
    live = LiveScope(web.sessions, grids)
    assert live.allows("alert", {"id": _alert_of(web, "r-0001"), "resident": "r-0001"})
    assert not live.allows("alert", {"id": _alert_of(web, "r-0003"), "resident": "r-0003"})
    assert not live.allows("alert", {"id": _alert_of(web, "r-0003")})  # a message state change: only the id
    assert live.allows("resident", {"resident": "r-0002"}) and not live.allows("resident", {"resident": "r-0004"})
    assert live.allows("device", {"device": "cat-0001"}) and not live.allows("device", {"device": "cat-0003"})
    assert live.allows("resync", {})


def test_a_scope_must_name_communities_or_grids_that_exist(web: Web) -> None:
    now = web.clock.now()
    with web.sessions.begin() as session, pytest.raises(AccessError, match="no community or grid xuanxin-g9"):
        access.set_scope(session, "operator", [GRID_1, "xuanxin-g9"], now, "test")
