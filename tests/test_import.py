"""`flask import`: office CSV files in the encodings and separators spreadsheet programs save, every
value checked (nothing written when one is reported), and progress recorded on the floor kept."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.domain.model import Estado, Rol, Worker
from app.stores.sqlite import SqliteStore
from tests.conftest import ROOT, make_sqlite_app

WORKERS_HEADER = ["ID", "Nombre", "Apellido", "Roles", "Activo"]
# As the office exports Operaciones: its own columns around the tracking ones, headers as people type them.
TRACKING_HEADER = [
    "Cliente",
    "TAG SPOOL",
    "Ocupado Por",
    "Timestamp Ocupacion",
    "version",
    "Armador",
    "Fecha Armado",
    "Soldador",
    "Fecha Soldadura",
    "Metrologo",
    "Fecha Metrologia",
    "Resultado Metrologia",
    "Reparacion Ciclo",
]


def write_csv(path: Path, rows: list[list[str]], separator: str = ",", encoding: str = "utf-8") -> str:
    """``rows`` saved as a spreadsheet program would: CRLF lines, ``separator``, ``encoding``."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=separator, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return str(path)


def run_import(app, *args: str):
    """The CLI command through Flask's runner."""
    return app.test_cli_runner().invoke(args=["import", *args])


def lines(result) -> list[str]:
    return result.output.splitlines()


@pytest.fixture
def shop(tmp_path):
    """An app on an empty SQLite file: a shop about to be started."""
    app = make_sqlite_app(tmp_path / "shop")
    yield app
    app.extensions["zeues"].store.close()


def snapshot(app):
    return app.extensions["zeues"].store.snapshot()


@pytest.mark.parametrize(
    ("encoding", "label", "separator", "separated_by"),
    [
        ("utf-8", "UTF-8", ",", "commas"),
        ("utf-8-sig", "UTF-8 with BOM", ";", "semicolons"),
        ("cp1252", "Windows-1252 (not UTF-8)", ";", "semicolons"),
        ("cp1252", "Windows-1252 (not UTF-8)", ",", "commas"),
        ("utf-16", "UTF-16", "\t", "tabs"),
        ("utf-8", "UTF-8", "\t", "tabs"),
    ],
)
def test_files_in_the_encodings_and_separators_spreadsheets_save_are_read_and_said(
    shop, tmp_path, encoding, label, separator, separated_by
):
    workers = write_csv(
        tmp_path / "trabajadores.csv",
        [
            WORKERS_HEADER,
            ["7", "Ñico", "Pérez", "ARMADOR, Metrología", "VERDADERO"],
            ["8", "Begoña", "Íñiguez", "soldador", "FALSO"],
        ],
        separator,
        encoding,
    )
    spools = write_csv(
        tmp_path / "operaciones.csv",
        [["Descripción", "TAG SPOOL"], ['Codo 90°, 6"', "MK-1"], ["Tubería; recta", "MK-2"]],
        separator,
        encoding,
    )

    result = run_import(shop, "--workers", workers, "--spools", spools)

    assert result.exit_code == 0, result.output
    assert lines(result) == [
        f"{workers}: read as {label}, columns separated by {separated_by}, 2 rows.",
        f"{spools}: read as {label}, columns separated by {separated_by}, 2 rows.",
        "Workers: 2 added, 0 updated, 0 unchanged.",
        "Spools: 2 new, 0 unchanged, 0 updated, 0 kept.",
        "Imported.",
    ]
    assert snapshot(shop).workers == (
        Worker(7, "Ñico", "Pérez", (Rol.ARMADOR, Rol.METROLOGIA), True),
        Worker(8, "Begoña", "Íñiguez", (Rol.SOLDADOR,), False),
    )
    assert [s.tag_spool for s in snapshot(shop).spools] == ["MK-1", "MK-2"]


def test_a_first_line_without_the_key_column_says_what_to_change_in_which_file(shop, tmp_path):
    spools = write_csv(tmp_path / "operaciones.csv", [["TAG|Cliente"], ["MK-1|ACME"]])

    result = run_import(shop, "--spools", spools)

    assert result.exit_code == 1
    assert lines(result) == [
        f"{spools}: missing TAG_SPOOL in the first line, read as 'TAG|Cliente' (separated by commas): name every "
        "column in the first line (case, accents and spaces vs underscores do not matter), with commas, semicolons "
        "or tabs between them.",
        "Nothing was imported: 1 problem to fix (above).",
    ]
    assert snapshot(shop).spools == ()


