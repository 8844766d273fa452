"""``GET /api/health``: is the service up, which store, how fresh is the snapshot."""


from .. import access
from ..extensions import zeues
from ..request_body import Blueprint
from ..schemas import HealthSchema, QuerySchema
from .docs import problems

blp = Blueprint("health", __name__, description="Service health")


@blp.route("/health")
@access.public  # for load balancers and monitors; it tells nothing about spools or workers
@blp.arguments(QuerySchema, location="query")
@blp.response(200, HealthSchema)
@problems(422)
def health(_query):
    """Store in use, current cursor, how old the last read of the source of truth is, and the long polls
    held against the most this process holds."""
    z = zeues()
    health = {"status": "ok", "store": z.store.name, "cursor": z.feed.cursor, **z.poller.health()}
    tags = z.store.inconsistencies()
    return {
        **health,
        "waiters": z.feed.waiters,
        "max_waiters": z.feed.max_waiters,
        "inconsistencias": {"count": len(tags), "tags": tags},
    }
