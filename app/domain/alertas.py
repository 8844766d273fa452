"""Alerts for supervisors (SPEC §13): spools held or on hold for longer than the plant allows."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from datetime import UTC, datetime

from .model import Spool


class TipoAlerta(enum.StrEnum):
    """What an alert is about."""

    OCUPACION_LARGA = "OCUPACION_LARGA"  # a worker has held the spool for too long
    BLOQUEO_LARGO = "BLOQUEO_LARGO"  # the spool has been on hold for too long


@dataclasses.dataclass(frozen=True, slots=True)
class Alerta:
    """One spool a supervisor should look at, since when, and for how many hours so far."""

    tipo: TipoAlerta
    tag_spool: str
    worker_id: int | None  # the holder; None for a hold (the spool is free)
    desde: str
    horas: float


def _desde(texto: str | None) -> datetime | None:
    """An ISO 8601 moment from a row; None when the office left something unreadable there."""
    try:
        momento = datetime.fromisoformat(texto or "")
    except ValueError:
        return None
    return momento if momento.tzinfo else momento.replace(tzinfo=UTC)


def alertas(spools: Iterable[Spool], ahora: datetime, ocupado_h: float, bloqueado_h: float) -> list[Alerta]:
    """The spools held longer than ``ocupado_h`` hours or on hold longer than ``bloqueado_h``, longest first."""
    found = []
    for spool in spools:
        if spool.bloqueado:
            tipo, desde, umbral, worker = TipoAlerta.BLOQUEO_LARGO, spool.bloqueo_desde, bloqueado_h, None
        elif spool.ocupado:
            tipo, desde, umbral = TipoAlerta.OCUPACION_LARGA, spool.timestamp_ocupacion, ocupado_h
            worker = spool.ocupado_por
        else:
            continue
        momento = _desde(desde)
        if momento is None:
            continue
        horas = (ahora - momento).total_seconds() / 3600
        if horas > umbral:
            found.append(Alerta(tipo, spool.tag_spool, worker, desde or "", round(horas, 2)))
    return sorted(found, key=lambda a: -a.horas)