def test_names_of_workers_in_worker_columns_become_their_ids(app, tmp_path):
    workers = write_csv(tmp_path / "trabajadores.csv", [WORKERS_HEADER, ["20", "Ñico", "Pérez", "SOLDADOR", "TRUE"]])
    spools = write_csv(
        tmp_path / "operaciones.csv",
        [
            ["TAG SPOOL", "Armador", "Soldador"],
            ["MK-9-A", "juan perez", "  NICO  Pérez "],
            ["MK-9-B", "Luis Muñoz", "5"],
        ],
    )

    result = run_import(app, "--workers", workers, "--spools", spools)

    assert result.exit_code == 0, result.output
    store = app.extensions["zeues"].store
    assert (store.spool("MK-9-A").armador, store.spool("MK-9-A").soldador) == (1, 20)
    assert (store.spool("MK-9-B").armador, store.spool("MK-9-B").soldador) == (4, 5)


def test_dates_iso_or_day_first_are_stored_as_iso(shop, tmp_path):
    workers = write_csv(tmp_path / "trabajadores.csv", [WORKERS_HEADER, ["7", "Ñico", "Pérez", "ARMADOR", "TRUE"]])
    typed = {"MK-1": "2026-11-03", "MK-2": "3/11/2026", "MK-3": "03-11-2026", "MK-4": " 31/1/2026 ", "MK-5": "2026-2-1"}
    spools = write_csv(
        tmp_path / "operaciones.csv",
        [["TAG SPOOL", "Armador", "Fecha Armado"], *([t, "7", f] for t, f in typed.items())],
    )

    result = run_import(shop, "--workers", workers, "--spools", spools)

    assert result.exit_code == 0, result.output
    fechas = {s.tag_spool: s.fecha_armado for s in snapshot(shop).spools}
    assert fechas == {
        "MK-1": "2026-11-03",
        "MK-2": "2026-11-03",
        "MK-3": "2026-11-03",
        "MK-4": "2026-01-31",
        "MK-5": "2026-02-01",
    }


def test_occupation_times_are_stored_in_utc_and_plant_time_is_the_default(tmp_path):
    app = make_sqlite_app(tmp_path, TIMEZONE="America/Bogota")  # UTC-5 all year
    workers = write_csv(tmp_path / "trabajadores.csv", [WORKERS_HEADER, ["7", "Ñico", "Pérez", "ARMADOR", "TRUE"]])
    typed = {"MK-1": "3/11/2026 8:15", "MK-2": "2026-11-03T08:15:00-03:00", "MK-3": "2026-11-03 13:15:00Z"}
    spools = write_csv(
        tmp_path / "operaciones.csv",
        [["TAG SPOOL", "Ocupado Por", "Timestamp Ocupacion"], *([t, "7", ts] for t, ts in typed.items())],
    )

    result = run_import(app, "--workers", workers, "--spools", spools)

    assert result.exit_code == 0, result.output
    desde = {s.tag_spool: (s.timestamp_ocupacion, s.estado) for s in snapshot(app).spools}
    assert desde == {
        "MK-1": ("2026-11-03T13:15:00Z", Estado.OCUPADO_ARM),
        "MK-2": ("2026-11-03T11:15:00Z", Estado.OCUPADO_ARM),
        "MK-3": ("2026-11-03T13:15:00Z", Estado.OCUPADO_ARM),
    }
    app.extensions["zeues"].store.close()


VALID_WORKERS = [
    WORKERS_HEADER,
    ["20", "Rosa", "Vera", "SOLDADOR", "TRUE"],
    ["21", "Juan", "Perez", "ARMADOR", "FALSE"],
]
VALID_SPOOLS = [
    [
        "TAG SPOOL",
        "Armador",
        "Fecha Armado",
        "Ocupado Por",
        "Timestamp Ocupacion",
        "Resultado Metrologia",
        "Reparacion Ciclo",
    ],
    ["MK-9-A", "20", "2026-11-03", "", "", "", ""],
    ["MK-9-B", "", "", "", "", "", "0"],
]


