"""``GET /api/motivos``: the reasons a spool may be put on hold (SPEC §13)."""

from ..extensions import zeues
from ..request_body import Blueprint
from ..schemas import MotivosSchema, QuerySchema
from .docs import problems

blp = Blueprint("motivos", __name__, description="Motivos de bloqueo")


@blp.route("/motivos")
@blp.arguments(QuerySchema, location="query")
@blp.response(200, MotivosSchema)
@problems(422, 503)
def list_motivos(_query):
    """The active reasons, in the office's order (the codes BLOQUEAR accepts)."""
    return {"motivos": [m for m in zeues().store.motivos() if m.activo]}
