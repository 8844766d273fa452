"""How spools and events look to clients (SPEC §5 shapes), as plain JSON-ready dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .machine import acciones
from .model import Event, Spool, Worker


def spool_view(spool: Spool, workers: Mapping[int, Worker]) -> dict[str, Any]:
    """The Spool shape: tracking fields plus estado, holder's name, operation and allowed actions."""
    holder = workers.get(spool.ocupado_por) if spool.ocupado_por is not None else None
    vista: dict[str, Any] = {"tag_spool": spool.tag_spool, **spool.tracking()}
    if vista["resultado_metrologia"] is not None:
        vista["resultado_metrologia"] = str(vista["resultado_metrologia"])
    operacion = spool.operacion_actual
    vista.update(
        estado=str(spool.estado),
        ocupado_por_nombre=holder.nombre_completo if holder else None,
        operacion_actual=str(operacion) if operacion else None,
        acciones=acciones(spool),
    )
    return vista


def event_view(event: Event) -> dict[str, Any]:
    """The Event shape: the Metadata columns with ``metadata_json`` as an object."""
    return event.as_dict()


def worker_view(worker: Worker) -> dict[str, Any]:
    """The Worker shape."""
    return {
        "id": worker.id,
        "nombre": worker.nombre,
        "apellido": worker.apellido,
        "roles": [str(r) for r in worker.roles],
        "activo": worker.activo,
    }
