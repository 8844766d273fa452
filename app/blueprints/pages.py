"""The tablet page (``/``) and the supervisors' live board (``/board``), served from app/static."""

from flask import Blueprint, current_app

bp = Blueprint("pages", __name__)


@bp.route("/")
def station():
    """The worker station."""
    return current_app.send_static_file("index.html")


@bp.route("/board")
def board():
    """The live board."""
    return current_app.send_static_file("board.html")
