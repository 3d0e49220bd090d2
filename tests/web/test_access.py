"""Route × role matrix, CSRF on every form, login rate limit, bearer tokens — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from .conftest import Web, csrf_of
from .seed import PASSWORD

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
RANK = {None: 0, VIEWER: 1, OPERATOR: 2, ADMIN: 3}

# (method, path, form, least role)
PAGES = [
    ("GET", "/", None, VIEWER),
    ("GET", "/partials/alerts", None, VIEWER),
    ("GET", "/partials/residents", None, VIEWER),
    ("GET", "/alerts/{sos}", None, VIEWER),
    ("GET", "/residents/r-0001", None, VIEWER),
    ("GET", "/devices/tag-0001", None, VIEWER),
    ("GET", "/map", None, VIEWER),
    ("GET", "/map/data.json", None, VIEWER),
    ("GET", "/reports", None, VIEWER),
    ("GET", "/reports.csv", None, VIEWER),
    ("GET", "/audit", None, ADMIN),
    ("POST", "/alerts/{sos}/ack", {}, OPERATOR),
    ("POST", "/alerts/{ina}/on-site", {}, OPERATOR),
    ("POST", "/alerts/{bat}/resolve", {"outcome": "ok"}, OPERATOR),
    ("POST", "/residents/r-0002/absences", {"start": "2026-11-27T08:00", "until": "2026-11-30T18:00", "note": "探亲"}, OPERATOR),
    ("POST", "/absences/1/delete", {}, OPERATOR),
    ("POST", "/residents/r-0002/family-links", {"label": "女儿", "days": "30"}, OPERATOR),
    # issue 19: users (admins), handling an alert as a team (operators)
    ("GET", "/users", None, ADMIN),
    ("POST", "/users/operator", {"action": "new_token"}, ADMIN),
    ("POST", "/users", {"name": "matrix", "role": "viewer", "password": "long enough pw"}, ADMIN),
    ("POST", "/alerts", {"resident": "r-0004", "note": "邻居来电"}, OPERATOR),
    ("POST", "/alerts/{ina}/notes", {"text": "备注"}, OPERATOR),
    ("POST", "/alerts/{ina}/assign", {"responder": "wang"}, OPERATOR),
    ("POST", "/alerts/{ina}/backup", {}, OPERATOR),
    # the workspace (issue 19): each write repeats the same values, so every role may send it again
    ("GET", "/residents", None, VIEWER),
    ("GET", "/residents/r-0001/edit", None, VIEWER),
    ("GET", "/responders", None, VIEWER),
    ("GET", "/workspace/import", None, OPERATOR),
    ("POST", "/residents/r-0005/edit", {"name": "孙奶奶", "grid": "xuanxin-g02", "home_lat": "45.748", "home_lon": "126.641"}, OPERATOR),
    ("POST", "/responders", {"editing": "wang", "name": "王网格员", "phone": "+8613800000001", "role": "grid_worker",
                             "grids": "xuanxin-g01", "available": "on"}, OPERATOR),
]

API = [
    ("GET", "/api/alerts", None, VIEWER),
    ("GET", "/api/alerts/{sos}", None, VIEWER),
    ("GET", "/api/residents/r-0001/status", None, VIEWER),
    ("GET", "/api/absences", None, VIEWER),
    ("GET", "/api/absences/1", None, VIEWER),
    ("POST", "/api/alerts/{sos}/ack", None, OPERATOR),
    ("POST", "/api/alerts/{ina}/on-site", None, OPERATOR),
    ("POST", "/api/alerts/{bat}/resolve", {"outcome": "ok"}, OPERATOR),
    ("POST", "/api/absences", {"resident": "r-0002", "start_at": 1795700000, "until_at": 1795800000, "note": "x"}, OPERATOR),
    ("DELETE", "/api/absences/1", None, OPERATOR),
    # issue 19: users and tokens (admins), handling an alert as a team (operators)
    ("GET", "/api/users", None, ADMIN),
    ("POST", "/api/users", {"name": "matrix", "role": "viewer", "password": "long enough pw"}, ADMIN),
    ("PATCH", "/api/users/matrix", {"role": "operator"}, ADMIN),
    ("POST", "/api/users/matrix/tokens", None, ADMIN),
    ("DELETE", "/api/users/matrix/tokens", None, ADMIN),
    ("POST", "/api/alerts", {"resident": "r-0004", "kind": "manual", "note": "邻居来电"}, OPERATOR),
    ("GET", "/api/alerts/{ina}/notes", None, VIEWER),
    ("POST", "/api/alerts/{ina}/notes", {"text": "备注"}, OPERATOR),
    ("POST", "/api/alerts/{ina}/assign", {"responder": "wang"}, OPERATOR),
    ("POST", "/api/alerts/{ina}/backup", None, OPERATOR),
    ("GET", "/api/residents?q=r-0001", None, VIEWER),
    ("GET", "/api/residents/r-0001", None, VIEWER),
    ("GET", "/api/devices?resident=r-0001", None, VIEWER),
    ("GET", "/api/responders", None, VIEWER),
    ("GET", "/api/responders/wang", None, VIEWER),
    ("PATCH", "/api/residents/r-0005", {"address": "宣信街5号1单元201"}, OPERATOR),
    ("PATCH", "/api/devices/cat-0004", {"heartbeat_s": 3600}, OPERATOR),
    ("PATCH", "/api/responders/wang", {"available": True}, OPERATOR),
]


def paths(web: Web, template: str) -> str:
    s = web.seeded
    return template.format(sos=s.open_alert, ina=s.acked_alert, bat=s.low_alert, fall=s.resolved_alert)


@pytest.mark.parametrize("role", [None, VIEWER, OPERATOR, ADMIN])
def test_pages_by_role(web: Web, role: str | None) -> None:
    client = web.login(role) if role else web.client()
    csrf = csrf_of(client.get("/login").text) if role is None else None
    for method, template, form, least in PAGES:
        path = paths(web, template)
        if method == "GET":
            response = client.get(path, follow_redirects=False)
        else:
            token = csrf or csrf_of(client.get(paths(web, "/alerts/{sos}")).text)
            response = client.post(path, data={**form, "csrf": token}, follow_redirects=False)
        if role is None:
            assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), (method, path)
        elif RANK[role] < RANK[least]:
            assert response.status_code == 403, (role, method, path, response.status_code)
        else:
            assert response.status_code in (200, 303), (role, method, path, response.status_code, response.text[:300])


@pytest.mark.parametrize("role", [None, VIEWER, OPERATOR, ADMIN])
def test_api_by_role(web: Web, role: str | None) -> None:
    client = web.client()
    headers = web.bearer(role) if role else {}
    for method, template, body, least in API:
        path = paths(web, template)
        response = client.request(method, path, json=body, headers=headers)
        if role is None:
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
        elif RANK[role] < RANK[least]:
            assert response.status_code == 403, (role, method, path)
        else:
            assert response.status_code in (200, 201, 204), (role, method, path, response.status_code, response.text[:300])


def test_board_session_does_not_open_the_api(web: Web) -> None:
    client = web.login(ADMIN)
    assert client.get("/api/alerts").status_code == 401


def test_bad_and_revoked_tokens_are_refused(web: Web) -> None:
    from hub import access

    client = web.client()
    assert client.get("/api/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/alerts", headers={"Authorization": "Basic abc"}).status_code == 401
    with web.sessions() as session:
        assert access.revoke_token(session, web.seeded.tokens[ADMIN], web.clock.now())
        session.commit()
    assert client.get("/api/alerts", headers=web.bearer(ADMIN)).status_code == 401
    assert client.get("/api/alerts", headers=web.bearer(VIEWER)).status_code == 200


def test_every_post_form_needs_the_session_csrf_token(web: Web) -> None:
    client = web.login(ADMIN)
    for method, template, form, _ in PAGES:
        if method != "POST":
            continue
        path = paths(web, template)
        assert client.post(path, data=form, follow_redirects=False).status_code == 403, path
        assert client.post(path, data={**form, "csrf": "forged"}, follow_redirects=False).status_code == 403, path
    other = web.login(OPERATOR)
    stolen = csrf_of(other.get("/").text)
    assert client.post(f"/alerts/{web.seeded.open_alert}/ack", data={"csrf": stolen}, follow_redirects=False).status_code == 403
    with web.sessions() as session:
        from hub.storage.models import Alert

        assert session.get(Alert, web.seeded.open_alert).state == "open"  # nothing happened


def test_login_and_logout(web: Web) -> None:
    client = web.client()
    alert_page = f"/alerts/{web.seeded.open_alert}"
    page = client.get(alert_page, follow_redirects=True)
    assert "/login" in str(page.url)
    csrf = csrf_of(page.text)
    wrong = client.post("/login", data={"username": "viewer", "password": "nope", "csrf": csrf})
    assert wrong.status_code == 401
    ok = client.post(
        "/login", data={"username": "viewer", "password": PASSWORD, "csrf": csrf, "next": alert_page}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == alert_page
    assert client.get(alert_page).status_code == 200
    offsite = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf": csrf_of(client.get("/login").text), "next": "//evil.example/"}, follow_redirects=False)
    assert offsite.headers["location"] == "/"
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_is_rate_limited_per_name_and_on_the_virtual_clock(web: Web) -> None:
    client = web.client()
    csrf = csrf_of(client.get("/login").text)
    for _ in range(5):
        assert client.post("/login", data={"username": "operator", "password": "wrong", "csrf": csrf}).status_code == 401
    blocked = client.post("/login", data={"username": "operator", "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
    assert blocked.status_code == 429  # even the right password, while blocked
    web.clock.advance(901)
    allowed = client.post("/login", data={"username": "operator", "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
    assert allowed.status_code == 303


def test_deleting_a_user_ends_their_session(web: Web) -> None:
    from sqlalchemy import delete

    from hub.storage.models import User

    client = web.login(OPERATOR)
    assert client.get("/", follow_redirects=False).status_code == 200
    with web.sessions() as session:
        session.execute(delete(User).where(User.name == OPERATOR))
        session.commit()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_security_headers(web: Web) -> None:
    response = web.client().get("/login")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
