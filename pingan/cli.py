"""The `pingan` command line: one Typer app; the subcommands are in pingan/commands/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.config import config_path
from hub.operations.backup import BackupError, backup, restore
from hub.operations.production import production_report
from hub.storage.db import upgrade as upgrade_schema
from pingan.commands.context import load
from pingan.commands.devices import devices_app
from pingan.commands.family import family_link_command
from pingan.commands.privacy import erase_command, export_command
from pingan.commands.registry import import_command
from pingan.commands.replay import replay_command
from pingan.commands.users import tokens_app, users_app
from pingan.demo import demo_command
from pingan.serve import serve
from simulators.cli import record, simulate

app = typer.Typer(no_args_is_help=True, help="Ping'an Hub: alerting hub for elderly people who live alone.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(devices_app, name="devices")
app.command("import")(import_command)
app.command("family-link")(family_link_command)
app.command("simulate")(simulate)
app.command("record")(record)
app.command("replay")(replay_command)
app.command("demo")(demo_command)
app.command("export")(export_command)
app.command("erase")(erase_command)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="configuration file (default: $PINGAN_CONFIG, else ./config.yaml, else the packaged default)")
]


# Commands that speak to a broker like devices do: their --broker-url and --topic-root
# default to the selected configuration's mqtt section, so `pingan --config FILE` holds for them.
BROKER_COMMANDS = ("simulate", "record", "replay")


@app.callback()
def main(ctx: typer.Context, config: ConfigOption = None) -> None:
    ctx.obj = config_path(config)
    if ctx.invoked_subcommand in BROKER_COMMANDS:
        mqtt = load(ctx).mqtt
        defaults = {"topic_root": mqtt.topic_root} | ({"broker_url": mqtt.url} if mqtt.url else {})
        ctx.default_map = {name: defaults for name in BROKER_COMMANDS}


@app.command("check-config")
def check_config(
    ctx: typer.Context,
    production: Annotated[bool, typer.Option("--production", help="also refuse what must not reach residents (docs/DEPLOY.md)")] = False,
) -> None:
    """Validate the configuration; print FILE:LINE key: problem for each error."""
    config = load(ctx)
    if production:
        problems, notes = production_report(config, ctx.obj)
        for note in notes:
            typer.echo(f"note: {note}", err=True)
        if problems:
            typer.echo("\n".join(problems), err=True)
            typer.echo(f"{ctx.obj}: not ready for production: {len(problems)} problem(s)", err=True)
            raise typer.Exit(2)
    typer.echo(f"{ctx.obj}: ok" + (" for production" if production else ""))


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Option(help="Alembic revision to upgrade to")] = "head",
) -> None:
    """Create or migrate the database schema (Alembic)."""
    cfg = load(ctx)
    upgrade_schema(cfg.database.url, revision)
    typer.echo(f"database at {cfg.database.url.split('@')[-1]} is at {revision}")


@app.command("backup")
def backup_command(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="backup file to write (mode 0600)")]) -> None:
    """Back up the whole database while the hub runs (SQLite online backup, or pg_dump)."""
    try:
        backup(load(ctx).database.url, file)
    except BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backed up to {file} ({file.stat().st_size} bytes)")


@app.command("restore")
def restore_command(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="a file written by `pingan backup`")]) -> None:
    """Replace the database with a backup (stop the hub first), then migrate it to this version."""
    try:
        restore(load(ctx).database.url, file)
    except BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"restored from {file}; start the hub again")


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    upgrade: Annotated[bool, typer.Option("--upgrade/--no-upgrade", help="run `db upgrade` first")] = True,
) -> None:
    """Run the hub: MQTT ingestion and the HTTP endpoints, until SIGTERM."""
    raise typer.Exit(serve(load(ctx), ctx.obj, run_upgrade=upgrade))


if __name__ == "__main__":
    app()
