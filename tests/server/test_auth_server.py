"""Identity and access (SPEC §11) on the real gunicorn + gevent server: every status and code from real
requests, refusals that change nothing, sessions across restarts and processes, lockouts, tokens, and
PINs that never show in clear."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from app.demo import PINES
from tests.conftest import ROOT, LiveServer
from tests.server.test_bad_requests import raw_exchange

pytestmark = pytest.mark.server

JUAN, PEDRO, FRANCISCA, LUIS, CARLOS, DIEGO, ANDRES, SUPERVISOR, INACTIVO = 1, 2, 3, 4, 5, 6, 7, 11, 12
SIN_PIN = 50  # a worker added without a PIN
LOCKOUT_S = 4  # the module server's lockout window (ZEUES_PIN_LOCKOUT_S), short enough to wait out
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def flask_cli(server: LiveServer, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``flask --app wsgi ARGS`` on the server's data, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def new_token(server: LiveServer, name: str, *scopes: str) -> str:
    """An API token made with ``tokens create``; its secret is the one line on stdout."""
    done = flask_cli(server, "tokens", "create", name, *(f"--scope={s}" for s in scopes))
    assert done.returncode == 0, done.stderr
    [secret] = done.stdout.split()
    return secret


def call(server: LiveServer, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
    """One request to the API, with ``Authorization: Bearer token`` when given."""
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{server.url}/api{path}", headers=headers, timeout=15, **kwargs)


def sign_in(server: LiveServer, worker_id: int, pin: str | None = None) -> requests.Response:
    """POST /api/sesiones with the worker's demo PIN (or ``pin``)."""
    return call(server, "POST", "/sesiones", json={"worker_id": worker_id, "pin": pin or PINES[worker_id]})


def session(server: LiveServer, worker_id: int) -> str:
    """A new session's token for the worker."""
    answer = sign_in(server, worker_id)
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def spool_in(server: LiveServer, estado: str, index: int = 0, holder: int | None = None) -> str:
    """The tag of a spool in ``estado`` (held by ``holder`` when given)."""
    params = {"estado": estado, **({"ocupado_por": holder} if holder else {})}
    return requests.get(f"{server.url}/api/spools", params=params, timeout=10).json()["spools"][index]["tag_spool"]


def what_clients_see(server: LiveServer) -> tuple[str, list[dict], int]:
    """The shop's cursor, every spool, and how many events the log holds for them."""
    listing = requests.get(f"{server.url}/api/spools", timeout=10).json()
    events = sum(
        len(requests.get(f"{server.url}/api/spools/{s['tag_spool']}/historial", timeout=10).json()["events"])
        for s in listing["spools"]
    )
    return listing["cursor"], listing["spools"], events


