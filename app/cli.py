"""Flask CLI commands: ``demo``, ``import`` (spools and workers from CSV), ``sheets-check``, ``sheets-init``."""

from __future__ import annotations

import csv

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .domain.errors import SourceUnavailable
from .domain.model import TRABAJADOR_FIELDS, TRACKING_FIELDS
from .extensions import zeues
from .stores.base import StaleWrite
from .stores.rows import TAG_HEADER, HeaderProblem, fold, locate, spool_from_row, worker_from_row


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the store already holds spools.")
@with_appcontext
def demo_command(if_empty: bool) -> None:
    """Load a demo shop: 13 workers of every role and 63 spools over all nine states."""
    from . import demo

    store = zeues().store
    snapshot = store.snapshot()
    if if_empty and snapshot.spools:
        click.echo(f"{current_app.config['DB']} already holds spools; demo not loaded.")
        return
    spools = demo.spools()
    try:
        # The demo's spools start over in their demo states, unless a command lands meanwhile.
        store.load(spools, demo.WORKERS, {s.tag_spool: s.version for s in snapshot.spools})
    except StaleWrite as exc:
        raise click.ClickException(f"spool {exc} changed while loading the demo; run it again") from exc
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


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(demo_command)
    app.cli.add_command(import_command)
    app.cli.add_command(sheets_check_command)
    app.cli.add_command(sheets_init_command)
