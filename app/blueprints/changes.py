"""``GET /api/changes``: the long-poll change feed (SPEC §6)."""

import math

from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields

from ..extensions import zeues
from ..schemas import SpoolSchema

blp = Blueprint("changes", __name__, description="Change feed (long poll)")

MAX_TIMEOUT_S = 28.0  # under the 30 s cut of common proxies
DEFAULT_TIMEOUT_S = 25.0


class Timeout(fields.Float):
    """Seconds to hold: a finite number, clamped to 0–28."""

    def _deserialize(self, value, attr, data, **kwargs):
        numero = super()._deserialize(value, attr, data, **kwargs)
        if not math.isfinite(numero):
            raise ValidationError("Debe ser un número de segundos.")
        return min(MAX_TIMEOUT_S, max(0.0, numero))


class ChangesQuerySchema(Schema):
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
    retry_after_ms = fields.Integer()


changes_schema = ChangesSchema()


@blp.route("/changes")
@blp.arguments(ChangesQuerySchema, location="query", as_kwargs=True, error_status_code=400)
@blp.response(200, ChangesSchema)
def changes(timeout, since=None):
    """Spools changed since ``since``; holds up to ``timeout`` seconds when nothing has."""
    answer = zeues().feed.changes(since, timeout)
    if answer.rendered is None:  # the first of the waiters this answer releases; the others reuse it
        answer.rendered = current_app.json.response(changes_schema.dump(answer)).get_data()
    return Response(answer.rendered, mimetype=current_app.json.mimetype, headers={"Cache-Control": "no-store"})
