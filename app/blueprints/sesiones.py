"""Worker sessions (SPEC §11): ``POST /api/sesiones`` signs in with a PIN, ``DELETE /api/sesiones/actual`` signs out."""

from __future__ import annotations

from .. import access
from ..extensions import zeues
from ..request_body import Blueprint, json_only
from ..schemas import SesionAbiertaSchema, SesionSchema
from .docs import problems

blp = Blueprint("sesiones", __name__, description="Sesiones de trabajador (PIN)")
blp.before_request(json_only)


@blp.route("/sesiones", methods=["POST"])
@access.public
@blp.arguments(SesionSchema)
@blp.response(201, SesionAbiertaSchema)
@problems(
    400,
    413,
    422,
    503,
    codes={
        401: ("INVALID_CREDENTIALS",),
        403: ("WORKER_INACTIVE", "PIN_NOT_SET"),
        429: ("TOO_MANY_ATTEMPTS",),
    },
)
def sign_in(body):
    """Sign in with the worker's PIN: the session's token, to send as ``Authorization: Bearer``.

    A wrong PIN and an unknown worker get the same 401; after 5 failures within 15 minutes the worker's
    sign-in answers 429 with ``Retry-After``, the right PIN included, until the window passes."""
    return zeues().auth.sign_in(body["worker_id"], body["pin"])


@blp.route("/sesiones/actual", methods=["DELETE"])
@access.signed_in
@blp.response(204)
@problems(503)
def sign_out():
    """Sign out: the session's token is refused from now on, by every process and instance."""
    zeues().auth.sign_out(access.bearer() or "")
