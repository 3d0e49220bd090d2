"""`pingan users list | disable | enable | set-role | reset-password | remove` (with `users add`
from hub.access): the operator's tools for board users until the admin pages exist.

Each change runs in one transaction with its audit record (`user.<action>`, actor `--actor` or
`cli:<login>`) and ends the user's board sessions; a change that would leave no enabled admin
is refused. Errors exit 2 with a message.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer

from hub import access
from hub.access import _read_password, _run
from hub.access import users_app as users_app  # hub.cli registers this Typer app

ActorOption = Annotated[str | None, typer.Option("--actor", help="who does this, for the audit (default: cli:<login>)")]


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """Users with role, state and creation date (never the password hash)."""
    rows = _run(ctx, lambda session, now: [
        (u.name, u.role, "disabled" if u.disabled_at is not None else "enabled", u.created_at) for u in access.list_users(session)
    ])
    typer.echo(f"{'name':<24} {'role':<10} {'state':<9} created")
    for name, role, state, created in rows:
        typer.echo(f"{name:<24} {role:<10} {state:<9} {datetime.fromtimestamp(created, UTC):%Y-%m-%d}")


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
