"""The demo command and start-up configuration checks (the import has tests/test_import.py)."""

from __future__ import annotations

import collections
import subprocess
import sys

import pytest

from app import create_app
from app.config import ConfigError
from tests.conftest import ROOT


def test_demo_loads_a_shop_with_every_role_and_every_state(tmp_path):
    app = create_app({"DB": str(tmp_path / "d.sqlite3")})
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    snapshot = app.extensions["zeues"].store.snapshot()
    roles = collections.Counter(r for w in snapshot.workers if w.activo for r in w.roles)
    assert len(snapshot.workers) >= 12
    assert roles["ARMADOR"] >= 2 and roles["SOLDADOR"] >= 2 and roles["METROLOGIA"] >= 2
    assert roles["SUPERVISOR"] == 1
    assert [w.roles for w in snapshot.workers if not w.activo] == [("ARMADOR",)]
    estados = collections.Counter(s.estado for s in snapshot.spools)
    assert len(snapshot.spools) >= 60 and len(estados) == 9 and min(estados.values()) >= 3
    assert all(s.tag_spool.startswith("MK-") and s.tag_spool.count("-") == 4 for s in snapshot.spools)


@pytest.mark.parametrize(
    ("setting", "value", "names"),
    [
        ("TIMEZONE", "Mars/Base", "ZEUES_TIMEZONE"),
        ("SQLITE_SYNCHRONOUS", "SOMETIMES", "ZEUES_SQLITE_SYNCHRONOUS"),
        ("MAX_CONTENT_LENGTH", -1, "ZEUES_MAX_CONTENT_LENGTH"),
    ],
)
def test_a_bad_setting_stops_the_app_with_one_line(tmp_path, capsys, setting, value, names):
    with pytest.raises(ConfigError):
        create_app({"DB": str(tmp_path / "x.sqlite3"), setting: value})
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and names in err


def test_an_unusable_database_path_is_a_config_error(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError):
        create_app({"DB": str(tmp_path / "file" / "zeues.sqlite3")})
    assert "ZEUES_DB" in capsys.readouterr().err


def start_gunicorn(tmp_path, **settings: str) -> subprocess.CompletedProcess:
    """Run the real gunicorn with only ``settings`` in its environment, until it exits."""
    env = {"PATH": "/usr/bin:/bin", "ZEUES_DB": str(tmp_path / "g.sqlite3"), "ZEUES_BIND": "127.0.0.1:0", **settings}
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gunicorn_stops_on_a_bad_setting_instead_of_respawning(tmp_path):
    proc = start_gunicorn(tmp_path, ZEUES_TIMEZONE="Mars/Base")
    assert proc.returncode != 0
    assert "zeues: configuration error: ZEUES_TIMEZONE='Mars/Base'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_if_empty_keeps_an_existing_shop(tmp_path):
    app = create_app({"DB": str(tmp_path / "d.sqlite3")})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    tag = app.extensions["zeues"].store.snapshot().spools[0].tag_spool
    app.test_client().post("/api/tomar-accion", json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"})
    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0 and "not loaded" in result.output
    assert app.extensions["zeues"].store.spool(tag).ocupado_por == 1


def test_gunicorn_refuses_several_workers_on_a_google_sheet(tmp_path):
    proc = start_gunicorn(tmp_path, ZEUES_WORKERS="2", ZEUES_SPREADSHEET_ID="1AbC")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "zeues: configuration error: ZEUES_WORKERS must be 1 with ZEUES_SPREADSHEET_ID "
        "(two processes writing one sheet could both take the same spool)"
    ]
