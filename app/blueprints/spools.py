"""Spool reads: the list (with cursor), one spool, and its event history."""

from flask import Response, current_app, request

from .. import access
from ..domain.errors import NotFound
from ..extensions import zeues
from ..request_body import Blueprint
from ..schemas import (
    ConditionalHeadersSchema,
    HistorialSchema,
    QuerySchema,
    SpoolSchema,
    SpoolsQuerySchema,
    SpoolsSchema,
)
from .docs import ETAG, problems

blp = Blueprint("spools", __name__, description="Spools")


def not_modified(etag: str) -> Response | None:
    """A 304 when the client's If-None-Match already names ``etag``."""
    if etag in request.if_none_match:
        response = Response(status=304)
        response.set_etag(etag)
        return response
    return None


def rendered(body: dict, etag: str) -> Response:
    """An answer made of the feed's spools, which are already in their wire shape (dumping every spool
    of a large shop through the schema again would cost more than the rest of the request)."""
    response = current_app.response_class(current_app.json.dumps(body), mimetype="application/json")
    response.set_etag(etag)
    return response


@blp.route("/spools")
@access.reads
@blp.arguments(ConditionalHeadersSchema, location="headers")
@blp.arguments(SpoolsQuerySchema, location="query", as_kwargs=True)
@blp.response(200, SpoolsSchema, headers=ETAG)
@blp.alt_response(304, description="Not modified: the client's copy is current")
@problems(422)
def list_spools(_headers, estado=None, ocupado_por=None):
    """Every spool in row order, optionally filtered; ``ETag`` is the feed cursor."""
    feed = zeues().feed
    if (cached := not_modified(feed.cursor)) is not None:
        return cached
    cursor, body = feed.listing(estado or (), ocupado_por)
    response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(cursor)
    return response


def _spool(tag: str) -> dict:
    """The spool as the feed holds it (reads cost quota on a Sheet; commands re-read fresh anyway)."""
    vista = zeues().feed.spool(tag)
    if vista is None:
        raise NotFound(f"El spool {tag} no existe.")
    return vista


@blp.route("/spools/<path:tag>")
@access.reads
@blp.arguments(ConditionalHeadersSchema, location="headers")
@blp.arguments(QuerySchema, location="query")
@blp.response(200, SpoolSchema, headers=ETAG)
@blp.alt_response(304, description="Not modified: the client's copy is current")
@problems(404, 422)
def get_spool(_headers, _query, tag):
    """One spool; ``ETag`` is its version."""
    vista = _spool(tag)
    etag = vista["version"] or ""
    if (cached := not_modified(etag)) is not None:
        return cached
    return rendered(vista, etag)


@blp.route("/spools/<path:tag>/historial")
@access.reads
@blp.arguments(QuerySchema, location="query")
@blp.response(200, HistorialSchema)
@problems(404, 422)
def historial(_query, tag):
    """The spool's events, oldest first."""
    tag = _spool(tag)["tag_spool"]
    return {"tag_spool": tag, "events": zeues().store.events(tag)}
