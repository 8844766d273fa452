"""Identity and access (SPEC §11) over HTTP on every store: sessions opened with a PIN, what they may do,
how they end, lockouts and expiry on an injected clock, and where PINs and tokens are (not) kept."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from app import demo
from app.domain.model import Estado
from tests.conftest import tag_en
from tests.sheets_shop import make_sheets_app, shared_emulator

JUAN, PEDRO, SOLDADOR, SUPERVISOR, INACTIVO = 1, 2, 5, 11, 12
PINES = {JUAN: "4821", PEDRO: "0730", SOLDADOR: "55031", SUPERVISOR: "91827364"}


class Clock:
    """The auth service's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward (``timedelta`` keywords)."""
        self.now += timedelta(**delta)


@pytest.fixture
def shop(make_shop):
    """The demo shop in pin mode (whatever the run's ZEUES_AUTH) with a few PINs set, through the service
    as the CLI and the API set them."""
    app = make_shop(AUTH="pin")
    auth = app.extensions["zeues"].auth
    for worker_id, pin in PINES.items():
        auth.set_pin(worker_id, pin)
    return app


@pytest.fixture
def clock(shop) -> Clock:
    """The shop's auth clock, at 08:00 on a Tuesday until moved."""
    clock = Clock()
    shop.extensions["zeues"].auth.reloj = clock
    return clock


@pytest.fixture
def anonymous(shop):
    """A client that sends no credentials of its own."""
    return shop.test_client(signed=False)


def sign_in(client, worker_id: int, pin: str | None = None):
    """POST /api/sesiones with the worker's PIN of ``PINES`` (or ``pin``)."""
    return client.post("/api/sesiones", json={"worker_id": worker_id, "pin": pin or PINES[worker_id]})


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}


def token_of(client, worker_id: int) -> str:
    """A new session's token for the worker."""
    answer = sign_in(client, worker_id)
    assert answer.status_code == 201, answer.json
    return answer.json["token"]


def test_a_sign_in_answers_the_token_the_worker_and_the_end_and_never_the_pin(anonymous, clock):
    answer = sign_in(anonymous, JUAN)

    assert answer.status_code == 201
    body = answer.json
    assert set(body) == {"token", "worker", "expires_at"}
    assert body["worker"] == {
        "id": JUAN,
        "nombre": "Juan",
        "apellido": "Pérez",
        "roles": ["ARMADOR"],
        "activo": True,
        "tiene_pin": True,
    }
    assert body["expires_at"] == "2026-11-03T20:00:00Z"  # ZEUES_SESSION_HOURS = 12
    assert PINES[JUAN] not in answer.get_data(as_text=True)


def test_a_session_commands_as_its_worker_only_and_ends_when_signed_out(anonymous, shop):
    tag = tag_en(shop, Estado.DISPONIBLE)
    token = token_of(anonymous, JUAN)

    otro = anonymous.post(
        "/api/tomar-accion", json={"tag_spool": tag, "worker_id": PEDRO, "operacion": "ARM"}, headers=bearer(token)
    )
    assert (otro.status_code, otro.json["code"]) == (403, "FORBIDDEN")
    assert anonymous.get(f"/api/spools/{tag}/historial").json["events"] == []

    tomado = anonymous.post("/api/tomar-accion", json={"tag_spool": tag, "operacion": "ARM"}, headers=bearer(token))
    assert tomado.status_code == 200, tomado.json
    assert tomado.json["event"]["worker_id"] == JUAN
    assert tomado.json["event"]["metadata_json"]["via"] == "sesion"

    assert anonymous.delete("/api/sesiones/actual", headers=bearer(token)).status_code == 204
    pausa = anonymous.post("/api/pausar-accion", json={"tag_spool": tag, "operacion": "ARM"}, headers=bearer(token))
    assert (pausa.status_code, pausa.json["code"]) == (401, "UNAUTHENTICATED")
    assert pausa.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_session_outlives_a_restart_but_not_its_hours(anonymous, shop, clock, reopen):
    token = token_of(anonymous, PEDRO)
    restarted = reopen(shop)
    restarted.extensions["zeues"].auth.reloj = clock
    client = restarted.test_client(signed=False)
    tag = tag_en(restarted, Estado.DISPONIBLE)

    clock.advance(hours=11, minutes=59)
    tomado = client.post("/api/tomar-accion", json={"tag_spool": tag, "operacion": "ARM"}, headers=bearer(token))
    assert tomado.status_code == 200, tomado.json

    clock.advance(minutes=1)
    pausa = client.post("/api/pausar-accion", json={"tag_spool": tag, "operacion": "ARM"}, headers=bearer(token))
    assert (pausa.status_code, pausa.json["code"]) == (401, "UNAUTHENTICATED")


