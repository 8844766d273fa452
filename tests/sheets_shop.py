"""A shop in the Sheets stand-in: office-style tabs built from spools and workers, and apps on them."""

from __future__ import annotations

import atexit
import itertools
import os
from collections.abc import Iterable
from pathlib import Path

from flask import Flask

from app import create_app
from app.domain.model import (
    EVENT_FIELDS,
    MOTIVO_FIELDS,
    MOTIVOS_POR_DEFECTO,
    PIN_HASH_FIELD,
    TRABAJADOR_FIELDS,
    TRACKING_FIELDS,
    Spool,
    Worker,
)
from app.stores.rows import motivo_to_row, spool_to_row

from .sheets_emulator import SheetsEmulator

# Office columns sit between and around the tracking ones, headers spelled as people type them:
# the store must find its columns by name and never write the office's.
OPERACIONES_HEADER = [
    "Cliente",
    "TAG SPOOL",
    *TRACKING_FIELDS[:3],
    "Notas de oficina",
    *(name.upper() for name in TRACKING_FIELDS[3:7]),
    *TRACKING_FIELDS[7:],
    "Prioridad",
]
_ids = itertools.count(1)


def operaciones_row(spool: Spool, cliente: str = "Astillero Sur", notas: str = "", prioridad: str = "") -> list[str]:
    """One Operaciones row as the office would see it."""
    tracking = spool_to_row(spool)
    por_nombre = {"Cliente": cliente, "TAG SPOOL": spool.tag_spool, "Notas de oficina": notas, "Prioridad": prioridad}
    por_nombre.update({name: tracking[name] for name in TRACKING_FIELDS})
    por_nombre.update({name.upper(): tracking[name] for name in TRACKING_FIELDS[3:7]})
    return [por_nombre[h] for h in OPERACIONES_HEADER]


def shop_tabs(spools: Iterable[Spool], workers: Iterable[Worker]) -> dict[str, list[list[str]]]:
    """The tabs of a spreadsheet holding ``spools``, ``workers``, the default reasons and an empty event log."""
    return {
        "Operaciones": [OPERACIONES_HEADER, *(operaciones_row(s, notas=f"nota {i}") for i, s in enumerate(spools))],
        "Trabajadores": [
            [*TRABAJADOR_FIELDS, PIN_HASH_FIELD],
            *(
                [str(w.id), w.nombre, w.apellido, ",".join(w.roles), "TRUE" if w.activo else "FALSE", w.pin_hash or ""]
                for w in workers
            ),
        ],
        "Metadata": [list(EVENT_FIELDS)],
        "Motivos": [list(MOTIVO_FIELDS), *(motivo_to_row(m) for m in MOTIVOS_POR_DEFECTO)],
    }


_shared: list[SheetsEmulator] = []


def shared_emulator() -> SheetsEmulator:
    """One stand-in for the whole run (each app gets its own spreadsheet in it); stopped at exit."""
    if not _shared:
        emulator = SheetsEmulator()
        emulator.start()
        atexit.register(emulator.stop)
        _shared.append(emulator)
    return _shared[0]


def make_sheets_app(
    tmp_path: Path,
    spools: Iterable[Spool] = (),
    workers: Iterable[Worker] = (),
    emulator: SheetsEmulator | None = None,
    **config,
) -> Flask:
    """An app whose source of truth is a fresh spreadsheet in the stand-in holding ``spools`` and ``workers``."""
    emulator = emulator or shared_emulator()
    spreadsheet_id = f"hoja-{next(_ids)}"
    emulator.create(spreadsheet_id, shop_tabs(spools, workers))
    return create_app(
        {
            "TESTING": True,
            "AUTH": os.environ.get("ZEUES_AUTH", "pin"),  # the run's mode, as tests.conftest.run_auth_mode
            "DB": str(tmp_path / "local.sqlite3"),  # sessions and API tokens (SPEC §11)
            "SPREADSHEET_ID": spreadsheet_id,
            "SHEETS_EMULATOR_HOST": emulator.host,
            # Quick retries keep fault tests short; the bounds are what they check.
            "SHEETS_BACKOFF": 0.01,
            "SHEETS_MAX_BACKOFF": 0.05,
            # A quota this large never makes a test wait for the pacing; the tests of the quota set Google's.
            "SHEETS_READS_PER_MINUTE": 6000,
            "SHEETS_WRITES_PER_MINUTE": 6000,
            **config,
        }
    )
