"""Marshmallow schemas: request bodies, response shapes (SPEC §5), and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .domain.model import Accion, Estado, Operacion, Resultado, Rol


def printable(min_len: int, max_len: int) -> validate.Validator:
    """Between ``min_len`` and ``max_len`` printable characters (no control characters)."""

    def _check(value: str) -> None:
        if not (min_len <= len(value) <= max_len) or not value.isprintable():
            raise ValidationError(f"Debe tener entre {min_len} y {max_len} caracteres imprimibles.")

    return _check


class JsonInteger(fields.Integer):
    """An integer that must be a JSON number without a fraction: no strings, booleans or 1.5."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Debe ser un número entero JSON.")
        return value


def _enum(enum_cls: type, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf([str(m) for m in enum_cls]), **kwargs)


class ComandoSchema(Schema):
    """Body of /api/tomar-accion and /api/pausar-accion; unknown fields are refused."""

    tag_spool = fields.String(required=True, validate=printable(1, 64))
    worker_id = JsonInteger(required=True)
    operacion = _enum(Operacion, required=True)
    version = fields.String(validate=printable(0, 64), allow_none=True)

    class Meta:
        ordered = True


class CompletarSchema(ComandoSchema):
    """Body of /api/completar-accion: ``resultado`` is required iff the operation is METROLOGIA."""

    resultado = _enum(Resultado)

    @validates_schema
    def _resultado(self, data: dict[str, Any], **kwargs: Any) -> None:
        metrologia = data.get("operacion") == Operacion.METROLOGIA
        if metrologia and not data.get("resultado"):
            raise ValidationError("Obligatorio para COMPLETAR METROLOGIA (APROBADO o RECHAZADO).", "resultado")
        if not metrologia and "resultado" in data:
            raise ValidationError("Solo se admite con la operación METROLOGIA.", "resultado")


class AccionSchema(Schema):
    """One allowed next step."""

    accion = _enum(Accion)
    operacion = _enum(Operacion)


class SpoolSchema(Schema):
    """A spool: tracking fields plus its derived state and allowed actions."""

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
    estado = _enum(Estado)
    ocupado_por_nombre = fields.String(allow_none=True)
    operacion_actual = fields.String(allow_none=True)
    acciones = fields.List(fields.Nested(AccionSchema))

    class Meta:
        ordered = True


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
    """A worker."""

    id = fields.Integer()
    nombre = fields.String()
    apellido = fields.String()
    roles = fields.List(_enum(Rol))
    activo = fields.Boolean()

    class Meta:
        ordered = True


class WorkersSchema(Schema):
    """``GET /api/workers``."""

    workers = fields.List(fields.Nested(WorkerSchema))


class SpoolsQuerySchema(Schema):
    """Filters of ``GET /api/spools``."""

    estado = _enum(Estado)
    ocupado_por = fields.Integer()


class SpoolsSchema(Schema):
    """``GET /api/spools``."""

    cursor = fields.String()
    spools = fields.List(fields.Nested(SpoolSchema))


class HistorialSchema(Schema):
    """``GET /api/spools/<tag>/historial``."""

    tag_spool = fields.String()
    events = fields.List(fields.Nested(EventSchema))


class ResultadoComandoSchema(Schema):
    """The answer to a successful command."""

    spool = fields.Nested(SpoolSchema)
    event = fields.Nested(EventSchema)


class HealthSchema(Schema):
    """``GET /api/health``."""

    status = fields.String()
    store = fields.String()
    cursor = fields.String()
    last_sync_age_s = fields.Float(allow_none=True)
    stale = fields.Boolean()
    waiters = fields.Integer(metadata={"description": "long-poll requests held by this process"})
