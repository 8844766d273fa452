"""``GET /api/alertas``: spools held, or on hold, for longer than the plant allows (SPEC §13)."""

from flask import current_app

from ..domain.alertas import alertas
from ..extensions import zeues
from ..request_body import Blueprint
from ..schemas import AlertasSchema, QuerySchema
from .docs import problems

blp = Blueprint("alertas", __name__, description="Alertas para supervisores")


@blp.route("/alertas")
@blp.arguments(QuerySchema, location="query")
@blp.response(200, AlertasSchema)
@problems(422, 503)
def list_alertas(_query):
    """OCUPACION_LARGA and BLOQUEO_LARGO alerts from the feed's snapshot, longest first, with the thresholds."""
    z, config = zeues(), current_app.config
    umbrales = {"ocupacion_larga": config["ALERT_OCCUPIED_H"], "bloqueo_largo": config["ALERT_BLOCKED_H"]}
    found = alertas(z.feed.spools(), z.service.reloj(), umbrales["ocupacion_larga"], umbrales["bloqueo_largo"])
    return {"alertas": found, "umbrales_h": umbrales}
