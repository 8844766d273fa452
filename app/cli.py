"""Flask CLI commands: ``demo``, ``import`` (spools and workers from CSV: app/importer.py), ``sheets-check``,
``sheets-init``, ``db upgrade`` / ``db status`` (the PostgreSQL schema), ``workers set-pin`` and
``tokens create`` / ``list`` / ``revoke`` (SPEC §11)."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import importer
from .auth import SCOPES, check_pin
from .domain.errors import NotFound, SourceUnavailable
from .domain.machine import iso_utc
from .extensions import zeues
from .stores.base import StaleWrite


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the store already holds spools.")
@with_appcontext
def demo_command(if_empty: bool) -> None:
    """Load a demo shop: 13 workers of every role, 63 spools over all nine states (4 of them on hold)
    and the default reasons for a hold."""
    from . import demo

    store = zeues().store
    snapshot = store.snapshot()
    if if_empty and snapshot.spools:
        click.echo(f"{store.location} already holds spools; demo not loaded.")
        return
    spools = demo.spools()
    try:
        # The demo's spools start over in their demo states, unless a command lands meanwhile.
        store.load(spools, demo.WORKERS, {s.tag_spool: s.version for s in snapshot.spools}, demo.MOTIVOS)
    except StaleWrite as exc:
        raise click.ClickException(f"spool {exc} changed while loading the demo; run it again") from exc
    auth = zeues().auth
    # A slow hash per worker; hashlib releases the GIL while it works, so the cores share them.
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(lambda item: auth.set_pin(*item), demo.PINES.items()))
    click.echo(
        f"Demo shop loaded into {store.location}: {len(demo.WORKERS)} workers (PINs in the README), "
        f"{len(spools)} spools."
    )


@click.command("import")
@click.option("--spools", "spools_csv", type=click.Path(exists=True, dir_okay=False), help="Operaciones as CSV.")
@click.option("--workers", "workers_csv", type=click.Path(exists=True, dir_okay=False), help="Trabajadores as CSV.")
@click.option(
    "--overwrite-tracking",
    is_flag=True,
    help="Replace the tracking columns of spools that already exist with the file's (progress recorded on the "
    "floor is lost).",
)
@click.option("--dry-run", is_flag=True, help="Check the files and print what would change; write nothing.")
@with_appcontext
def import_command(spools_csv: str | None, workers_csv: str | None, overwrite_tracking: bool, dry_run: bool) -> None:
    """Add or update workers and spools from CSV files with the sheet's headers, all or nothing (exit 1
    and nothing written when any value is reported)."""
    if not spools_csv and not workers_csv:
        raise click.UsageError("give --spools and/or --workers")
    report = importer.import_files(
        zeues().store,
        spools_path=spools_csv,
        workers_path=workers_csv,
        zona=current_app.config["ZONA"],
        overwrite_tracking=overwrite_tracking,
        dry_run=dry_run,
    )
    for line in report.lines:
        click.echo(line)
    if report.problems:
        raise click.exceptions.Exit(1)


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
        # str(): the operator's line (an unreachable Google says why); detail is the tablet's text.
        raise click.ClickException(str(exc)) from exc


@click.command("sheets-init")
@with_appcontext
def sheets_init_command() -> None:
    """Add missing tracking headers at the end of row 1 and missing tabs with their headers."""
    from .stores.sheets import admin

    store = _sheets_store()
    try:
        for line in admin.init(store.layout):
            click.echo(line)
        _report(store.check())
    except SourceUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


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


@click.group("workers")
def workers_group() -> None:
    """Workers' PINs (SPEC §11)."""


@workers_group.command("set-pin")
@click.argument("worker_id", type=int)
@click.option("--pin-stdin", is_flag=True, help="Read the PIN from the first line of standard input (scripts).")
@with_appcontext
def workers_set_pin_command(worker_id: int, pin_stdin: bool) -> None:
    """Give worker WORKER_ID a new PIN (4 to 8 digits; asked twice, never shown); their sessions end."""
    if pin_stdin:
        pin = sys.stdin.readline().rstrip("\r\n")
    else:
        pin = click.prompt("New PIN (4 to 8 digits)", hide_input=True, confirmation_prompt="Repeat the PIN")
    try:
        check_pin(pin)
        zeues().auth.set_pin(worker_id, pin)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None  # never the PIN itself
    except (NotFound, SourceUnavailable) as exc:
        raise click.ClickException(exc.detail) from exc
    worker = zeues().store.workers()[worker_id]
    click.echo(f"PIN set for worker {worker_id} ({worker.nombre_completo}); their open sessions ended.")


def _scopes(values: tuple[str, ...]) -> tuple[str, ...]:
    """Scopes written ``--scope read command``, ``--scope read --scope command`` or ``--scope read,command``."""
    scopes = tuple(s.strip().lower() for value in values for s in value.split(",") if s.strip())
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise click.BadParameter(
            f"choose from {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})", param_hint="'--scope'"
        )
    return scopes


@click.group("tokens")
def tokens_group() -> None:
    """API tokens for integrations (SPEC §11): scopes read, command (act as any active worker named by
    worker_id) and supervise (also a supervisor's rights)."""


@tokens_group.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True, help=", ".join(SCOPES))
@click.argument("more_scopes", nargs=-1, metavar="[SCOPE]...")
@with_appcontext
def tokens_create_command(name: str, scopes: tuple[str, ...], more_scopes: tuple[str, ...]) -> None:
    """Create token NAME with the scopes after --scope (read, command, supervise) and print its secret:
    it is shown this once and stored only as a hash."""
    scopes = _scopes(scopes + more_scopes)
    try:
        secret = zeues().auth.create_token(name, scopes)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except SourceUnavailable as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(f"Token {name} created ({', '.join(scopes)}). Copy its secret now: it is not shown again.", err=True)
    click.echo(secret)


def _when(epoch: float | None) -> str:
    return iso_utc(datetime.fromtimestamp(epoch, UTC)) if epoch is not None else "never"


@tokens_group.command("list")
@with_appcontext
def tokens_list_command() -> None:
    """Every token: name, scopes, created, last used (never a secret)."""
    try:
        tokens = zeues().auth.tokens()
    except SourceUnavailable as exc:
        raise click.ClickException(exc.detail) from exc
    if not tokens:
        click.echo("No API tokens.")
        return
    rows = [("NAME", "SCOPES", "CREATED", "LAST USED")]
    rows += [(t.name, ",".join(t.scopes), _when(t.created_at), _when(t.last_used_at)) for t in tokens]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]]))


@tokens_group.command("revoke")
@click.argument("name")
@with_appcontext
def tokens_revoke_command(name: str) -> None:
    """Revoke token NAME: every process refuses it from its next request."""
    try:
        revoked = zeues().auth.revoke_token(name)
    except SourceUnavailable as exc:
        raise click.ClickException(exc.detail) from exc
    if not revoked:
        raise click.ClickException(f"no token named {name!r} (see `tokens list`)")
    click.echo(f"Token {name} revoked.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(demo_command)
    app.cli.add_command(import_command)
    app.cli.add_command(sheets_check_command)
    app.cli.add_command(sheets_init_command)
    app.cli.add_command(db_group)
    app.cli.add_command(workers_group)
    app.cli.add_command(tokens_group)
