"""Issue 19 item 2: users and their API tokens for admins, in the API and on the /users page,
over the whole hub's app (SQLite and PostgreSQL). Every change is audited; disabling ends the
user's board sessions and API tokens at once."""

from __future__ import annotations

from sqlalchemy import select

from hub.storage.models import Audit

from .conftest import Web, csrf_of


def _actions(web: Web, user: str) -> list[tuple[str, str, str]]:
    with web.sessions() as session:
        rows = session.scalars(select(Audit).where(Audit.action.like("user.%")).order_by(Audit.id)).all()
        return [(r.action, r.actor, r.channel) for r in rows if (r.detail or {}).get("user") == user]


def test_admin_manages_users_and_tokens_through_the_api(web: Web) -> None:
    api, admin = web.client(), web.bearer("admin")
    assert api.get("/api/users", headers=web.bearer("operator")).status_code == 403

    made = api.post("/api/users", json={"name": "xiaoli", "role": "operator", "password": "long enough pw"}, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json() == {"name": "xiaoli", "role": "operator", "disabled": False, "created_at": web.clock.now(), "tokens": 0, "scope": None}
    again = api.post("/api/users", json={"name": "xiaoli", "role": "operator", "password": "long enough pw"}, headers=admin)
    assert again.status_code == 409
    short = api.post("/api/users", json={"name": "x2", "role": "operator", "password": "short"}, headers=admin)
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "password"]
    bad_role = api.patch("/api/users/xiaoli", json={"role": "boss"}, headers=admin)
    assert bad_role.status_code == 422 and bad_role.json()["detail"][0]["loc"] == ["body", "role"]
    assert api.patch("/api/users/nobody", json={"disabled": True}, headers=admin).status_code == 404

    token = api.post("/api/users/xiaoli/tokens", headers=admin)
    assert token.status_code == 201 and token.json()["role"] == "operator"
    theirs = {"Authorization": f"Bearer {token.json()['token']}"}
    assert api.get("/api/alerts", headers=theirs).status_code == 200
    assert [u["tokens"] for u in api.get("/api/users", headers=admin).json() if u["name"] == "xiaoli"] == [1]

    # A user's token acts with the user's current role: demoted to viewer, it can no longer write.
    assert api.patch("/api/users/xiaoli", json={"role": "viewer"}, headers=admin).json()["role"] == "viewer"
    assert api.post(f"/api/alerts/{web.seeded.open_alert}/ack", headers=theirs).status_code == 403

    # Disabled: the token is revoked with it, and stays dead when the user is enabled again.
    assert api.patch("/api/users/xiaoli", json={"disabled": True}, headers=admin).json()["disabled"] is True
    assert api.get("/api/alerts", headers=theirs).status_code == 401
    assert api.patch("/api/users/xiaoli", json={"disabled": False}, headers=admin).json()["tokens"] == 0
    assert api.get("/api/alerts", headers=theirs).status_code == 401

    second = api.post("/api/users/xiaoli/tokens", headers=admin).json()["token"]
    assert api.delete("/api/users/xiaoli/tokens", headers=admin).json() == {"revoked": 1}
    assert api.get("/api/alerts", headers={"Authorization": f"Bearer {second}"}).status_code == 401

    # The last enabled admin cannot be demoted or disabled.
    assert api.patch("/api/users/admin", json={"disabled": True}, headers=admin).status_code == 409
    assert [a for a, _, _ in _actions(web, "xiaoli")] == [
        "user.add", "user.token_create", "user.set_role", "user.disable", "user.enable", "user.token_create", "user.token_revoke",
    ]
    assert {(actor, channel) for _, actor, channel in _actions(web, "xiaoli")} == {("admin-bot", "api")}


def test_admin_page_disables_a_user_whose_board_then_loses_its_session(web: Web) -> None:
    operator = web.login("operator")
    assert operator.get("/").status_code == 200
    admin = web.login("admin")
    assert operator.get("/users", follow_redirects=False).status_code == 403

    page = admin.get("/users")
    assert page.status_code == 200 and 'data-user="operator"' in page.text
    csrf = csrf_of(page.text)
    done = admin.post("/users/operator", data={"csrf": csrf, "action": "disable"}, follow_redirects=False)
    assert done.status_code == 303
    # The operator's open board: its next request goes to the login page.
    assert operator.get("/", follow_redirects=False).headers["location"].startswith("/login")

    admin.post("/users/operator", data={"csrf": csrf, "action": "enable"})
    admin.post("/users/operator", data={"csrf": csrf, "action": "password", "password": "another long one"})
    shown = admin.post("/users/operator", data={"csrf": csrf, "action": "new_token"})
    assert 'id="new-token"' in shown.text
    assert 'id="new-token"' not in admin.get("/users").text  # shown once
    created = admin.post("/users", data={"csrf": csrf, "name": "night-shift", "role": "viewer", "password": "short"})
    assert created.status_code == 422
    created = admin.post("/users", data={"csrf": csrf, "name": "night-shift", "role": "viewer", "password": "long enough pw"})
    assert 'data-user="night-shift"' in created.text
    refused = admin.post("/users/admin", data={"csrf": csrf, "action": "role", "role": "viewer"})
    assert "last enabled admin" in refused.text
    assert admin.post("/users/operator", data={"action": "disable"}).status_code == 403  # no CSRF token
    assert [a for a, _, _ in _actions(web, "operator")] == [
        "user.disable", "user.enable", "user.reset_password", "user.token_create",
    ]
    assert {(actor, channel) for _, actor, channel in _actions(web, "operator")} == {("admin", "board")}
