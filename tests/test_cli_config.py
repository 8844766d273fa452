"""The demo command and start-up configuration checks (the import has tests/test_import.py)."""

from __future__ import annotations

import collections
import functools
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app import create_app, demo
from app.config import ConfigError
from tests.conftest import ROOT, LiveServer, limit_open_files


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
    assert len(snapshot.spools) >= 60 and len(estados) == 10 and min(estados.values()) >= 3
    # A few spools on hold, for different reasons, over free states (a hold releases the spool).
    held = [s for s in snapshot.spools if s.estado == "BLOQUEADO"]
    assert len({s.bloqueo_motivo for s in held}) == len(held) >= 3
    assert all(s.ocupado_por is None and s.estado_previo and s.bloqueo_desde for s in held)
    motivos = [m.codigo for m in app.extensions["zeues"].store.motivos()]
    assert motivos == ["MATERIAL", "PLANO", "CALIDAD", "EQUIPO", "OTRO"]
    assert all(s.tag_spool.startswith("MK-") and s.tag_spool.count("-") == 4 for s in snapshot.spools)
    # Every worker can sign in with the PIN the README lists (SPEC §11).
    assert all(w.tiene_pin for w in snapshot.workers)
    client = app.test_client(signed=False)
    for worker in (w for w in snapshot.workers if w.activo):
        answer = client.post("/api/sesiones", json={"worker_id": worker.id, "pin": demo.PINES[worker.id]})
        assert answer.status_code == 201, (worker.id, answer.json)


@pytest.mark.parametrize(
    ("setting", "value", "names"),
    [
        ("TIMEZONE", "Mars/Base", "ZEUES_TIMEZONE"),
        ("SQLITE_SYNCHRONOUS", "SOMETIMES", "ZEUES_SQLITE_SYNCHRONOUS"),
        ("MAX_CONTENT_LENGTH", -1, "ZEUES_MAX_CONTENT_LENGTH"),
        ("AUTH", "none", "ZEUES_AUTH"),
        ("READ_AUTH", "pin", "ZEUES_READ_AUTH"),
        ("SESSION_HOURS", 0, "ZEUES_SESSION_HOURS"),
        ("PIN_LOCKOUT_S", "soon", "ZEUES_PIN_LOCKOUT_S"),
    ],
)
def test_a_bad_setting_stops_the_app_with_one_line(tmp_path, capsys, setting, value, names):
    with pytest.raises(ConfigError) as caught:
        create_app({"DB": str(tmp_path / "x.sqlite3"), setting: value})
    line = str(caught.value)
    assert len(line.splitlines()) == 1 and line.startswith("zeues: configuration error: ") and names in line
    # Whoever stops the start prints the line (the interpreter, gunicorn's worker), not the exception itself.
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("settings", "held"),
    [({}, 3000), ({"WORKER_CONNECTIONS": 100}, 75), ({"WORKER_CONNECTIONS": 100, "MAX_WAITERS": 99}, 99)],
)
def test_the_waiter_limit_defaults_to_three_quarters_of_the_worker_connections(tmp_path, settings, held):
    app = create_app({"DB": str(tmp_path / "w.sqlite3"), **settings})
    assert app.test_client().get("/api/health").json["max_waiters"] == held


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"MAX_WAITERS": 4000}, "ZEUES_MAX_WAITERS=4000 must be below ZEUES_WORKER_CONNECTIONS=4000"),
        ({"MAX_WAITERS": 0}, "ZEUES_MAX_WAITERS=0 must be a whole number of at least 1"),
        ({"MAX_WAITERS": "many"}, "ZEUES_MAX_WAITERS='many' must be a whole number"),
        ({"WORKER_CONNECTIONS": 2.5}, "ZEUES_WORKER_CONNECTIONS=2.5 must be a whole number"),
    ],
)
def test_a_waiter_limit_that_would_lock_commands_out_stops_the_app(tmp_path, settings, says):
    with pytest.raises(ConfigError) as caught:
        create_app({"DB": str(tmp_path / "w.sqlite3"), **settings})
    assert says in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_gunicorn_refuses_a_waiter_limit_that_takes_every_connection_with_one_line(tmp_path):
    proc = start_gunicorn(tmp_path, ZEUES_WORKER_CONNECTIONS="50", ZEUES_MAX_WAITERS="50")
    assert proc.returncode == 4  # gunicorn's "App failed to load": the master halts
    assert "must be below ZEUES_WORKER_CONNECTIONS=50" in the_one_line(proc.stderr, "ZEUES_MAX_WAITERS")