@pytest.mark.parametrize(
    ("file", "row", "column", "value", "message"),
    [
        ("workers", 2, "Roles", "ARMADOR, Metrólogo", "names an unknown role (Metrólogo): roles are ARMADOR, "
         "SOLDADOR, METROLOGIA, SUPERVISOR, separated by commas"),
        ("workers", 2, "Activo", "quizás", "is not TRUE or FALSE"),
        ("workers", 3, "Activo", "", "is empty: write TRUE or FALSE"),
        ("workers", 3, "ID", "7a", "is not a whole number"),
        ("workers", 3, "Nombre", "", "is empty: every worker needs a name"),
        ("spools", 2, "Armador", "Juan Pérez", "is the name of several workers (ids 1, 21): write the id"),
        ("spools", 2, "Armador", "Pedro Nadie", "is neither a worker id nor the full name of a known worker"),
        ("spools", 2, "Armador", "99", "is the id of no worker (neither in the workers file nor already in the store)"),
        ("spools", 2, "Fecha Armado", "31/02/2026", "is not a day of the calendar (dates are read day first: "
         "D/M/YYYY)"),
        ("spools", 2, "Fecha Armado", "03/11/26", "is not a date: write YYYY-MM-DD, or D/M/YYYY with the day first"),
        ("spools", 2, "Fecha Armado", "3 nov 2026", "is not a date: write YYYY-MM-DD, or D/M/YYYY with the day first"),
        ("spools", 2, "Resultado Metrologia", "OK", "is not a result: write APROBADO or RECHAZADO, or leave it empty"),
        ("spools", 3, "Reparacion Ciclo", "dos", "is not a whole number"),
        ("spools", 3, "Reparacion Ciclo", "-1", "is not a whole number"),
        ("spools", 2, "Ocupado Por", "20", "names a holder but 'Timestamp Ocupacion' is empty: a held spool needs "
         "both, a free one neither"),
        ("spools", 3, "Timestamp Ocupacion", "2026-11-03T08:15:00Z", "is the time of a TOMAR but 'Ocupado Por' is "
         "empty: a held spool needs both, a free one neither"),
        ("spools", 3, "Timestamp Ocupacion", "ayer", "is not a date and time: write ISO 8601 (2026-11-03T08:15:00Z), "
         "or D/M/YYYY H:MM in plant time"),
        ("spools", 3, "TAG SPOOL", "", "is empty: every row needs its tag (delete the row if it is not a spool)"),
        ("spools", 3, "TAG SPOOL", "MK-" + "9" * 62, "is not a tag: write 1 to 64 printable characters"),
    ],
)  # fmt: skip
def test_a_value_the_import_cannot_understand_is_named_and_nothing_is_imported(
    app, tmp_path, file, row, column, value, message
):
    tables = {"workers": [list(r) for r in VALID_WORKERS], "spools": [list(r) for r in VALID_SPOOLS]}
    tables[file][row - 1][tables[file][0].index(column)] = value
    paths = {name: write_csv(tmp_path / f"{name}.csv", rows) for name, rows in tables.items()}
    before = snapshot(app)

    result = run_import(app, "--workers", paths["workers"], "--spools", paths["spools"])

    assert result.exit_code == 1
    assert lines(result)[2:] == [
        f"{paths[file]} row {row}, column {column!r}: {value!r} {message}",
        "Nothing was imported: 1 problem to fix (above).",
    ]
    assert snapshot(app) == before


def test_the_valid_files_of_the_table_above_import(app, tmp_path):
    workers = write_csv(tmp_path / "workers.csv", VALID_WORKERS)
    spools = write_csv(tmp_path / "spools.csv", VALID_SPOOLS)

    result = run_import(app, "--workers", workers, "--spools", spools)

    assert result.exit_code == 0, result.output
    assert lines(result)[2:4] == [
        "Workers: 2 added, 0 updated, 0 unchanged.",
        "Spools: 2 new, 0 unchanged, 0 updated, 0 kept.",
    ]
    store = app.extensions["zeues"].store
    assert store.spool("MK-9-A").estado == Estado.ARM_COMPLETADO and store.spool("MK-9-A").version
    assert store.workers()[21] == Worker(21, "Juan", "Perez", (Rol.ARMADOR,), False)


