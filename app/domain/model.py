"""The shop's vocabulary (SPEC §3, §4): spools, workers, events and the state derived from a spool."""

from __future__ import annotations

import dataclasses
import enum
import unicodedata
from collections.abc import Iterable
from typing import Any


class Operacion(enum.StrEnum):
    """The four operations a worker can take a spool for."""

    ARM = "ARM"
    SOLD = "SOLD"
    METROLOGIA = "METROLOGIA"
    REPARACION = "REPARACION"


class Accion(enum.StrEnum):
    """What a worker does with a spool."""

    TOMAR = "TOMAR"
    PAUSAR = "PAUSAR"
    COMPLETAR = "COMPLETAR"
    BLOQUEAR = "BLOQUEAR"  # put on hold: nobody may take it until a supervisor lifts the hold (SPEC §13)
    DESBLOQUEAR = "DESBLOQUEAR"


class Resultado(enum.StrEnum):
    """The outcome of an inspection."""

    APROBADO = "APROBADO"
    RECHAZADO = "RECHAZADO"


class Rol(enum.StrEnum):
    """Roles a worker may hold (Trabajadores.roles)."""

    ARMADOR = "ARMADOR"
    SOLDADOR = "SOLDADOR"
    METROLOGIA = "METROLOGIA"
    SUPERVISOR = "SUPERVISOR"


class Estado(enum.StrEnum):
    """The nine states of a spool, in flow order, and BLOQUEADO: on hold, over any of them but APROBADO."""

    DISPONIBLE = "DISPONIBLE"
    OCUPADO_ARM = "OCUPADO_ARM"
    ARM_COMPLETADO = "ARM_COMPLETADO"
    OCUPADO_SOLD = "OCUPADO_SOLD"
    SOLD_COMPLETADO = "SOLD_COMPLETADO"
    OCUPADO_METROLOGIA = "OCUPADO_METROLOGIA"
    APROBADO = "APROBADO"
    RECHAZADO = "RECHAZADO"
    EN_REPARACION = "EN_REPARACION"
    BLOQUEADO = "BLOQUEADO"


# Who may TOMAR each operation; repair is done by whoever can cut and re-weld.
ROLES_POR_OPERACION: dict[Operacion, frozenset[Rol]] = {
    Operacion.ARM: frozenset({Rol.ARMADOR}),
    Operacion.SOLD: frozenset({Rol.SOLDADOR}),
    Operacion.METROLOGIA: frozenset({Rol.METROLOGIA}),
    Operacion.REPARACION: frozenset({Rol.SOLDADOR, Rol.ARMADOR}),
}

# The operation a worker is doing while the spool is in each occupied state.
OPERACION_EN_CURSO: dict[Estado, Operacion] = {
    Estado.OCUPADO_ARM: Operacion.ARM,
    Estado.OCUPADO_SOLD: Operacion.SOLD,
    Estado.OCUPADO_METROLOGIA: Operacion.METROLOGIA,
    Estado.EN_REPARACION: Operacion.REPARACION,
}

# The Operaciones columns the service reads and writes (SPEC §3), in sheet order.
TRACKING_FIELDS: tuple[str, ...] = (
    "ocupado_por",
    "timestamp_ocupacion",
    "version",
    "armador",
    "fecha_armado",
    "soldador",
    "fecha_soldadura",
    "metrologo",
    "fecha_metrologia",
    "resultado_metrologia",
    "reparacion_ciclo",
    "bloqueo_motivo",
    "bloqueo_desde",
    "bloqueo_nota",
)

# Tracking fields that hold a worker id.
WORKER_ID_FIELDS: frozenset[str] = frozenset({"ocupado_por", "armador", "soldador", "metrologo"})

# The Metadata columns, in this order (SPEC §3).
EVENT_FIELDS: tuple[str, ...] = (
    "id",
    "timestamp",
    "evento_tipo",
    "tag_spool",
    "worker_id",
    "worker_nombre",
    "operacion",
    "accion",
    "fecha_operacion",
    "metadata_json",
)

TRABAJADOR_FIELDS: tuple[str, ...] = ("id", "nombre", "apellido", "roles", "activo")
# The Trabajadores column the service itself writes (SPEC §11): the PIN's hash, never the PIN.
PIN_HASH_FIELD = "pin_hash"

# The Motivos columns: the reasons a spool may be put on hold (SPEC §13).
MOTIVO_FIELDS: tuple[str, ...] = ("codigo", "descripcion", "activo")

# The reason whose hold must say why in a nota.
MOTIVO_CON_NOTA = "OTRO"
# The reason the system gives when it releases the spools a shift left held (SPEC §13).
FIN_DE_TURNO = "FIN_DE_TURNO"


def tag_key(tag: str) -> str:
    """What identifies a typed tag: a scanner or a person may add spaces or type it in lower case."""
    return tag.strip().casefold()


def sin_acentos(texto: str) -> str:
    """``texto`` without accents or other combining marks ("Metrología" -> "Metrologia")."""
    return "".join(c for c in unicodedata.normalize("NFKD", texto) if not unicodedata.combining(c))


