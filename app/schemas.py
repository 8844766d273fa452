"""Marshmallow schemas: request bodies, the one definition of every wire shape (SPEC §5), and the OpenAPI document."""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from .domain.alertas import TipoAlerta
from .domain.machine import acciones
from .domain.model import TRACKING_FIELDS, Accion, Estado, Operacion, Resultado, Rol, Spool, Worker

# The OpenAPI ``format`` of a string checked by ``printable`` (JSON Schema has no word for it).
PRINTABLE = "printable"


class Printable(validate.Length):
    """Between ``min`` and ``max`` printable characters (no control, format or separator characters but the
    space); a Length, so the OpenAPI document states the bounds."""

    def __call__(self, value: str) -> str:
        if not value.isprintable():
            raise ValidationError(self._format_error(value, self.error))
        return super().__call__(value)


def printable(min_len: int, max_len: int) -> validate.Validator:
    """Between ``min_len`` and ``max_len`` printable characters (no control characters)."""
    return Printable(min_len, max_len, error=f"Debe tener entre {min_len} y {max_len} caracteres imprimibles.")


def printable_string(min_len: int, max_len: int, **kwargs: Any) -> fields.String:
    """A string field of ``min_len`` to ``max_len`` printable characters, documented as such."""
    metadata = {"format": PRINTABLE, **kwargs.pop("metadata", {})}
    return fields.String(validate=printable(min_len, max_len), metadata=metadata, **kwargs)


class JsonInteger(fields.Integer):
    """An integer that must be a JSON number without a fraction: no strings, booleans or 1.5."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Debe ser un número entero JSON.")
        return value


# A worker id fits every store's column (PostgreSQL's integer is the narrowest): a larger one is no
# worker's, and is refused at the door (422) instead of failing deep in a store.
WORKER_ID_MAX = 2**31 - 1


def worker_id_field(**kwargs: Any) -> JsonInteger:
    """A worker id in a body: a JSON integer from 0 (the system) to ``WORKER_ID_MAX``."""
    return JsonInteger(
        validate=validate.Range(0, WORKER_ID_MAX, error="Debe ser un número de trabajador entre {min} y {max}."),
        **kwargs,
    )


def _enum(enum_cls: type, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf([str(m) for m in enum_cls]), **kwargs)


def acting_worker_id() -> JsonInteger:
    """The ``worker_id`` of a command body: who acts (SPEC §11)."""
    return worker_id_field(
        metadata={
            "example": 1,
            "description": "The worker who acts. With a worker's session it may be left out (the session's "
            "worker acts; another id answers 403 FORBIDDEN); with an API token, or without credentials in "
            "open mode, it is required (422 without it).",
        }
    )


class ComandoSchema(Schema):
    """Body of /api/tomar-accion; unknown fields are refused."""

    tag_spool = printable_string(1, 64, required=True, metadata={"example": "MK-1335-CW-25238-001"})
    worker_id = acting_worker_id()
    operacion = _enum(Operacion, required=True, metadata={"example": "ARM"})
    version = printable_string(0, 64, allow_none=True)

    class Meta:
        ordered = True


class LiberarSchema(ComandoSchema):
    """Body of /api/pausar-accion: a supervisor releasing someone else's spool says why (SPEC §13)."""

    motivo = printable_string(
        1,
        200,
        metadata={
            "description": "Why a SUPERVISOR releases another worker's spool: required then (422 without it), "
            "logged in the event's metadata_json; the holder may give one too."
        },
    )


class CompletarSchema(LiberarSchema):
    """Body of /api/completar-accion: ``resultado`` is required iff the operation is METROLOGIA."""

    resultado = _enum(Resultado)

    @validates_schema
    def _resultado(self, data: dict[str, Any], **kwargs: Any) -> None:
        metrologia = data.get("operacion") == Operacion.METROLOGIA
        if metrologia and not data.get("resultado"):
            raise ValidationError("Obligatorio para COMPLETAR METROLOGIA (APROBADO o RECHAZADO).", "resultado")
        if not metrologia and "resultado" in data:
            raise ValidationError("Solo se admite con la operación METROLOGIA.", "resultado")