def test_five_failures_lock_the_worker_out_until_the_window_passes(anonymous, clock):
    for _ in range(5):
        clock.advance(minutes=1)
        wrong = sign_in(anonymous, JUAN, "0000")
        assert (wrong.status_code, wrong.json["code"]) == (401, "INVALID_CREDENTIALS")

    locked = sign_in(anonymous, JUAN)  # the right PIN, at 08:05
    assert (locked.status_code, locked.json["code"]) == (429, "TOO_MANY_ATTEMPTS")
    assert locked.headers["Retry-After"] == str(11 * 60)  # the first failure (08:01) leaves the window at 08:16
    assert sign_in(anonymous, PEDRO).status_code == 201  # only Juan is locked out

    clock.advance(minutes=10, seconds=59)
    assert sign_in(anonymous, JUAN).status_code == 429
    clock.advance(seconds=1)
    assert sign_in(anonymous, JUAN).status_code == 201


def test_a_success_clears_the_failures_before_it(anonymous, clock):
    for _ in range(4):
        assert sign_in(anonymous, JUAN, "0000").status_code == 401
    assert sign_in(anonymous, JUAN).status_code == 201
    for _ in range(4):
        assert sign_in(anonymous, JUAN, "0000").status_code == 401
    assert sign_in(anonymous, JUAN).status_code == 201


def test_a_supervisor_sets_a_pin_and_the_old_sessions_end(anonymous, shop):
    old = token_of(anonymous, PEDRO)
    supervisor = token_of(anonymous, SUPERVISOR)

    refused = anonymous.put(f"/api/workers/{PEDRO}/pin", json={"pin": "2468"}, headers=bearer(old))
    assert (refused.status_code, refused.json["code"]) == (403, "FORBIDDEN")
    assert (
        anonymous.put(f"/api/workers/{PEDRO}/pin", json={"pin": "2468"}, headers=bearer(supervisor)).status_code == 204
    )

    assert anonymous.get("/api/spools", headers=bearer(old)).status_code == 200  # reads are open by default
    tag = tag_en(shop, Estado.DISPONIBLE)
    tomar = anonymous.post("/api/tomar-accion", json={"tag_spool": tag, "operacion": "ARM"}, headers=bearer(old))
    assert (tomar.status_code, tomar.json["code"]) == (401, "UNAUTHENTICATED")
    assert sign_in(anonymous, PEDRO).status_code == 401
    assert sign_in(anonymous, PEDRO, "2468").status_code == 201
    tiene = {w["id"]: w["tiene_pin"] for w in anonymous.get("/api/workers").json["workers"]}
    assert tiene[PEDRO] and tiene[SUPERVISOR] and not tiene[INACTIVO]


def test_the_pin_is_kept_only_as_a_hash_bound_to_its_worker(shop):
    store = shop.extensions["zeues"].store
    pin_hash = store.workers()[JUAN].pin_hash
    assert pin_hash.startswith("scrypt:") and PINES[JUAN] not in pin_hash
    # The same hash on another worker's row (copied in the sheet by hand) opens nobody's session.
    store.set_pin_hash(PEDRO, pin_hash)
    client = shop.test_client(signed=False)
    assert sign_in(client, PEDRO, PINES[JUAN]).status_code == 401
    assert sign_in(client, JUAN).status_code == 201