def assert_problem(answer: requests.Response, status: int, code: str) -> dict:
    """The SPEC §5 problem+json answer for ``status`` / ``code``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert (body["status"], body["code"]) == (status, code)
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    return body


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """One pin-mode server for the module (the default mode, set explicitly), with a short lockout window
    and a worker who has no PIN; each test works on its own workers and spools."""
    live = LiveServer(tmp_path_factory.mktemp("auth"), {"ZEUES_AUTH": "pin", "ZEUES_PIN_LOCKOUT_S": str(LOCKOUT_S)})
    live.load_demo()
    with sqlite3.connect(live.db) as db:  # as an import of the office's list would add them
        db.execute(
            "INSERT INTO trabajadores (id, nombre, apellido, roles, activo) VALUES (?, ?, ?, ?, 1)",
            (SIN_PIN, "Nueva", "Persona", "ARMADOR"),
        )
    live.start()
    yield live
    live.stop()


def test_every_refusal_answers_its_code_and_changes_nothing(server):
    libre = spool_in(server, "DISPONIBLE")
    held = spool_in(server, "OCUPADO_ARM", holder=JUAN)
    pedro, supervisor = session(server, PEDRO), session(server, SUPERVISOR)
    lectura, comandos = new_token(server, "tablero", "read"), new_token(server, "kiosco", "command")
    cerrada = session(server, PEDRO)
    assert call(server, "DELETE", "/sesiones/actual", cerrada).status_code == 204
    tomar = {"tag_spool": libre, "worker_id": PEDRO, "operacion": "ARM"}
    too_large = json.dumps({**tomar, "version": "x" * 70_000})
    before = what_clients_see(server)

    refusals = [
        # Credentials come first: 401 before the body is looked at.
        (call(server, "POST", "/tomar-accion", json=tomar), 401, "UNAUTHENTICATED"),
        (call(server, "POST", "/tomar-accion", "not-a-token", json=tomar), 401, "UNAUTHENTICATED"),
        (
            call(server, "POST", "/tomar-accion", headers={"Authorization": "Basic cGVkcm86MDIwMg=="}, json=tomar),
            401,
            "UNAUTHENTICATED",
        ),
        (call(server, "POST", "/tomar-accion", cerrada, json=tomar), 401, "UNAUTHENTICATED"),
        (
            call(server, "POST", "/tomar-accion", data="{", headers={"Content-Type": "application/json"}),
            401,
            "UNAUTHENTICATED",
        ),
        (
            call(server, "POST", "/tomar-accion", data=too_large, headers={"Content-Type": "application/json"}),
            401,
            "UNAUTHENTICATED",
        ),
        (call(server, "POST", "/tomar-accion", json={"tag_spool": libre}), 401, "UNAUTHENTICATED"),
        # Then the body's own errors: 400, 413, 422 (an unreadable body says nothing about whom it names).
        (
            call(server, "POST", "/tomar-accion", pedro, data="{", headers={"Content-Type": "application/json"}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            call(server, "POST", "/tomar-accion", pedro, data=too_large, headers={"Content-Type": "application/json"}),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            call(server, "POST", "/tomar-accion", pedro, json={"tag_spool": libre, "worker_id": JUAN}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            call(server, "POST", "/tomar-accion", comandos, json={"tag_spool": libre, "operacion": "ARM"}),
            422,
            "VALIDATION_ERROR",
        ),  # a token acts for the worker the body names: it must name one
        # Then 403 FORBIDDEN: a session acts only as its worker; a token only within its scopes.
        (call(server, "POST", "/tomar-accion", pedro, json={**tomar, "worker_id": JUAN}), 403, "FORBIDDEN"),
        (call(server, "POST", "/tomar-accion", lectura, json=tomar), 403, "FORBIDDEN"),
        (
            call(
                server,
                "POST",
                "/pausar-accion",
                comandos,
                json={"tag_spool": held, "worker_id": SUPERVISOR, "operacion": "ARM"},
            ),
            403,
            "FORBIDDEN",
        ),
        # Signing out needs a session; a new PIN needs a supervisor.
        (call(server, "DELETE", "/sesiones/actual"), 401, "UNAUTHENTICATED"),
        (call(server, "DELETE", "/sesiones/actual", comandos), 403, "FORBIDDEN"),
        (call(server, "PUT", f"/workers/{PEDRO}/pin", json={"pin": "4321"}), 401, "UNAUTHENTICATED"),
        (call(server, "PUT", f"/workers/{PEDRO}/pin", pedro, json={"pin": "4321"}), 403, "FORBIDDEN"),
        (call(server, "PUT", f"/workers/{PEDRO}/pin", supervisor, json={"pin": "43a1"}), 422, "VALIDATION_ERROR"),
        (call(server, "PUT", "/workers/999/pin", supervisor, json={"pin": "4321"}), 404, "NOT_FOUND"),
        # Signing in.
        (sign_in(server, CARLOS, "0000"), 401, "INVALID_CREDENTIALS"),
        (sign_in(server, 999, "0000"), 401, "INVALID_CREDENTIALS"),
        (sign_in(server, INACTIVO), 403, "WORKER_INACTIVE"),
        (sign_in(server, SIN_PIN, "1234"), 403, "PIN_NOT_SET"),
        (sign_in(server, CARLOS, "12"), 422, "VALIDATION_ERROR"),
        (
            call(
                server,
                "POST",
                "/sesiones",
                data="worker_id=5&pin=0505",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            400,
            "VALIDATION_ERROR",
        ),
    ]

    for answer, status, code in refusals:
        assert_problem(answer, status, code)
    wrong_pin, unknown = refusals[20][0].json(), refusals[21][0].json()
    assert wrong_pin == unknown  # the same answer: a guess learns nothing of who exists
    assert what_clients_see(server) == before  # no row and no event changed
    # The refused PIN change left Pedro's PIN as it was.
    assert sign_in(server, PEDRO).status_code == 201


def test_a_session_acts_as_its_worker_and_the_event_says_so(server):
    tag = spool_in(server, "DISPONIBLE", 1)
    token = session(server, FRANCISCA)

    tomado = call(server, "POST", "/tomar-accion", token, json={"tag_spool": tag, "operacion": "ARM"})

    assert tomado.status_code == 200, tomado.text
    assert tomado.json()["spool"]["ocupado_por"] == FRANCISCA
    [event] = requests.get(f"{server.url}/api/spools/{tag}/historial", timeout=10).json()["events"]
    assert (event["worker_id"], event["metadata_json"]["via"]) == (FRANCISCA, "sesion")


def test_a_supervisors_session_releases_anothers_spool_and_a_supervise_token_too(server):
    first, second = spool_in(server, "OCUPADO_SOLD", 0), spool_in(server, "OCUPADO_SOLD", 1)
    supervise = new_token(server, "erp-supervisor", "supervise")

    by_session = call(
        server,
        "POST",
        "/pausar-accion",
        session(server, SUPERVISOR),
        json={"tag_spool": first, "operacion": "SOLD", "motivo": "Cambio de turno"},
    )
    by_token = call(
        server,
        "POST",
        "/pausar-accion",
        supervise,
        json={"tag_spool": second, "worker_id": SUPERVISOR, "operacion": "SOLD", "motivo": "Cambio de turno"},
    )

    assert (by_session.status_code, by_token.status_code) == (200, 200)
    assert by_session.json()["event"]["metadata_json"]["via"] == "sesion"
    assert by_token.json()["event"]["metadata_json"]["via"] == "token:erp-supervisor"
    assert by_token.json()["event"]["metadata_json"]["supervisor"] is True


def test_sessions_survive_a_restart_and_sign_out_ends_them(server):
    tag = spool_in(server, "ARM_COMPLETADO")
    token = session(server, CARLOS)

    server.restart()

    tomado = call(server, "POST", "/tomar-accion", token, json={"tag_spool": tag, "operacion": "SOLD"})
    assert tomado.status_code == 200, tomado.text
    assert call(server, "DELETE", "/sesiones/actual", token).status_code == 204
    pausa = call(server, "POST", "/pausar-accion", token, json={"tag_spool": tag, "operacion": "SOLD"})
    assert_problem(pausa, 401, "UNAUTHENTICATED")
    assert requests.get(f"{server.url}/api/spools/{tag}", timeout=10).json()["ocupado_por"] == CARLOS


def test_a_new_pin_ends_the_sessions_opened_with_the_old_one(server):
    token = session(server, DIEGO)
    assert (
        call(server, "PUT", f"/workers/{DIEGO}/pin", session(server, SUPERVISOR), json={"pin": "52741"}).status_code
        == 204
    )

    tag = spool_in(server, "ARM_COMPLETADO")
    assert_problem(
        call(server, "POST", "/tomar-accion", token, json={"tag_spool": tag, "operacion": "SOLD"}),
        401,
        "UNAUTHENTICATED",
    )
    assert_problem(sign_in(server, DIEGO), 401, "INVALID_CREDENTIALS")
    assert sign_in(server, DIEGO, "52741").status_code == 201
    tiene = {w["id"]: w["tiene_pin"] for w in requests.get(f"{server.url}/api/workers", timeout=10).json()["workers"]}
    assert tiene[DIEGO] and not tiene[SIN_PIN]


def test_five_wrong_pins_lock_the_sign_in_until_the_window_passes_even_with_the_right_pin(server):
    for _ in range(5):
        assert_problem(sign_in(server, LUIS, "9999"), 401, "INVALID_CREDENTIALS")

    locked = sign_in(server, LUIS)  # the right PIN
    assert_problem(locked, 429, "TOO_MANY_ATTEMPTS")
    assert 1 <= int(locked.headers["Retry-After"]) <= LOCKOUT_S
    assert sign_in(server, ANDRES).status_code == 201  # the others are not locked out

    deadline = time.monotonic() + LOCKOUT_S + 10
    while (answer := sign_in(server, LUIS)).status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.25)  # polling the lockout's end under a deadline
    assert answer.status_code == 201, answer.text


def test_api_tokens_are_created_listed_and_revoked_and_never_shown_again(server):
    secret = new_token(server, "erp", "command", "read")
    assert secret.startswith("zeues_")
    listed = flask_cli(server, "tokens", "list")
    [line] = [row for row in listed.stdout.splitlines() if row.startswith("erp ")]
    assert line.split()[:2] == ["erp", "read,command"] and line.split()[-1] == "never"
    assert secret not in listed.stdout

    tag = spool_in(server, "DISPONIBLE", 2)
    tomado = call(
        server, "POST", "/tomar-accion", secret, json={"tag_spool": tag, "worker_id": PEDRO, "operacion": "ARM"}
    )
    assert tomado.status_code == 200, tomado.text
    assert tomado.json()["event"]["metadata_json"]["via"] == "token:erp"
    [line] = [row for row in flask_cli(server, "tokens", "list").stdout.splitlines() if row.startswith("erp ")]
    assert line.split()[-1].endswith("Z")  # last used: now

    assert flask_cli(server, "tokens", "create", "erp", "--scope", "read").returncode == 1  # the name is taken
    revoked = flask_cli(server, "tokens", "revoke", "erp")
    assert revoked.returncode == 0, revoked.stderr
    pausa = call(
        server, "POST", "/pausar-accion", secret, json={"tag_spool": tag, "worker_id": PEDRO, "operacion": "ARM"}
    )
    assert_problem(pausa, 401, "UNAUTHENTICATED")
    assert flask_cli(server, "tokens", "revoke", "erp").returncode == 1


def test_every_answer_carries_the_security_headers(server):
    answers = [
        requests.get(f"{server.url}{path}", timeout=10)
        for path in ("/", "/board", "/static/js/station.js", "/api/health", "/api/spools", "/api/nada")
    ]
    answers.append(call(server, "POST", "/tomar-accion", json={}))  # 401
    answers.append(requests.delete(f"{server.url}/api/spools", timeout=10))  # 405
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value, (answer.url, name)
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    # gunicorn's own answers too
    status, headers, _ = raw_exchange(server, b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400
    assert {name: headers[name.lower()] for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert headers["content-security-policy"].startswith("default-src 'self'")


def test_the_pin_never_shows_in_clear(tmp_path):
    server = LiveServer(tmp_path, {"ZEUES_AUTH": "pin", "ZEUES_ACCESSLOG": "-"})
    server.load_demo()
    server.start()
    pines = {"cli": "73915824", "api": "46028173", "wrong": "99018263"}
    seen: list[str] = []
    try:
        done = flask_cli(server, "workers", "set-pin", str(CARLOS), "--pin-stdin", stdin=pines["cli"] + "\n")
        assert done.returncode == 0, done.stderr
        seen += [done.stdout, done.stderr]
        supervisor = session(server, SUPERVISOR)
        answers = [
            call(server, "PUT", f"/workers/{DIEGO}/pin", supervisor, json={"pin": pines["api"]}),
            sign_in(server, CARLOS, pines["cli"]),
            sign_in(server, DIEGO, pines["api"]),
            sign_in(server, DIEGO, pines["wrong"]),
            call(server, "PUT", f"/workers/{DIEGO}/pin", supervisor, json={"pin": pines["wrong"] + "x"}),  # 422
        ]
        assert [a.status_code for a in answers] == [204, 201, 201, 401, 422]
        tag = spool_in(server, "ARM_COMPLETADO")
        token = answers[1].json()["token"]
        answers.append(call(server, "POST", "/tomar-accion", token, json={"tag_spool": tag, "operacion": "SOLD"}))
        answers.append(requests.get(f"{server.url}/api/spools/{tag}/historial", timeout=10))
        answers.append(requests.get(f"{server.url}/api/workers", timeout=10))
        seen += [a.text for a in answers] + [json.dumps(dict(a.headers)) for a in answers]
    finally:
        server.stop()
    seen.append(server.log.read_text())
    assert "POST /api/sesiones" in seen[-1]  # the access log was on
    for pin in pines.values():
        assert not any(pin in text for text in seen), pin
    # Nor in the database: PINs only as salted hashes, session tokens only as SHA-256.
    stored = server.db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("live.sqlite3-*"))
    for secret in [*pines.values(), token]:
        assert secret.encode() not in stored


def test_open_mode_says_so_once_at_start_and_takes_commands_without_credentials(tmp_path):
    server = LiveServer(tmp_path, {"ZEUES_AUTH": "open", "ZEUES_WORKERS": "2"})  # once, not once per process
    server.load_demo()
    server.start()
    try:
        tag = spool_in(server, "DISPONIBLE")
        tomado = call(server, "POST", "/tomar-accion", json={"tag_spool": tag, "worker_id": PEDRO, "operacion": "ARM"})
        refused = call(
            server,
            "POST",
            "/pausar-accion",
            "not-a-token",
            json={"tag_spool": tag, "worker_id": PEDRO, "operacion": "ARM"},
        )
        workers = requests.get(f"{server.url}/api/workers", timeout=10).json()
    finally:
        server.stop()
    assert tomado.status_code == 200, tomado.text
    assert tomado.json()["event"]["metadata_json"]["via"] == "abierto"
    assert_problem(refused, 401, "UNAUTHENTICATED")  # credentials that are sent are still checked
    assert workers["auth"] == "open"
    warnings = [line for line in server.log.read_text().splitlines() if "ZEUES_AUTH=open" in line]
    assert len(warnings) == 1, warnings


def test_reads_need_a_read_token_when_asked_and_the_board_takes_it_in_its_url(tmp_path):
    server = LiveServer(tmp_path, {"ZEUES_AUTH": "pin", "ZEUES_READ_AUTH": "token"})
    server.load_demo()
    server.start()
    try:
        lectura, comandos = new_token(server, "tablero", "read"), new_token(server, "kiosco", "command")
        cursor = requests.get(f"{server.url}/api/spools", params={"token": lectura}, timeout=10)
        answers = {
            "no token": requests.get(f"{server.url}/api/spools", timeout=10),
            "feed": requests.get(f"{server.url}/api/changes", timeout=10),
            "board page": requests.get(f"{server.url}/board", timeout=10),
            "station page": requests.get(f"{server.url}/", timeout=10),
            "command token": call(server, "GET", "/workers", comandos),
            "read token": call(server, "GET", "/workers", lectura),
            "read token in the URL": requests.get(f"{server.url}/api/changes", params={"token": lectura}, timeout=10),
            "session": call(server, "GET", "/spools", session(server, PEDRO), params={"estado": "DISPONIBLE"}),
            "board page with its token": requests.get(f"{server.url}/board", params={"token": lectura}, timeout=10),
            "health": requests.get(f"{server.url}/api/health", timeout=10),
            "scripts": requests.get(f"{server.url}/static/js/board.js", timeout=10),
        }
    finally:
        server.stop()
    for name in ("no token", "feed", "board page", "station page"):
        assert_problem(answers[name], 401, "UNAUTHENTICATED")
    assert_problem(answers["command token"], 403, "FORBIDDEN")
    for name in ("read token", "read token in the URL", "session", "board page with its token", "health", "scripts"):
        assert answers[name].status_code == 200, name
    assert cursor.status_code == 200 and answers["read token in the URL"].json()["reset"] is True
    assert 'data-testid="board"' in answers["board page with its token"].text


def test_a_sign_out_or_a_new_pin_on_one_instance_is_refused_by_the_other(tmp_path, postgres_url):
    instances = []
    for name in ("instance-a", "instance-b"):  # two instances of two processes each, on one database
        (tmp_path / name).mkdir()
        env = {"ZEUES_AUTH": "pin", "ZEUES_WORKERS": "2"}
        instances.append(LiveServer(tmp_path / name, env, database_url=postgres_url, name=name))
    a, b = instances
    a.load_demo()
    a.start()
    b.start()
    try:
        tags = [spool_in(b, "DISPONIBLE", i) for i in range(2)]
        signed_out, new_pin = session(a, PEDRO), session(a, FRANCISCA)
        for token, tag in ((signed_out, tags[0]), (new_pin, tags[1])):
            # The other instance (either of its processes) takes the session at once.
            assert (
                call(b, "POST", "/tomar-accion", token, json={"tag_spool": tag, "operacion": "ARM"}).status_code == 200
            )

        assert call(a, "DELETE", "/sesiones/actual", signed_out).status_code == 204
        assert (
            call(a, "PUT", f"/workers/{FRANCISCA}/pin", session(a, SUPERVISOR), json={"pin": "8642"}).status_code == 204
        )

        for token, tag in ((signed_out, tags[0]), (new_pin, tags[1])):
            for _ in range(4):  # whichever process of b answers
                pausa = call(b, "POST", "/pausar-accion", token, json={"tag_spool": tag, "operacion": "ARM"})
                assert_problem(pausa, 401, "UNAUTHENTICATED")
        assert sign_in(b, FRANCISCA, "8642").status_code == 201
    finally:
        a.stop()
        b.stop()
