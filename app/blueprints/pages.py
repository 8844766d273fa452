"""The tablet page (``/``), the supervisors' live board (``/board``) and the reports (``/reportes``),
served from app/static."""

from flask import Blueprint, current_app

from .. import access

bp = Blueprint("pages", __name__)


@bp.route("/")
@access.reads
def station():
    """The worker station."""
    return current_app.send_static_file("index.html")


@bp.route("/board")
@access.reads
def board():
    """The live board."""
    return current_app.send_static_file("board.html")


@bp.route("/reportes")
def reportes():
    """The reports page: charts and tables from the event log (SPEC §14)."""
    return current_app.send_static_file("reportes.html")