# What CompletarSchema._resultado checks, stated in the OpenAPI document as well (JSON Schema cannot
# say it with properties alone): a client generated from the document then sends only bodies we accept.
COMPLETAR_RESULTADO_RULE = {
    "oneOf": [
        {"properties": {"operacion": {"enum": [str(Operacion.METROLOGIA)]}}, "required": ["resultado"]},
        {
            "properties": {"operacion": {"enum": [str(o) for o in Operacion if o != Operacion.METROLOGIA]}},
            "not": {"required": ["resultado"]},
        },
    ]
}


class BloquearSchema(Schema):
    """Body of /api/bloquear-accion (SPEC §13); unknown fields are refused."""

    tag_spool = printable_string(1, 64, required=True)
    worker_id = acting_worker_id()
    motivo = printable_string(
        1, 64, required=True, metadata={"description": "An active codigo of GET /api/motivos (422 otherwise)"}
    )
    nota = printable_string(1, 200, metadata={"description": "Required with motivo OTRO: what holds the spool"})
    version = printable_string(0, 64, allow_none=True)

    class Meta:
        ordered = True


class DesbloquearSchema(Schema):
    """Body of /api/desbloquear-accion (SPEC §13); only a SUPERVISOR may lift a hold."""

    tag_spool = printable_string(1, 64, required=True)
    worker_id = acting_worker_id()
    nota = printable_string(1, 200)
    version = printable_string(0, 64, allow_none=True)

    class Meta:
        ordered = True


class CommandHeadersSchema(Schema):
    """The headers a command reads; every other header is the HTTP stack's business."""

    idempotency_key = printable_string(
        1,
        128,
        data_key="Idempotency-Key",
        metadata={
            "description": "Send one per tap and reuse it on every retry: a retry gets the first answer and "
            "writes nothing; the same key with another request answers 422 IDEMPOTENCY_KEY_REUSED."
        },
    )
    if_match = fields.String(
        data_key="If-Match",
        metadata={
            "description": "The spool version the client saw, quoted or bare (`*` matches any); "
            "a stale one answers 412 VERSION_CONFLICT with the current spool."
        },
    )

    class Meta:
        unknown = EXCLUDE


class ConditionalHeadersSchema(Schema):
    """The header a cacheable GET reads."""

    if_none_match = fields.String(
        data_key="If-None-Match",
        metadata={"description": "The ETag of the copy the client holds: 304 when it is still current."},
    )

    class Meta:
        unknown = EXCLUDE


class AccionSchema(Schema):
    """One allowed next step."""

    accion = _enum(Accion)
    operacion = _enum(Operacion, allow_none=True, metadata={"description": "null for BLOQUEAR / DESBLOQUEAR"})


class SpoolSchema(Schema):
    """A spool: tracking fields plus its derived state and allowed actions.

    Dumped from a ``(spool, workers)`` pair: the workers name the holder (see ``spool_json``).
    """

    tag_spool = fields.String(required=True)
    ocupado_por = fields.Integer(allow_none=True)
    timestamp_ocupacion = fields.String(allow_none=True)
    version = fields.String(allow_none=True)
    armador = fields.Integer(allow_none=True)
    fecha_armado = fields.String(allow_none=True)
    soldador = fields.Integer(allow_none=True)
    fecha_soldadura = fields.String(allow_none=True)
    metrologo = fields.Integer(allow_none=True)
    fecha_metrologia = fields.String(allow_none=True)
    resultado_metrologia = fields.String(allow_none=True)
    reparacion_ciclo = fields.Integer()
    bloqueo_motivo = fields.String(allow_none=True, metadata={"description": "the hold's codigo; null when not held"})
    bloqueo_desde = fields.String(allow_none=True)
    bloqueo_nota = fields.String(allow_none=True)
    estado = _enum(Estado)
    estado_previo = _enum(
        Estado, allow_none=True, metadata={"description": "BLOQUEADO: the state the spool returns to; else null"}
    )
    ocupado_por_nombre = fields.String(allow_none=True)
    operacion_actual = fields.String(allow_none=True)
    acciones = fields.List(fields.Nested(AccionSchema))

    class Meta:
        ordered = True

    def get_attribute(self, obj: tuple[Spool, Mapping[int, Worker]], attr: str, default: Any) -> Any:
        """Tracking facts and the derived state from the spool, the holder's name from the workers."""
        spool, workers = obj
        if attr == "ocupado_por_nombre":
            holder = workers.get(spool.ocupado_por) if spool.ocupado_por is not None else None
            return holder.nombre_completo if holder else None
        if attr == "acciones":
            return acciones(spool)
        return getattr(spool, attr)