def test_gunicorn_refuses_worker_connections_the_open_file_limit_cannot_hold(tmp_path):
    proc = start_gunicorn(tmp_path, open_files=(256, 512), ZEUES_WORKER_CONNECTIONS="1000")
    assert proc.returncode != 0
    assert proc.stderr.strip() == the_one_line(proc.stderr, "ZEUES_WORKER_CONNECTIONS")
    assert "ZEUES_WORKER_CONNECTIONS=1000 needs 1128 open files, but this process may open at most 512" in proc.stderr
    assert "set at most 384" in proc.stderr
    assert not (tmp_path / "g.sqlite3").exists()


def test_an_unusable_database_path_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError) as caught:
        create_app({"DB": str(tmp_path / "file" / "zeues.sqlite3")})
    assert "ZEUES_DB" in caught.value.message


def run_server_command(
    tmp_path, args: list[str], settings: dict[str, str | None], open_files: tuple[int, int] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` in the checkout with only ``settings`` in its environment (None removes a
    default) and ``open_files`` as its RLIMIT_NOFILE, until it exits: a start that does not stop by itself
    within the bound fails the test."""
    env = {"PATH": "/usr/bin:/bin", "ZEUES_DB": str(tmp_path / "g.sqlite3"), "ZEUES_BIND": "127.0.0.1:0", **settings}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env={name: value for name, value in env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=None if open_files is None else functools.partial(limit_open_files, open_files),
    )


def start_gunicorn(
    tmp_path, open_files: tuple[int, int] | None = None, **settings: str | None
) -> subprocess.CompletedProcess:
    """Run the real gunicorn with only ``settings`` in its environment, until it exits."""
    return run_server_command(tmp_path, ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], settings, open_files)


def the_one_line(stderr: str, name: str) -> str:
    """The single configuration error line naming ``name``; there is no traceback."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if name in line]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("zeues: configuration error: "), stderr
    return lines[0]


def test_gunicorn_stops_on_a_bad_setting_instead_of_respawning(tmp_path):
    proc = start_gunicorn(tmp_path, ZEUES_TIMEZONE="Mars/Base")
    assert proc.returncode == 4  # gunicorn's "App failed to load": the master halts
    assert "ZEUES_TIMEZONE='Mars/Base'" in the_one_line(proc.stderr, "ZEUES_TIMEZONE")


def test_the_flask_cli_stops_on_a_bad_setting_with_one_line(tmp_path):
    proc = run_server_command(tmp_path, ["flask", "--app", "wsgi", "demo"], {"ZEUES_TIMEZONE": "Mars/Base"})
    assert proc.returncode != 0
    assert proc.stderr.strip() == the_one_line(proc.stderr, "ZEUES_TIMEZONE")
    assert not (tmp_path / "g.sqlite3").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ZEUES_WORKERS", "two"),
        ("ZEUES_WORKERS", "0"),  # gunicorn would listen with no worker: every request hangs
        ("ZEUES_WORKER_CONNECTIONS", "many"),
        ("ZEUES_WORKER_CONNECTIONS", "0"),
        ("ZEUES_PORT", "http"),
        ("ZEUES_BIND", "127.0.0.1:99999"),
        ("ZEUES_ACCESSLOG", "{tmp}/no-such-folder/access.log"),
        ("ZEUES_ACCESSLOG", "{tmp}"),  # a folder, not a file
    ],
)
def test_gunicorn_refuses_a_bad_server_setting_with_one_line(tmp_path, name, value):
    value = value.format(tmp=tmp_path)
    # ZEUES_BIND, when set, wins over ZEUES_PORT.
    proc = start_gunicorn(tmp_path, **({"ZEUES_BIND": None} if name == "ZEUES_PORT" else {}), **{name: value})
    assert proc.returncode != 0
    assert proc.stderr.strip() == the_one_line(proc.stderr, name)
    assert repr(value) in proc.stderr
    assert not (tmp_path / "g.sqlite3").exists()


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


@pytest.mark.server
def test_accesslog_yes_logs_requests_to_stdout_instead_of_a_file_named_yes(tmp_path):
    stray = ROOT / "yes"
    existed = stray.exists()
    server = LiveServer(tmp_path, env={"ZEUES_ACCESSLOG": "yes"})
    try:
        server.start()
        requests.get(f"{server.url}/api/workers", timeout=10)
    finally:
        server.stop()
        created = not existed and stray.exists()
        if created:
            stray.unlink()
    assert not created
    assert '"GET /api/workers HTTP/1.1" 200' in server.log.read_text()


@pytest.fixture(scope="module")
def service_account_key() -> dict[str, str]:
    """The fields of a service account's JSON key, with a real (throwaway) RSA private key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account",
        "project_id": "zeues-test",
        "private_key_id": "0123456789abcdef",
        "private_key": private_key.decode(),
        "client_email": "zeues@zeues-test.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def sheets_app(tmp_path, key_text: str):
    """create_app on a spreadsheet whose key file holds ``key_text``."""
    key = tmp_path / "key.json"
    key.write_text(key_text)
    return create_app(
        {"DB": str(tmp_path / "s.sqlite3"), "SPREADSHEET_ID": "1AbC", "GOOGLE_APPLICATION_CREDENTIALS": str(key)}
    )


def damaged(key: dict[str, str], damage: str | dict[str, str | None]) -> str:
    """The key file's text: ``damage`` itself, or the key with those fields changed (None removes one)."""
    if isinstance(damage, str):
        return damage
    return json.dumps({field: value for field, value in {**key, **damage}.items() if value is not None})


BAD_PEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        ("{not json", "is not JSON"),
        ("[]", "is not a service account key"),
        ({"private_key": None}, "missing private_key"),
        ({"client_email": ""}, "missing client_email"),
        ({"type": None}, "missing type"),
        ({"type": "authorized_user"}, "not a 'service_account' key"),
        ({"private_key": BAD_PEM}, "private_key cannot be loaded"),
    ],
    ids=["not-json", "not-an-object", "no-private-key", "empty-client-email", "no-type", "oauth-client", "bad-pem"],
)
def test_a_broken_service_account_key_stops_the_start_with_one_line(tmp_path, service_account_key, damage, says):
    with pytest.raises(ConfigError) as caught:
        sheets_app(tmp_path, damaged(service_account_key, damage))
    assert len(str(caught.value).splitlines()) == 1
    assert caught.value.message.startswith("GOOGLE_APPLICATION_CREDENTIALS=") and says in caught.value.message
    # The same file, repaired, is accepted (the check reads the key; it does not call Google).
    app = sheets_app(tmp_path, json.dumps(service_account_key))
    assert app.extensions["zeues"].store.name == "sheets"


@pytest.mark.parametrize(
    "command",
    [["flask", "--app", "wsgi", "sheets-check"], ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]],
    ids=["sheets-check", "gunicorn"],
)
def test_a_key_file_that_is_not_json_stops_sheets_check_and_the_server_with_one_line(tmp_path, command):
    (tmp_path / "key.json").write_text("this is not the key\n")
    settings = {"ZEUES_SPREADSHEET_ID": "1AbC", "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "key.json")}
    proc = run_server_command(tmp_path, command, settings)
    assert proc.returncode != 0
    assert "is not JSON" in the_one_line(proc.stderr, "GOOGLE_APPLICATION_CREDENTIALS")


@pytest.fixture
def no_route_to_google(tmp_path, service_account_key) -> dict[str, str]:
    """Settings of a spreadsheet whose key's token_uri is a loopback port nobody listens on: every call
    fails to get a token, as with no route to Google. A request that tried to leave anyway would meet
    the same closed port as its proxy."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    key = tmp_path / "key.json"
    key.write_text(json.dumps({**service_account_key, "token_uri": f"{closed}/token"}))
    return {
        "ZEUES_SPREADSHEET_ID": "1AbC",
        "GOOGLE_APPLICATION_CREDENTIALS": str(key),
        "ZEUES_SHEETS_BACKOFF": "0.01",
        "ZEUES_SHEETS_MAX_BACKOFF": "0.05",
        "HTTPS_PROXY": closed,
        "HTTP_PROXY": closed,
        "NO_PROXY": "127.0.0.1",
    }


def test_sheets_check_with_no_route_to_google_says_why_in_one_line(tmp_path, no_route_to_google):
    proc = run_server_command(tmp_path, ["flask", "--app", "wsgi", "sheets-check"], no_route_to_google)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "Google Sheets unreachable" in line and "Connection refused" in line
    assert proc.stdout == ""


@pytest.mark.server
def test_gunicorn_starts_with_no_route_to_google_and_answers_503(tmp_path, no_route_to_google):
    log = tmp_path / "gunicorn.log"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Open mode: the command reaches the store (in pin mode it would stop at the credentials, 401).
    env = {**os.environ, "ZEUES_AUTH": "open", "ZEUES_DB": str(tmp_path / "g.sqlite3")}
    env["ZEUES_BIND"] = f"127.0.0.1:{port}"
    with open(log, "ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env={**env, **no_route_to_google},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "not reachable at start" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)  # readiness probe of a starting process, not synchronisation of a test
        answer = requests.post(
            f"http://127.0.0.1:{port}/api/tomar-accion",
            json={"tag_spool": "MK-1", "worker_id": 1, "operacion": "ARM"},
            timeout=30,
        )
    finally:
        server.terminate()
        server.wait(30)
    assert answer.status_code == 503
    assert answer.json()["code"] == "SOURCE_UNAVAILABLE"
    assert int(answer.headers["Retry-After"]) >= 1
    text = log.read_text()
    assert "Traceback" not in text
    # Unreachable is not misconfigured: the worker starts, saying why in one line.
    [line] = [line for line in text.splitlines() if "not reachable at start" in line]
    assert "Google Sheets unreachable" in line and "Connection refused" in line
