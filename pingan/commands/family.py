"""`pingan family-link RESIDENT`: create a family page link and print its URL (last line)."""

from __future__ import annotations

from typing import Annotated

import typer

from dashboards.family_links import UnknownResident, create_family_link
from hub.clock import SystemClock
from hub.storage.db import make_engine, make_sessions
from pingan.commands.context import load


def family_link_command(
    ctx: typer.Context,
    resident: Annotated[str, typer.Argument(help="resident id, e.g. r-0001")],
    label: Annotated[str, typer.Option(help="who the link is for, e.g. 'daughter'")] = "",
    days: Annotated[int, typer.Option(min=0, max=3650, help="valid for this many days; 0: until revoked")] = 0,
) -> None:
    """Create a private family status page link for one resident and print its URL."""
    cfg = load(ctx)
    engine = make_engine(cfg.database.url)
    try:
        with make_sessions(engine)() as session:
            link, token = create_family_link(session, resident, SystemClock().now(), "cli", label, days * 86400 or None)
    except UnknownResident:
        typer.echo(f"no resident {resident!r}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"family link {link.id} for {resident}" + (f", expires in {days} days" if days else ", until revoked"))
    typer.echo(cfg.http.public_url.rstrip("/") + "/f/" + token)
