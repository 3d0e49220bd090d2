"""`pingan users ...` and `pingan tokens ...`: board users and API tokens from the command line.

Each change runs in one transaction with its audit record (`user.<action>`, actor `--actor` or
`cli:<login>`) and ends the user's board sessions; a change that would leave no enabled admin
is refused. Errors exit 2 with a message. The rules themselves are hub/access.py.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from hub import access
from hub.access import ROLES, AccessError, add_user, create_token, revoke_tokens
from hub.clock import SystemClock
from hub.storage.db import make_engine, make_sessions
from pingan.commands.context import load

users_app = typer.Typer(no_args_is_help=True, help="Board users (admin, operator, viewer).")
tokens_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for machines using the API.")
RoleOption = Annotated[str, typer.Option("--role", "-r", help=f"one of {', '.join(ROLES)}")]




def _read_password() -> str:
    """From a prompt with confirmation on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


def _run(ctx: typer.Context, action):  # type: ignore[no-untyped-def]
    """Run `action(session, now)` in one transaction; an AccessError exits 2 with its message."""
    engine = make_engine(load(ctx).database.url)
    session = make_sessions(engine)()
    try:
        result = action(session, SystemClock().now())
        session.commit()
        return result
    except AccessError as exc:
        session.rollback()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        session.close()
        engine.dispose()


@users_app.command("add")
def users_add(ctx: typer.Context, name: str, role: RoleOption = "operator") -> None:
    """Add a user; the password comes from a prompt, or from stdin when it is not a terminal."""
    _check_role_or_exit(role)
    password = _read_password()
    _run(ctx, lambda session, now: add_user(session, name, role, password, now))
    typer.echo(f"user {name} added with role {role}")


ScopeOption = Annotated[str | None, typer.Option("--scope", help="limit to these communities or grids (comma separated ids)")]


def _scope(value: str | None) -> list[str] | None:
    return None if value is None or value.strip().lower() == "all" else value.split(",")


@tokens_app.command("create")
def tokens_create(ctx: typer.Context, name: str, role: RoleOption = "viewer", scope: ScopeOption = None) -> None:
    """Create a bearer token; it is printed once, as the last line, and only its hash is kept."""
    _check_role_or_exit(role)
    token = _run(ctx, lambda session, now: create_token(session, name, role, now, _scope(scope)))
    typer.echo(f"token for {name} with role {role} (shown only now; send it as 'Authorization: Bearer <token>'):")
    typer.echo(token)


@tokens_app.command("revoke")
def tokens_revoke(ctx: typer.Context, name: str) -> None:
    """Revoke every token of NAME."""
    count = _run(ctx, lambda session, now: revoke_tokens(session, name, now))
    typer.echo(f"revoked {count} token(s) of {name}")


def _check_role_or_exit(role: str) -> None:
    try:
        access.check_role(role)
    except AccessError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


ActorOption = Annotated[str | None, typer.Option("--actor", help="who does this, for the audit (default: cli:<login>)")]


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """Users with role, state, creation date and scope — the communities or grids they see, or
    all (never the password hash)."""
    rows = _run(ctx, lambda session, now: [
        (u.name, u.role, "disabled" if u.disabled_at is not None else "enabled", u.created_at, ",".join(u.scope or []) or "all")
        for u in access.list_users(session)
    ])
    typer.echo(f"{'name':<24} {'role':<10} {'state':<9} {'created':<10} scope")
    for name, role, state, created, scope in rows:
        typer.echo(f"{name:<24} {role:<10} {state:<9} {datetime.fromtimestamp(created, UTC):%Y-%m-%d} {scope}")


@users_app.command("disable")
def users_disable(ctx: typer.Context, name: str, actor: ActorOption = None) -> None:
    """Refuse NAME's logins and end their sessions (kept for the record; `enable` undoes it)."""
    _run(ctx, lambda session, now: access.disable_user(session, name, now, _actor(actor)))
    typer.echo(f"user {name} disabled; their sessions are ended")


@users_app.command("enable")
def users_enable(ctx: typer.Context, name: str, actor: ActorOption = None) -> None:
    """Let a disabled user log in again."""
    _run(ctx, lambda session, now: access.enable_user(session, name, now, _actor(actor)))
    typer.echo(f"user {name} enabled")


@users_app.command("set-role")
def users_set_role(ctx: typer.Context, name: str, role: str, actor: ActorOption = None) -> None:
    """Give NAME another role (admin, operator, viewer); their sessions end."""
    _run(ctx, lambda session, now: access.set_role(session, name, role, now, _actor(actor)))
    typer.echo(f"user {name} now has role {role}; their sessions are ended")


@users_app.command("set-scope")
def users_set_scope(ctx: typer.Context, name: str, scope: Annotated[str, typer.Argument(help="comma separated community or grid ids, or 'all'")],
                    actor: ActorOption = None) -> None:
    """Limit NAME to some communities or grids (they then see only those residents); their sessions end."""
    _run(ctx, lambda session, now: access.set_scope(session, name, _scope(scope), now, _actor(actor)))
    typer.echo(f"user {name} now sees {scope}; their sessions are ended")


@users_app.command("reset-password")
def users_reset_password(ctx: typer.Context, name: str, actor: ActorOption = None) -> None:
    """Set a new password (prompt, or the first line of stdin); their sessions end."""
    password = _read_password()
    _run(ctx, lambda session, now: access.reset_password(session, name, password, now, _actor(actor)))
    typer.echo(f"password of {name} reset; their sessions are ended")


@users_app.command("remove")
def users_remove(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    actor: ActorOption = None,
) -> None:
    """Delete NAME (their audit records stay); their sessions end."""
    if not yes and not typer.confirm(f"remove user {name}?"):
        raise typer.Exit(1)
    _run(ctx, lambda session, now: access.remove_user(session, name, now, _actor(actor)))
    typer.echo(f"user {name} removed")