def test_the_sheet_gets_the_hash_in_its_pin_hash_column_and_nothing_in_clear(tmp_path):
    app = make_sheets_app(tmp_path, demo.spools(), demo.WORKERS, AUTH="pin")
    for worker_id, pin in PINES.items():
        app.extensions["zeues"].auth.set_pin(worker_id, pin)
    client = app.test_client(signed=False)
    assert sign_in(client, JUAN).status_code == 201
    assert sign_in(client, PEDRO, "0000").status_code == 401
    store = app.extensions["zeues"].store
    tab = shared_emulator().rows(store.client.spreadsheet_id, "Trabajadores")
    header = tab[0]
    column = header.index("pin_hash")
    hashes = {int(row[0]): row[column] for row in tab[1:] if len(row) > column and row[column]}
    assert set(hashes) == set(PINES)
    assert all(h.startswith("scrypt:") for h in hashes.values())
    every_cell = [
        cell
        for name in ("Operaciones", "Trabajadores", "Metadata")
        for row in shared_emulator().rows(store.client.spreadsheet_id, name)
        for cell in row
    ]
    assert not [cell for cell in every_cell if any(pin in cell for pin in PINES.values())]


def test_session_and_api_tokens_are_stored_as_their_hash_only(anonymous, shop):
    token = token_of(anonymous, JUAN)
    credentials = shop.extensions["zeues"].auth.credentials
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert credentials.session(token) is None  # the token itself finds nothing
    assert credentials.session(digest).worker_id == JUAN
    api_token = shop.extensions["zeues"].auth.create_token("integracion", ("read",))
    assert credentials.token(api_token) is None
    assert credentials.token(hashlib.sha256(api_token.encode()).hexdigest()) is not None


def test_a_revoked_api_token_is_refused(shop):
    client = shop.test_client()  # sends the test API token
    tag = tag_en(shop, Estado.DISPONIBLE)
    assert shop.extensions["zeues"].auth.revoke_token(shop.config["TEST_API_TOKEN_NAME"])
    answer = client.post("/api/tomar-accion", json={"tag_spool": tag, "worker_id": JUAN, "operacion": "ARM"})
    assert (answer.status_code, answer.json["code"]) == (401, "UNAUTHENTICATED")


def test_open_mode_takes_a_command_without_credentials(make_shop):
    app = make_shop(AUTH="open")
    client = app.test_client()
    tag = tag_en(app, Estado.DISPONIBLE)
    answer = client.post("/api/tomar-accion", json={"tag_spool": tag, "worker_id": JUAN, "operacion": "ARM"})
    assert answer.status_code == 200, answer.json
    assert answer.json["event"]["metadata_json"]["via"] == "abierto"
    sin_worker = client.post("/api/pausar-accion", json={"tag_spool": tag, "operacion": "ARM"})
    assert (sin_worker.status_code, sin_worker.json["code"]) == (422, "VALIDATION_ERROR")
    assert client.get("/api/workers").json["auth"] == "open"


def test_a_command_token_acting_for_a_supervisor_may_not_use_a_supervisors_holds(shop, anonymous):
    """Holds of SPEC §13 are supervisor rights too: a command-only token naming a SUPERVISOR is refused
    403 FORBIDDEN (and writes nothing); the supervisor's own session may."""
    secret = shop.extensions["zeues"].auth.create_token("kiosco", ("command",))
    held = tag_en(shop, Estado.OCUPADO_SOLD)
    libre = tag_en(shop, Estado.DISPONIBLE)
    before = anonymous.get("/api/spools").json
    for path, body in [
        ("bloquear", {"tag_spool": libre, "worker_id": SUPERVISOR, "motivo": "MATERIAL"}),
        ("bloquear", {"tag_spool": held, "worker_id": SUPERVISOR, "motivo": "PLANO"}),
    ]:
        answer = anonymous.post(f"/api/{path}-accion", json=body, headers=bearer(secret))
        assert (answer.status_code, answer.json["code"]) == (403, "FORBIDDEN"), answer.json
    assert anonymous.get("/api/spools").json == before
    by_session = anonymous.post(
        "/api/bloquear-accion",
        json={"tag_spool": libre, "motivo": "MATERIAL"},
        headers=bearer(token_of(anonymous, SUPERVISOR)),
    )
    assert by_session.status_code == 200 and by_session.json["spool"]["estado"] == "BLOQUEADO"
    lift = anonymous.post(
        "/api/desbloquear-accion", json={"tag_spool": libre, "worker_id": SUPERVISOR}, headers=bearer(secret)
    )
    assert (lift.status_code, lift.json["code"]) == (403, "FORBIDDEN")
