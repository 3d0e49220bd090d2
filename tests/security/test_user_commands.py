"""Finding 6 of issue 16: `pingan users list | disable | enable | set-role | reset-password |
remove`, each audited; a change that takes access away ends the user's sessions (finding 5)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from hub.storage.models import Audit, User
from pingan.cli import app

from .web_kit import PASSWORD, Web, client_at, login

REPO = Path(__file__).resolve().parents[2]


def _cli(db_url: str, tmp_path: Path, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    config = tmp_path / "config.yaml"
    config.write_text((REPO / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {"PINGAN_DATABASE__URL": db_url}
    return CliRunner().invoke(app, ["--config", str(config), "users", *args], env=env, input=stdin)


def _audit(web: Web) -> list[tuple[str, str, str]]:
    with web.sessions() as session:
        rows = session.scalars(select(Audit).where(Audit.action.like("user.%")).order_by(Audit.id)).all()
        return [(r.action, r.actor, (r.detail or {}).get("user", "")) for r in rows]


def test_user_commands_are_audited_and_end_sessions(web: Web, db_url: str, tmp_path: Path) -> None:
    listed = _cli(db_url, tmp_path, "list")
    assert listed.exit_code == 0, listed.output
    assert {"admin", "operator", "viewer"} <= {line.split()[0] for line in listed.output.splitlines()[1:] if line.strip()}
    assert "argon2" not in listed.output
    assert {line.split()[-1] for line in listed.output.splitlines()[1:] if line.strip()} == {"all"}


def test_users_list_shows_each_users_scope(web: Web, db_url: str, tmp_path: Path) -> None:
    scoped = _cli(db_url, tmp_path, "set-scope", "operator", "xuanxin-g01", "--actor", "ops-lead")
    assert scoped.exit_code == 0, scoped.output
    listed = _cli(db_url, tmp_path, "list")
    scopes = {line.split()[0]: line.split()[-1] for line in listed.output.splitlines()[1:] if line.strip()}
    assert scopes["operator"] == "xuanxin-g01" and scopes["admin"] == "all", listed.output

    session = web.login("operator")
    steps = [
        (("disable", "operator", "--actor", "ops-lead"), None, "user.disable"),
        (("enable", "operator", "--actor", "ops-lead"), None, "user.enable"),
        (("set-role", "operator", "viewer", "--actor", "ops-lead"), None, "user.set_role"),
        (("reset-password", "operator", "--actor", "ops-lead"), "a brand new password\n", "user.reset_password"),
        (("remove", "operator", "--yes", "--actor", "ops-lead"), None, "user.remove"),
    ]
    for args, stdin, action in steps:
        result = _cli(db_url, tmp_path, *args, stdin=stdin)
        assert result.exit_code == 0, (args, result.output)
        assert _audit(web)[-1] == (action, "ops-lead", "operator")
        if action == "user.disable":
            assert session.get("/", follow_redirects=False).status_code == 303  # its session ended
            assert login(client_at(web, "10.1.1.1"), "operator", PASSWORD) == 401  # and it cannot log in
        if action == "user.enable":
            session = web.login("operator")
        if action == "user.reset_password":
            assert login(client_at(web, "10.1.1.2"), "operator", "a brand new password") == 303
    with web.sessions() as s:
        assert s.scalar(select(User).where(User.name == "operator")) is None


def test_bad_input_gets_a_clear_error(web: Web, db_url: str, tmp_path: Path) -> None:
    unknown = _cli(db_url, tmp_path, "disable", "nobody")
    assert unknown.exit_code == 2 and "no user 'nobody'" in unknown.output
    role = _cli(db_url, tmp_path, "set-role", "viewer", "king")
    assert role.exit_code == 2 and "unknown role" in role.output
    last_admin = _cli(db_url, tmp_path, "disable", "admin")
    assert last_admin.exit_code == 2 and "last" in last_admin.output
    assert _audit(web) == []