@pytest.mark.parametrize(
    ("file", "rows", "expected"),
    [
        (
            "spools",
            [["TAG SPOOL"], ["MK-9-A"], ["MK-9-B"], [" mk-9-a "], ["MK-9-C"], ["MK-9-A"]],
            "rows 2, 4 and 6, column 'TAG SPOOL': 'MK-9-A' is repeated: each spool has one row (tags match ignoring "
            "case).",
        ),
        (
            "workers",
            [WORKERS_HEADER, ["20", "Rosa", "Vera", "SOLDADOR", "TRUE"], ["20", "Ana", "Soto", "ARMADOR", "TRUE"]],
            "rows 2 and 3, column 'ID': '20' is repeated: each worker needs an id of its own.",
        ),
    ],
)
def test_a_repeated_key_is_refused_naming_every_row(app, tmp_path, file, rows, expected):
    path = write_csv(tmp_path / f"{file}.csv", rows)
    before = snapshot(app)

    result = run_import(app, f"--{file}", path)

    assert result.exit_code == 1
    assert lines(result)[1:] == [f"{path} {expected}", "Nothing was imported: 1 problem to fix (above)."]
    assert snapshot(app) == before


# --- re-importing over a shop at work ---------------------------------------------------------------

SHOP_WORKERS = [
    WORKERS_HEADER,
    ["7", "Ñico", "Pérez", "ARMADOR", "TRUE"],
    ["8", "Ana", "Soto", "SOLDADOR", "TRUE"],
    ["9", "Eva", "Ríos", "METROLOGIA", "TRUE"],
]
EMPTY_TRACKING = [""] * (len(TRACKING_HEADER) - 2)
SHOP_SPOOLS = [TRACKING_HEADER, ["ACME", "MK-1", *EMPTY_TRACKING], ["ACME", "MK-2", *EMPTY_TRACKING]]
APROBAR = [
    ("tomar", 7, "ARM", {}),
    ("completar", 7, "ARM", {}),
    ("tomar", 8, "SOLD", {}),
    ("completar", 8, "SOLD", {}),
    ("tomar", 9, "METROLOGIA", {}),
    ("completar", 9, "METROLOGIA", {"resultado": "APROBADO"}),
]
CAMBIOS = "armador, fecha_armado, soldador, fecha_soldadura, metrologo, fecha_metrologia, resultado_metrologia"


@pytest.fixture
def at_work(shop, tmp_path):
    """The shop started from the office's files, with MK-1 approved on the floor through the API."""
    paths = {
        "--workers": write_csv(tmp_path / "trabajadores.csv", SHOP_WORKERS),
        "--spools": write_csv(tmp_path / "operaciones.csv", SHOP_SPOOLS),
    }
    assert run_import(shop, *(a for pair in paths.items() for a in pair)).exit_code == 0
    client = shop.test_client()
    for endpoint, worker, operacion, extra in APROBAR:
        body = {"tag_spool": "MK-1", "worker_id": worker, "operacion": operacion, **extra}
        assert client.post(f"/api/{endpoint}-accion", json=body).status_code == 200
    return paths


def test_reimporting_the_same_files_keeps_the_progress_and_its_version(shop, at_work):
    store = shop.extensions["zeues"].store
    aprobado, events = store.spool("MK-1"), store.events("MK-1")
    assert aprobado.estado == Estado.APROBADO

    result = run_import(shop, *(a for pair in at_work.items() for a in pair))

    assert result.exit_code == 0, result.output
    assert lines(result)[2:] == [
        "Workers: 0 added, 0 updated, 3 unchanged.",
        "Spools: 0 new, 1 unchanged, 0 updated, 1 kept.",
        "Kept as the floor recorded them although the file differs (1 spool; --overwrite-tracking takes the file's "
        "instead):",
        f"  row 2, MK-1: kept APROBADO; the file says DISPONIBLE ({CAMBIOS})",
        "Nothing to write.",
    ]
    assert store.spool("MK-1") == aprobado
    assert store.events("MK-1") == events
    assert shop.test_client().get("/api/spools/MK-1").json["estado"] == "APROBADO"


def test_a_file_that_disagrees_on_many_spools_lists_the_first_and_counts_the_rest(app, tmp_path):
    before = snapshot(app)
    rows = [TRACKING_HEADER, *(["ACME", s.tag_spool, *EMPTY_TRACKING] for s in before.spools)]
    # The file has no hold columns: a spool on hold over DISPONIBLE agrees with it.
    progressed = [
        (row, s) for row, s in enumerate(before.spools, start=2) if (s.estado_previo or s.estado) != Estado.DISPONIBLE
    ]

    result = run_import(app, "--spools", write_csv(tmp_path / "operaciones.csv", rows))

    assert result.exit_code == 0, result.output
    out = lines(result)
    unchanged = len(before.spools) - len(progressed)
    assert out[1] == f"Spools: 0 new, {unchanged} unchanged, 0 updated, {len(progressed)} kept."
    listed = [line for line in out if line.startswith("  row ")]
    row, first = progressed[0]
    assert len(listed) == 20
    assert listed[0].startswith(f"  row {row}, {first.tag_spool}: kept {first.estado}; the file says DISPONIBLE (")
    assert out[-2:] == [f"  ... and {len(progressed) - 20} more.", "Nothing to write."]
    assert snapshot(app) == before