class EventSchema(Schema):
    """One Metadata row."""

    id = fields.String()
    timestamp = fields.String()
    evento_tipo = fields.String()
    tag_spool = fields.String()
    worker_id = fields.Integer()
    worker_nombre = fields.String()
    operacion = fields.String()
    accion = fields.String()
    fecha_operacion = fields.String()
    metadata_json = fields.Dict()

    class Meta:
        ordered = True


class WorkerSchema(Schema):
    """A worker (its PIN hash never leaves the server: only whether it has one)."""

    id = fields.Integer()
    nombre = fields.String()
    apellido = fields.String()
    roles = fields.List(_enum(Rol))
    activo = fields.Boolean()
    tiene_pin = fields.Boolean(metadata={"description": "whether the worker can sign in (a PIN was set)"})

    class Meta:
        ordered = True


class WorkersSchema(Schema):
    """``GET /api/workers``."""

    workers = fields.List(fields.Nested(WorkerSchema))
    auth = fields.String(
        validate=validate.OneOf(["pin", "open"]),
        metadata={
            "description": "`pin`: a command needs the worker's session (`POST /api/sesiones`) or an API "
            "token; `open`: naming the worker is enough (ZEUES_AUTH)"
        },
    )


def _pin(**kwargs: Any) -> fields.String:
    """A PIN: 4 to 8 digits, as text (a leading 0 counts). The error never repeats what was typed."""
    return fields.String(
        validate=validate.Regexp(r"[0-9]{4,8}\Z", error="Debe tener entre 4 y 8 dígitos."),
        # The document states it anchored, as JSON Schema reads a pattern (a match anywhere counts).
        metadata={"description": "4 to 8 digits, as a string", "example": "0420", "pattern": "^[0-9]{4,8}$"},
        **kwargs,
    )


class SesionSchema(Schema):
    """Body of ``POST /api/sesiones``: a worker and their PIN."""

    worker_id = worker_id_field(required=True)
    pin = _pin(required=True)

    class Meta:
        ordered = True


class SesionAbiertaSchema(Schema):
    """A session just opened: the token to send as ``Authorization: Bearer``, shown only here."""

    token = fields.String(metadata={"description": "keep it in memory only; it acts as the worker until it ends"})
    worker = fields.Nested(WorkerSchema)
    expires_at = fields.String(metadata={"description": "UTC ISO 8601 (ZEUES_SESSION_HOURS after the sign-in)"})

    class Meta:
        ordered = True


class PinSchema(Schema):
    """Body of ``PUT /api/workers/<id>/pin``."""

    pin = _pin(required=True)


class MotivoSchema(Schema):
    """A reason a spool may be put on hold."""

    codigo = fields.String()
    descripcion = fields.String()

    class Meta:
        ordered = True


class MotivosSchema(Schema):
    """``GET /api/motivos``: the active reasons, in the office's order."""

    motivos = fields.List(fields.Nested(MotivoSchema))


class AlertaSchema(Schema):
    """A spool held, or on hold, for longer than the plant allows."""

    tipo = _enum(TipoAlerta)
    tag_spool = fields.String()
    worker_id = fields.Integer(allow_none=True, metadata={"description": "the holder; null for BLOQUEO_LARGO"})
    desde = fields.String(metadata={"description": "the TOMAR (OCUPACION_LARGA) or the hold (BLOQUEO_LARGO)"})
    horas = fields.Float()

    class Meta:
        ordered = True


class UmbralesSchema(Schema):
    """The hours after which each kind of alert is raised (``ZEUES_ALERT_*_H``)."""

    ocupacion_larga = fields.Float()
    bloqueo_largo = fields.Float()

    class Meta:
        ordered = True


class AlertasSchema(Schema):
    """``GET /api/alertas``, longest first; the thresholds let a page work alerts out from the feed."""

    alertas = fields.List(fields.Nested(AlertaSchema))
    umbrales_h = fields.Nested(UmbralesSchema)

    class Meta:
        ordered = True


class QuerySchema(Schema):
    """Query parameters of a GET: one the endpoint does not know is refused, never silently ignored."""

    class Meta:
        unknown = RAISE


