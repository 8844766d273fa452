"""Flask CLI commands: ``demo``, ``import`` (spools and workers from CSV), ``sheets-check``, ``sheets-init``,
``db upgrade`` / ``db status`` (the PostgreSQL schema)."""

from __future__ import annotations

import csv

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .domain.errors import SourceUnavailable
from .domain.model import TRABAJADOR_FIELDS, TRACKING_FIELDS
from .extensions import zeues
from .stores.rows import TAG_HEADER, HeaderProblem, fold, locate, spool_from_row, worker_from_row


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the store already holds spools.")
@with_appcontext
def demo_command(if_empty: bool) -> None:
    """Load a demo shop: 13 workers of every role and 63 spools over all nine states."""
    from . import demo

    store = zeues().store
    if if_empty and store.snapshot().spools:
        click.echo(f"{current_app.config['DB']} already holds spools; demo not loaded.")
        return
    spools = demo.spools()
    store.load(spools, demo.WORKERS)
    click.echo(f"Demo shop loaded into {current_app.config['DB']}: {len(demo.WORKERS)} workers, {len(spools)} spools.")


def _read_csv(path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Non-blank rows keyed by lower-case field name; ``required`` headers must be present, and
    ``optional`` ones are read when they are (headers match as in the sheet: SPEC §3 folding)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        presentes = {fold(h) for h in header}
        wanted = [*required, *(o for o in optional if fold(o) in presentes)]
        try:
            posiciones = locate(header, wanted)
        except HeaderProblem as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
        return [
            {campo.lower(): (fila[i] if i < len(fila) else "") for campo, i in posiciones.items()}
            for fila in reader
            if any(c.strip() for c in fila)
        ]


@click.command("import")
@click.option("--spools", "spools_csv", type=click.Path(exists=True, dir_okay=False), help="Operaciones as CSV.")
@click.option("--workers", "workers_csv", type=click.Path(exists=True, dir_okay=False), help="Trabajadores as CSV.")
@with_appcontext
def import_command(spools_csv: str | None, workers_csv: str | None) -> None:
    """Load spools and workers from CSV files with the sheet's headers (TAG_SPOOL and the worker
    columns are required; tracking columns that are absent start empty)."""
    if not spools_csv and not workers_csv:
        raise click.UsageError("give --spools and/or --workers")
    spools, workers = [], []
    try:
        if workers_csv:
            workers = [worker_from_row(r) for r in _read_csv(workers_csv, TRABAJADOR_FIELDS)]
        if spools_csv:
            spools = [spool_from_row(r) for r in _read_csv(spools_csv, (TAG_HEADER,), TRACKING_FIELDS)]
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    vacios = [i for i, s in enumerate(spools, start=2) if not s.tag_spool]
    if vacios:
        raise click.ClickException(f"{spools_csv}: rows without TAG_SPOOL: {vacios[:10]}")
    zeues().store.load(spools, workers)
    click.echo(f"Imported {len(workers)} workers and {len(spools)} spools.")


def _sheets_store():
    """The app's Google Sheets store, or a clear refusal when the app runs on SQLite."""
    from .stores.sheets import SheetsStore

    store = zeues().store
    if not isinstance(store, SheetsStore):
        raise click.ClickException("ZEUES_SPREADSHEET_ID is not set: the service is running on SQLite.")
    return store


def _report(problems: list[str]) -> None:
    for line in problems:
        click.echo(line)
    if problems:
        raise click.exceptions.Exit(1)
    click.echo("The spreadsheet has every tab and header the service needs.")


@click.command("sheets-check")
@with_appcontext
def sheets_check_command() -> None:
    """Report missing tabs and missing or repeated headers in the Google Sheet (exit 1 if any)."""
    try:
        _report(_sheets_store().check())
    except SourceUnavailable as exc:
        raise click.ClickException(exc.detail) from exc


@click.command("sheets-init")
@with_appcontext
def sheets_init_command() -> None:
    """Add missing tracking headers at the end of row 1 and missing tabs with their headers."""
    store = _sheets_store()
    try:
        for line in store.init():
            click.echo(line)
        _report(store.check())
    except SourceUnavailable as exc:
        raise click.ClickException(exc.detail) from exc


def _postgres_store():
    """The app's PostgreSQL store, or a clear refusal on another store."""
    from .stores.postgres import PostgresStore

    store = zeues().store
    if not isinstance(store, PostgresStore):
        raise click.ClickException(
            f"ZEUES_DATABASE_URL is not set: the service is running on {store.name}, whose schema needs no migration."
        )
    return store


@click.group("db")
def db_group() -> None:
    """The PostgreSQL schema (ZEUES_DATABASE_URL): its version and migrations."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade_command() -> None:
    """Apply the migrations the database lacks (safe while other instances run or start)."""
    from .stores import postgres_schema

    try:
        applied = _postgres_store().upgrade()
    except (SourceUnavailable, postgres_schema.SchemaTooNew) as exc:
        raise click.ClickException(getattr(exc, "detail", str(exc))) from exc
    for migration in applied:
        click.echo(f"Applied migration {migration.version}: {migration.description}.")
    click.echo(f"The database schema is at version {postgres_schema.LATEST}, the latest.")


@db_group.command("status")
@with_appcontext
def db_status_command() -> None:
    """Tell the database's schema version and the latest this release knows (exit 1 if they differ)."""
    from .stores import postgres_schema

    try:
        version = _postgres_store().schema_version()
    except SourceUnavailable as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(f"The database schema is at version {version}; this release knows {postgres_schema.LATEST}.")
    if version < postgres_schema.LATEST:
        click.echo("Run `flask --app wsgi db upgrade` (every instance also upgrades it when it starts).")
    elif version > postgres_schema.LATEST:
        click.echo(postgres_schema.too_new_message(version))
    if version != postgres_schema.LATEST:
        raise click.exceptions.Exit(1)


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(demo_command)
    app.cli.add_command(import_command)
    app.cli.add_command(sheets_check_command)
    app.cli.add_command(sheets_init_command)
    app.cli.add_command(db_group)
