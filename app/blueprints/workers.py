"""``GET /api/workers``."""


from ..extensions import zeues
from ..request_body import Blueprint
from ..schemas import QuerySchema, WorkersSchema
from .docs import problems

blp = Blueprint("workers", __name__, description="Trabajadores")


@blp.route("/workers")
@blp.arguments(QuerySchema, location="query")
@blp.response(200, WorkersSchema)
@problems(422)
def list_workers(_query):
    """Every worker, active and inactive, by id."""
    workers = sorted(zeues().store.workers().values(), key=lambda w: w.id)
    return {"workers": workers}
