"""What every command needs: the configuration that `pingan --config` selected."""

from __future__ import annotations

import typer

from hub.config import Config, ConfigError, load_config


def load(ctx: typer.Context) -> Config:
    """The configuration selected by --config (the root callback puts its path in ctx.obj),
    or exit 2 with its problems."""
    root = ctx.find_root()
    try:
        return load_config(root.obj)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
