"""ZEUES floor tracker: the Flask app factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import access, cli, config, errors, request_body
from .auth import Auth, AuthSettings
from .extensions import Zeues, api
from .feed import Feed, FeedSettings, Poller
from .security import with_security_headers
from .service import CommandService
from .stores import open_credentials, open_store
from .turnos import FinDeTurno


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, store, feed, service, blueprints, error handlers, CLI."""
    app = Flask(__name__, instance_relative_config=True, static_folder="static", static_url_path="/static")
    app.request_class, app.json = request_body.Request, request_body.JSONProvider(app)
    config.load(app, test_config)
    app.json.sort_keys = False  # keys in the schemas' order (tag_spool first), as integrators read them

    store = open_store(app.config)
    settings = FeedSettings.from_config(app.config)
    feed = Feed(settings.history, max_waiters=app.config["MAX_WAITERS"])
    poller = Poller(store, feed, settings)
    feed.before_read = poller.ensure_fresh
    service = CommandService(store, feed, zona=app.config["ZONA"])
    turnos = FinDeTurno(service, app.config["FINES_DE_TURNO"], app.config["ZONA"])
    auth = Auth(store, open_credentials(app.config, store), AuthSettings.from_config(app.config))
    app.extensions["zeues"] = Zeues(
        store=store, feed=feed, poller=poller, service=service, turnos=turnos, auth=auth
    )

    api.init_app(app)
    from .blueprints import alertas, changes, commands, health, motivos, pages, reports, sesiones, spools, workers

    for module in (health, sesiones, workers, spools, commands, motivos, alertas, changes, reports):
        api.register_blueprint(module.blp, url_prefix="/api")
    app.register_blueprint(pages.bp)
    access.init_app(app)
    errors.init_app(app)
    app.wsgi_app = changes.send_released_whole(app.wsgi_app)  # type: ignore[method-assign]
    cli.init_app(app)
    app.wsgi_app = with_security_headers(app.wsgi_app)  # type: ignore[method-assign]
    return app