def test_overwrite_tracking_takes_the_files_values_with_a_new_version(shop, at_work):
    store = shop.extensions["zeues"].store
    aprobado, events = store.spool("MK-1"), store.events("MK-1")

    result = run_import(shop, *(a for pair in at_work.items() for a in pair), "--overwrite-tracking")

    assert result.exit_code == 0, result.output
    assert lines(result)[3:] == [
        "Spools: 0 new, 1 unchanged, 1 updated, 0 kept.",
        "Tracking replaced by the file's (--overwrite-tracking, 1 spool):",
        f"  row 2, MK-1: APROBADO -> DISPONIBLE ({CAMBIOS})",
        "Imported.",
    ]
    ahora = store.spool("MK-1")
    assert ahora.estado == Estado.DISPONIBLE and ahora.armador is None
    assert ahora.version and ahora.version != aprobado.version
    assert store.events("MK-1") == events  # the log is never rewritten


def test_a_spool_changed_on_the_floor_while_importing_is_never_overwritten(shop, at_work, tmp_path, monkeypatch):
    store = shop.extensions["zeues"].store
    planned_on = store.snapshot()  # the import reads this, then MK-2 is taken before it writes
    client = shop.test_client()
    assert (
        client.post("/api/tomar-accion", json={"tag_spool": "MK-2", "worker_id": 7, "operacion": "ARM"}).status_code
        == 200
    )
    tomado = store.spool("MK-2")
    monkeypatch.setattr(store, "snapshot", lambda: planned_on)
    spools = write_csv(
        tmp_path / "nuevas.csv",
        [TRACKING_HEADER, ["ACME", "MK-2", "", "", "", "7", "2026-11-03", *EMPTY_TRACKING[5:]], ["ACME", "MK-3"]],
    )

    result = run_import(shop, "--spools", spools, "--overwrite-tracking")

    assert result.exit_code == 1
    assert lines(result)[-1] == (
        "Nothing was imported: spool MK-2 changed while importing (a command on the floor or another import); "
        "run the import again."
    )
    monkeypatch.undo()
    assert store.spool("MK-2") == tomado
    assert store.spool("MK-3") is None


def test_workers_are_updated_and_a_dry_run_writes_nothing(app, tmp_path):
    workers = write_csv(
        tmp_path / "trabajadores.csv",
        [
            WORKERS_HEADER,
            ["12", "Roberto", "Morales", "ARMADOR,SOLDADOR", "TRUE"],
            ["20", "Rosa", "Vera", "SOLDADOR", "1"],
        ],
    )
    spools = write_csv(tmp_path / "operaciones.csv", [["TAG SPOOL", "Soldador"], ["MK-9-A", "Rosa Vera"]])
    before = snapshot(app)
    expected = [
        "Workers: 1 added, 1 updated, 0 unchanged.",
        "Spools: 1 new, 0 unchanged, 0 updated, 0 kept.",
        f"Left as they are: {len(before.spools)} spools in the store but not in the file.",
    ]

    dry = run_import(app, "--workers", workers, "--spools", spools, "--dry-run")

    assert dry.exit_code == 0, dry.output
    assert lines(dry)[2:] == [*expected, "Dry run: nothing was written (run again without --dry-run to import)."]
    assert snapshot(app) == before

    real = run_import(app, "--workers", workers, "--spools", spools)

    assert real.exit_code == 0, real.output
    assert lines(real)[2:] == [*expected, "Imported."]
    store = app.extensions["zeues"].store
    assert store.workers()[12] == Worker(12, "Roberto", "Morales", (Rol.ARMADOR, Rol.SOLDADOR), True)
    assert store.spool("MK-9-A").soldador == 20
    assert snapshot(app).spools[:-1] == before.spools


# --- files of an earlier version of this suite, still true ------------------------------------------


