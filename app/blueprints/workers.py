"""``GET /api/workers`` and ``PUT /api/workers/<id>/pin`` (SPEC §11)."""

from flask import current_app

from .. import access
from ..extensions import zeues
from ..request_body import Blueprint, json_only
from ..schemas import PinSchema, QuerySchema, WorkersSchema
from .docs import problems

blp = Blueprint("workers", __name__, description="Trabajadores")
blp.before_request(json_only)


@blp.route("/workers")
@access.reads
@blp.arguments(QuerySchema, location="query")
@blp.response(200, WorkersSchema)
@problems(422)
def list_workers(_query):
    """Every worker, active and inactive, by id; ``auth`` says whether commands need their PIN."""
    workers = sorted(zeues().store.workers().values(), key=lambda w: w.id)
    return {"workers": workers, "auth": current_app.config["AUTH"]}


@blp.route("/workers/<int(max=2147483647):worker_id>/pin", methods=["PUT"])
@access.supervise
@blp.arguments(PinSchema)
@blp.response(204)
@problems(400, 404, 413, 422, 503)
def set_pin(body, worker_id):
    """Give the worker a new PIN (a SUPERVISOR's session, or a token with the supervise scope): their
    open sessions end."""
    zeues().auth.set_pin(worker_id, body["pin"])