class SpoolsQuerySchema(QuerySchema):
    """Filters of ``GET /api/spools``: ``estado`` may repeat (any of them), ``ocupado_por`` a worker id."""

    estado = fields.List(_enum(Estado), metadata={"description": "repeat it for several states"})
    ocupado_por = fields.Integer()


class SpoolsSchema(Schema):
    """``GET /api/spools`` (served pre-rendered from the feed's snapshot; this documents it)."""

    cursor = fields.String()
    spools = fields.List(fields.Nested(SpoolSchema))


class HistorialSchema(Schema):
    """``GET /api/spools/<tag>/historial``."""

    tag_spool = fields.String()
    events = fields.List(fields.Nested(EventSchema))


class ResultadoComandoSchema(Schema):
    """The answer to a successful command, dumped from ``{spool: (spool, workers), event}``."""

    spool = fields.Nested(SpoolSchema)
    event = fields.Nested(EventSchema)

    class Meta:
        ordered = True


class InconsistenciasSchema(Schema):
    """Rows that disagree with the event log, in ``GET /api/health``: zero and empty when none."""

    count = fields.Integer()
    tags = fields.List(fields.String())


class HealthSchema(Schema):
    """``GET /api/health``."""

    status = fields.String()
    store = fields.String()
    cursor = fields.String()
    last_sync_age_s = fields.Float(allow_none=True)
    stale = fields.Boolean()
    notify = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "whether this process hears the store's change announcements (PostgreSQL); "
            "null for a store that makes none"
        },
    )
    waiters = fields.Integer(metadata={"description": "long-poll requests held by this process"})
    max_waiters = fields.Integer(
        allow_none=True,
        metadata={
            "description": "the most this process holds (ZEUES_MAX_WAITERS); past it polls are answered at "
            "once with a retry_after_ms of a few seconds"
        },
    )
    inconsistencias = fields.Nested(
        InconsistenciasSchema,
        metadata={
            "description": "spools whose rows disagree with the event log (a write that landed on a row the "
            "office moved); repaired from the log within two polls"
        },
    )


MAX_TIMEOUT_S = 28.0  # under the 30 s cut of common proxies
DEFAULT_TIMEOUT_S = 25.0


class Timeout(fields.Float):
    """Seconds to hold: a finite number, clamped to 0–28."""

    def _deserialize(self, value, attr, data, **kwargs):
        seconds = super()._deserialize(value, attr, data, **kwargs)
        if not math.isfinite(seconds):
            raise ValidationError("Debe ser un número de segundos.")
        return min(MAX_TIMEOUT_S, max(0.0, seconds))


class ChangesQuerySchema(QuerySchema):
    """``since`` is any string: a cursor we cannot place answers a reset, never an error."""

    since = fields.String()
    timeout = Timeout(load_default=DEFAULT_TIMEOUT_S)


class ChangesSchema(Schema):
    """A feed answer: a reset, a delta, or nothing changed."""

    cursor = fields.String()
    changed = fields.Boolean()
    reset = fields.Boolean()
    spools = fields.List(fields.Nested(SpoolSchema))
    removed = fields.List(fields.String())
    retry_after_ms = fields.Integer(
        metadata={
            "description": "0, or how long to wait before polling again: the source of truth is failing, the "
            "server is shutting down, or it holds as many polls as it may"
        }
    )


# Every code a problem may carry (SPEC §5, SPOOL_BLOCKED of §13, the identity codes of §11).
PROBLEM_CODES = (
    "UNAUTHENTICATED",
    "INVALID_CREDENTIALS",
    "FORBIDDEN",
    "PIN_NOT_SET",
    "TOO_MANY_ATTEMPTS",
    "VALIDATION_ERROR",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "WORKER_INACTIVE",
    "ROLE_NOT_AUTHORIZED",
    "NOT_HOLDER",
    "SPOOL_OCCUPIED",
    "SPOOL_BLOCKED",
    "INVALID_TRANSITION",
    "VERSION_CONFLICT",
    "IDEMPOTENCY_KEY_REUSED",
    "PAYLOAD_TOO_LARGE",
    "SOURCE_UNAVAILABLE",
    "INTERNAL",
)


