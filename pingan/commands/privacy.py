"""`pingan export RESIDENT` and `pingan erase RESIDENT`: data-subject requests (hub/operations/privacy.py)."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from hub.clock import SystemClock
from hub.operations.privacy import ErasureRefused, UnknownResident, erase_resident, export_resident
from hub.storage.db import make_engine, make_sessions
from pingan.commands.context import load


def _sessions(ctx: typer.Context) -> sessionmaker[Session]:
    return make_sessions(make_engine(load(ctx).database.url, writer=True))


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


ActorOption = Annotated[str | None, typer.Option(help="who made the request, for the audit (default cli:<user>)")]


def export_command(
    ctx: typer.Context,
    resident: Annotated[str, typer.Argument(help="resident id")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the JSON here instead of stdout")] = None,
    actor: ActorOption = None,
) -> None:
    """Export everything held about a resident as JSON (data-subject access request)."""
    try:
        document = export_resident(_sessions(ctx), resident, SystemClock().now(), _actor(actor))
    except UnknownResident:
        typer.echo(f"no resident {resident!r}", err=True)
        raise typer.Exit(1) from None
    text = json.dumps(document, ensure_ascii=False, indent=1)
    if out is None:
        typer.echo(text)
    else:
        _write_private(out, text + "\n")
        typer.echo(f"exported {resident} to {out} (mode 0600)", err=True)


def _write_private(path: Path, text: str) -> None:
    """Personal data: readable by the owner only (0600), also when the file existed with a
    wider mode (O_CREAT's mode applies only to a new file, hence the fchmod)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def erase_command(
    ctx: typer.Context,
    resident: Annotated[str, typer.Argument(help="resident id")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    actor: ActorOption = None,
) -> None:
    """Erase a resident's personal data, keeping an anonymised alert history (data-subject erasure)."""
    if not yes:
        typer.confirm(f"Erase the personal data of {resident}? This cannot be undone", abort=True)
    try:
        counts = erase_resident(_sessions(ctx), resident, SystemClock().now(), _actor(actor))
    except UnknownResident:
        typer.echo(f"no resident {resident!r}", err=True)
        raise typer.Exit(1) from None
    except ErasureRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    details = ", ".join(f"{k}={v}" for k, v in counts.items() if k != "pseudonym")
    typer.echo(f"erased {resident}; alert history kept as {counts['pseudonym']} ({details})")