def test_import_reads_csv_with_the_sheets_headers(shop, tmp_path):
    (tmp_path / "trabajadores.csv").write_text(
        'ID,Nombre,Apellido,Roles,Activo\n7,Ñico,Pérez,"ARMADOR, SOLDADOR",TRUE\n8,Ana,Soto,METROLOGIA,FALSE\n',
        encoding="utf-8",
    )
    (tmp_path / "spools.csv").write_text(
        "Cliente,TAG SPOOL,Fecha Armado,armador,Ocupado Por,Timestamp Ocupacion\n"
        "ACME,MK-1-CW-2-001,,,,\nACME,MK-1-CW-2-002,2026-01-02,7,7,2026-01-02T10:00:00Z\n\n",
        encoding="utf-8",
    )
    result = run_import(shop, "--spools", str(tmp_path / "spools.csv"), "--workers", str(tmp_path / "trabajadores.csv"))
    assert result.exit_code == 0, result.output
    client = shop.test_client()
    spools = {s["tag_spool"]: s for s in client.get("/api/spools").json["spools"]}
    assert spools["MK-1-CW-2-001"]["estado"] == "DISPONIBLE"
    assert spools["MK-1-CW-2-002"]["estado"] == "OCUPADO_SOLD"
    assert spools["MK-1-CW-2-002"]["ocupado_por_nombre"] == "Ñico Pérez"
    workers = client.get("/api/workers").json["workers"]
    assert workers[0]["roles"] == ["ARMADOR", "SOLDADOR"] and workers[1]["activo"] is False


def test_import_refuses_a_csv_without_the_key_column(shop, tmp_path):
    (tmp_path / "spools.csv").write_text("Cliente,Tag\nACME,MK-1\n", encoding="utf-8")
    result = run_import(shop, "--spools", str(tmp_path / "spools.csv"))
    assert result.exit_code != 0 and "missing TAG_SPOOL" in result.output
    assert snapshot(shop).spools == ()


def test_import_refuses_a_repeated_tracking_column(shop, tmp_path):
    (tmp_path / "spools.csv").write_text("TAG_SPOOL,Ocupado Por,ocupado_por\nMK-1,1,2\n", encoding="utf-8")
    result = run_import(shop, "--spools", str(tmp_path / "spools.csv"))
    assert result.exit_code != 0 and "duplicated ocupado_por" in result.output
    assert snapshot(shop).spools == ()


# --- the real command, as the README runs it ------------------------------------------------------


def flask_import(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "import", *args],
        cwd=ROOT,
        env={**os.environ, "ZEUES_DB": str(db)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_imports_a_spanish_locale_export_and_refuses_a_bad_one_whole(tmp_path):
    db = tmp_path / "zeues.sqlite3"
    workers = write_csv(tmp_path / "trabajadores.csv", SHOP_WORKERS, ";", "cp1252")
    spools = write_csv(
        tmp_path / "operaciones.csv",
        [["TAG SPOOL", "Armador", "Fecha Armado"], ["MK-1", "Ñico Pérez", "03/11/2026"], ["MK-2", "", ""]],
        ";",
        "cp1252",
    )

    done = flask_import(db, "--workers", workers, "--spools", spools)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{workers}: read as Windows-1252 (not UTF-8), columns separated by semicolons, 3 rows.",
        f"{spools}: read as Windows-1252 (not UTF-8), columns separated by semicolons, 2 rows.",
        "Workers: 3 added, 0 updated, 0 unchanged.",
        "Spools: 2 new, 0 unchanged, 0 updated, 0 kept.",
        "Imported.",
    ]
    store = SqliteStore(str(db))
    try:
        imported = store.snapshot()
        assert [(s.tag_spool, s.armador, s.fecha_armado) for s in imported.spools] == [
            ("MK-1", 7, "2026-11-03"),
            ("MK-2", None, None),
        ]
        assert [w.nombre_completo for w in imported.workers] == ["Ñico Pérez", "Ana Soto", "Eva Ríos"]

        bad = write_csv(tmp_path / "mal.csv", [["TAG SPOOL", "Armador"], ["MK-3", "7"], ["MK-4", "Metrología"]])
        refused = flask_import(db, "--spools", bad)

        assert refused.returncode == 1
        assert refused.stdout.splitlines()[1:] == [
            f"{bad} row 3, column 'Armador': 'Metrología' is neither a worker id nor the full name of a known worker",
            "Nothing was imported: 1 problem to fix (above).",
        ]
        assert store.snapshot() == imported
    finally:
        store.close()