class ProblemSchema(Schema):
    """Every error answer (RFC 9457 problem+json, SPEC §5)."""

    type = fields.String(metadata={"description": "a URI naming the kind of problem"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String(metadata={"description": "what happened, for a person"})
    code = fields.String(
        metadata={
            "description": "what happened, for a program (SPEC §5, §13)",
            "example": "SPOOL_OCCUPIED",
            "enum": list(PROBLEM_CODES),
        }
    )
    spool = fields.Nested(SpoolSchema, metadata={"description": "the spool as it is now, on a conflict"})
    motivo = fields.String(metadata={"description": "the codigo of the hold, on SPOOL_BLOCKED"})
    errors = fields.Dict(metadata={"description": "the fields that failed validation, on a 400/422"})

    class Meta:
        ordered = True

spool_schema = SpoolSchema()
event_schema = EventSchema()


def spool_json(spool: Spool, workers: Mapping[int, Worker]) -> dict[str, Any]:
    """The Spool shape of ``spool``, as every answer and the feed carry it."""
    return spool_schema.dump((spool, workers))


def spool_from_json(view: Mapping[str, Any]) -> Spool:
    """The domain Spool a Spool shape was dumped from (its tracking facts; the rest is derived)."""
    facts = {name: view[name] for name in ("tag_spool", *TRACKING_FIELDS)}
    if facts["resultado_metrologia"]:
        facts["resultado_metrologia"] = Resultado(facts["resultado_metrologia"])
    return Spool(**facts)


# --- reports (SPEC §14) ----------------------------------------------------------------------------


class PlantDate(fields.Date):
    """A plant date written YYYY-MM-DD, nothing else (``date.fromisoformat`` would also take 20260504
    or 2026-W19-1)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime.date:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValidationError("Debe ser una fecha AAAA-MM-DD.")
        try:
            day = datetime.date.fromisoformat(value)
        except ValueError:
            raise ValidationError("No es un día del calendario.") from None
        # A range is turned into UTC instants a day either side: the calendar's first and last days
        # would fall off it. No plant's log reaches either end.
        if not datetime.date(1900, 1, 1) <= day <= datetime.date(9998, 12, 31):
            raise ValidationError("Debe estar entre 1900-01-01 y 9998-12-31.")
        return day


class ReporteQuerySchema(QuerySchema):
    """``formato``: JSON (the default) or CSV for a spreadsheet."""

    formato = fields.String(
        validate=validate.OneOf(["json", "csv"]),
        load_default="json",
        metadata={"description": "`csv`: text/csv; charset=utf-8 with a BOM and a header row"},
    )


class RangoQuerySchema(ReporteQuerySchema):
    """A range of plant dates (``ZEUES_TIMEZONE``), both inclusive; by default the last 30 days."""

    desde = PlantDate(metadata={"description": "first plant date, YYYY-MM-DD (default: 29 days before hasta)"})
    hasta = PlantDate(metadata={"description": "last plant date, YYYY-MM-DD, inclusive (default: today)"})

    @validates_schema
    def _orden(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("desde") and data.get("hasta") and data["desde"] > data["hasta"]:
            raise ValidationError("desde no puede ser posterior a hasta.", "desde")


def _horas(description: str) -> fields.Float:
    return fields.Float(allow_none=True, metadata={"description": description})


class PeriodoSchema(Schema):
    """What every report over a range says about it."""

    desde = fields.String(metadata={"description": "first plant date of the range"})
    hasta = fields.String(metadata={"description": "last plant date of the range, inclusive"})
    zona = fields.String(metadata={"description": "the plant's time zone the dates are in"})
    generado = fields.String(metadata={"description": "when the figures were computed (UTC): open intervals end here"})


class OperacionReporteSchema(Schema):
    """The figures of one operation over the range."""

    operacion = _enum(Operacion)
    completadas = fields.Integer(metadata={"description": "COMPLETAR events dated in the range"})
    horas_activas = _horas("hours held (TOMAR to PAUSAR/COMPLETAR/BLOQUEAR) inside the range")
    mediana_horas_por_spool = _horas("median hours held per completion in the range; null without any")
    horas_espera_mediana = _horas("median hours ready before the TOMAR, for TOMARs in the range; null for ARM")
    primera_pasada = fields.Float(
        allow_none=True, metadata={"description": "METROLOGIA: share (0–1) of first inspections approved"}
    )
    primera_pasada_spools = fields.Integer(
        allow_none=True, metadata={"description": "METROLOGIA: spools whose first inspection is in the range"}
    )
    rechazos = fields.Integer(allow_none=True, metadata={"description": "METROLOGIA: rejections in the range"})

    class Meta:
        ordered = True


class EnCursoSchema(Schema):
    """The spools in one state now, and how long they have been in it."""

    estado = fields.String(metadata={"description": "one of the states but APROBADO, or BLOQUEADO"})
    spools = fields.Integer()
    edad_horas_mediana = _horas("median hours in this state (spools whose entry is known)")
    edad_horas_max = _horas("the longest")
    tag_mas_antiguo = fields.String(allow_none=True, metadata={"description": "the spool that has waited longest"})

    class Meta:
        ordered = True


class CompletadasDiaSchema(Schema):
    """Completions on one plant date (days without any are left out)."""

    fecha = fields.String()
    ARM = fields.Integer()
    SOLD = fields.Integer()
    METROLOGIA = fields.Integer()
    REPARACION = fields.Integer()

    class Meta:
        ordered = True


class PrimeraPasadaSemanaSchema(Schema):
    """First inspections in one week (Monday to Sunday, within the range) and the share approved."""

    semana = fields.String(metadata={"description": "the Monday of the week"})
    spools = fields.Integer()
    aprobados = fields.Integer()
    primera_pasada = fields.Float(allow_none=True)

    class Meta:
        ordered = True


class ResumenSchema(PeriodoSchema):
    """``GET /api/reportes/resumen``."""

    operaciones = fields.List(fields.Nested(OperacionReporteSchema))
    en_curso = fields.List(fields.Nested(EnCursoSchema), metadata={"description": "work in progress now"})
    completadas_por_dia = fields.List(fields.Nested(CompletadasDiaSchema))
    primera_pasada_por_semana = fields.List(fields.Nested(PrimeraPasadaSemanaSchema))

    class Meta:
        ordered = True


class OperacionTrabajadorSchema(Schema):
    """One worker's figures in one operation over the range."""

    operacion = _enum(Operacion)
    completadas = fields.Integer()
    horas_activas = fields.Float()

    class Meta:
        ordered = True


class TrabajadorReporteSchema(Schema):
    """One worker over the range: active floor workers always, anyone else with work in it."""

    worker_id = fields.Integer()
    nombre = fields.String()
    roles = fields.List(_enum(Rol))
    activo = fields.Boolean()
    operaciones = fields.List(fields.Nested(OperacionTrabajadorSchema))
    soldaduras_inspeccionadas = fields.Integer(
        allow_none=True,
        metadata={"description": "inspections in the range of spools this worker welded; null for non-welders"},
    )
    soldaduras_rechazadas = fields.Integer(allow_none=True, metadata={"description": "of those, the rejections"})

    class Meta:
        ordered = True


class TrabajadoresReporteSchema(PeriodoSchema):
    """``GET /api/reportes/trabajadores``."""

    trabajadores = fields.List(fields.Nested(TrabajadorReporteSchema))

    class Meta:
        ordered = True


class TramoSchema(Schema):
    """A stretch of a spool's timeline: from one event of its log to the next."""

    estado = fields.String(allow_none=True, metadata={"description": "the state the event left the spool in"})
    desde = fields.String(metadata={"description": "the event's timestamp"})
    hasta = fields.String(allow_none=True, metadata={"description": "the next event's timestamp; null: still now"})
    horas = fields.Float()
    evento_tipo = fields.String()
    worker_id = fields.Integer()
    worker_nombre = fields.String()

    class Meta:
        ordered = True


class HorasEstadoSchema(Schema):
    """The hours a spool has spent in one state, all stretches together."""

    estado = fields.String(allow_none=True)
    horas = fields.Float()

    class Meta:
        ordered = True


class SpoolReporteSchema(Schema):
    """``GET /api/reportes/spools/<tag>``."""

    tag_spool = fields.String()
    estado = fields.String(metadata={"description": "the state now"})
    generado = fields.String()
    tramos = fields.List(fields.Nested(TramoSchema))
    horas_por_estado = fields.List(fields.Nested(HorasEstadoSchema))

    class Meta:
        ordered = True