def rol_de(texto: str) -> Rol | None:
    """The role ``texto`` names, ignoring case, accents and surrounding spaces, or None."""
    clave = sin_acentos(texto).strip().upper()
    return Rol(clave) if clave in Rol.__members__ else None


def parse_roles(roles: Iterable[str]) -> tuple[Rol, ...]:
    """Known roles among ``roles`` (any case or accents, padded), in canonical order; unknown ones are
    ignored here (the CSV import reports them)."""
    dados = {rol_de(r) for r in roles}
    return tuple(rol for rol in Rol if rol in dados)


@dataclasses.dataclass(frozen=True, slots=True)
class Worker:
    """A row of Trabajadores."""

    id: int
    nombre: str
    apellido: str
    roles: tuple[Rol, ...]
    activo: bool
    # The salted slow hash of the worker's PIN (SPEC §11), never the PIN. Left out of repr so no log
    # line shows it, and out of equality: a new PIN changes nothing any client sees.
    pin_hash: str | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def tiene_pin(self) -> bool:
        """Whether the worker can sign in (a PIN was set)."""
        return bool(self.pin_hash)

    @property
    def nombre_completo(self) -> str:
        """ "Nombre Apellido", as the event log and the board show it."""
        return f"{self.nombre} {self.apellido}".strip()

    def tiene_rol(self, *roles: Rol) -> bool:
        """Whether the worker holds any of ``roles``."""
        return any(rol in self.roles for rol in roles)


@dataclasses.dataclass(frozen=True, slots=True)
class Motivo:
    """A row of Motivos: why a spool may be put on hold."""

    codigo: str
    descripcion: str
    activo: bool = True


# The reasons every new shop starts with (demo, import, sheets-init, the migrations); the office may
# add its own, reword them or switch one off.
MOTIVOS_POR_DEFECTO: tuple[Motivo, ...] = (
    Motivo("MATERIAL", "Falta material"),
    Motivo("PLANO", "Plano en revisión"),
    Motivo("CALIDAD", "Retenido por calidad"),
    Motivo("EQUIPO", "Equipo no disponible"),
    Motivo(MOTIVO_CON_NOTA, "Otro motivo (ver nota)"),
)

# Who acts when the service itself releases spools at a shift's end; never a row of Trabajadores,
# and never reachable through the API (a command names it only from inside the service).
SISTEMA = Worker(0, "Sistema", "", (), True)


@dataclasses.dataclass(frozen=True, slots=True)
class Spool:
    """The tracking facts of one Operaciones row; the state is derived, never stored."""

    tag_spool: str
    ocupado_por: int | None = None
    timestamp_ocupacion: str | None = None
    version: str | None = None
    armador: int | None = None
    fecha_armado: str | None = None
    soldador: int | None = None
    fecha_soldadura: str | None = None
    metrologo: int | None = None
    fecha_metrologia: str | None = None
    resultado_metrologia: Resultado | None = None
    reparacion_ciclo: int = 0
    bloqueo_motivo: str | None = None
    bloqueo_desde: str | None = None
    bloqueo_nota: str | None = None

    @property
    def ocupado(self) -> bool:
        """Whether a worker holds the spool."""
        return self.ocupado_por is not None

    @property
    def bloqueado(self) -> bool:
        """Whether the spool is on hold (SPEC §13)."""
        return self.bloqueo_motivo is not None

    @property
    def estado(self) -> Estado:
        """The state derived from the row's facts (SPEC §4): a hold overlays the progress."""
        return Estado.BLOQUEADO if self.bloqueado else self._progreso()

    @property
    def estado_previo(self) -> Estado | None:
        """The state a held spool returns to when its hold is lifted; None when it is not held."""
        return self._progreso() if self.bloqueado else None

    def _progreso(self) -> Estado:
        """The state the progress facts alone give (SPEC §4), whether or not the spool is held."""
        if self.resultado_metrologia == Resultado.APROBADO:
            return Estado.APROBADO
        if self.resultado_metrologia == Resultado.RECHAZADO:
            return Estado.EN_REPARACION if self.ocupado else Estado.RECHAZADO
        if self.fecha_soldadura:
            return Estado.OCUPADO_METROLOGIA if self.ocupado else Estado.SOLD_COMPLETADO
        if self.fecha_armado:
            return Estado.OCUPADO_SOLD if self.ocupado else Estado.ARM_COMPLETADO
        return Estado.OCUPADO_ARM if self.ocupado else Estado.DISPONIBLE

    @property
    def operacion_actual(self) -> Operacion | None:
        """The operation under way, or None when the spool is free."""
        return OPERACION_EN_CURSO.get(self.estado)

    def tracking(self) -> dict[str, Any]:
        """The tracking fields as a dict, in sheet order."""
        return {name: getattr(self, name) for name in TRACKING_FIELDS}

    def con(self, **cambios: Any) -> Spool:
        """A copy with ``cambios`` applied."""
        return dataclasses.replace(self, **cambios)


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One row of the append-only Metadata log."""

    id: str
    timestamp: str
    evento_tipo: str
    tag_spool: str
    worker_id: int
    worker_nombre: str
    operacion: str
    accion: str
    fecha_operacion: str
    metadata_json: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The event as a plain dict in Metadata column order."""
        return {name: getattr(self, name) for name in EVENT_FIELDS}
