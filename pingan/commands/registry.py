"""`pingan import FILE`: a community moves in (hub/registry/file.py reads, hub/registry/importer.py writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.registry.file import RegistryError, load_registry_file
from hub.registry.importer import PROGRESS_FROM_ENTRIES, ImportReport, import_document, known_ids
from hub.storage.db import make_engine, make_sessions
from pingan.commands.context import load

FileArgument = Annotated[Path, typer.Argument(help="registry file: .yaml, .json, a .csv file or a folder of CSV files")]


def import_command(
    ctx: typer.Context,
    file: FileArgument,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate and count, write nothing")] = False,
) -> None:
    """Import communities, grids, responders, residents and devices (idempotent, all or nothing)."""
    cfg = load(ctx)
    engine = make_engine(cfg.database.url)
    try:
        with make_sessions(engine)() as session:
            report = _import_file(session, file, dry_run)
    finally:
        engine.dispose()
    for line in report.lines():
        typer.echo(line)
    typer.echo(f"{file}: {'validated, nothing written (dry run)' if dry_run else 'imported'}")


def _import_file(session: Session, file: Path, dry_run: bool) -> ImportReport:
    try:
        doc = load_registry_file(file, known_ids(session))
        with Progress(transient=True, disable=doc.size() < PROGRESS_FROM_ENTRIES) as progress:
            task = progress.add_task(f"importing {file.name}", total=doc.size())
            report = import_document(session, doc, lambda: progress.advance(task))
        if dry_run:
            session.rollback()
        else:
            session.commit()
        return report
    except RegistryError as exc:
        session.rollback()
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{file}: {len(exc.problems)} problem(s); nothing was imported", err=True)
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        session.rollback()
        typer.echo(f"{file}: database error, nothing was imported: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}", err=True)
        typer.echo("(is the schema there? run `pingan db upgrade`)", err=True)
        raise typer.Exit(2) from None
