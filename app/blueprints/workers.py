"""``GET /api/workers``."""

from flask_smorest import Blueprint

from ..extensions import zeues
from ..schemas import WorkersSchema

blp = Blueprint("workers", __name__, description="Trabajadores")


@blp.route("/workers")
@blp.response(200, WorkersSchema)
def list_workers():
    """Every worker, active and inactive, by id."""
    workers = sorted(zeues().store.workers().values(), key=lambda w: w.id)
    return {"workers": workers}
