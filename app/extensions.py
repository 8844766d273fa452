"""Module-level extension objects, bound to each app in the factory."""

from __future__ import annotations

import dataclasses
import http
from typing import Any

from flask import current_app
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from .auth import Auth
from .feed import Feed, Poller
from .schemas import COMPLETAR_RESULTADO_RULE, CompletarSchema, ProblemSchema
from .service import CommandService
from .stores.base import Store
from .turnos import FinDeTurno

PROBLEM_JSON = "application/problem+json"


class ZeuesApi(Api):
    """flask-smorest's Api, with errors documented as they are answered: problem+json (SPEC §5)."""

    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        """The document, with the rules across fields that the schemas check in code."""
        super()._init_spec(*args, **kwargs)
        # Registered before the views are documented, which then refer to it instead of adding their own.
        self.spec.components.schema("Completar", component=COMPLETAR_RESULTADO_RULE, schema=CompletarSchema)

    def _register_responses(self) -> None:
        """One response component per error status (``CONFLICT``, ``SERVICE_UNAVAILABLE``…) that views
        reference with ``alt_response``, plus ``DEFAULT_ERROR``."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Any other error", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


api = ZeuesApi()


@dataclasses.dataclass
class Zeues:
    """The per-app mutable parts, kept in ``app.extensions["zeues"]`` so every test app starts clean."""

    store: Store
    feed: Feed
    poller: Poller
    service: CommandService
    turnos: FinDeTurno  # the shift end; started by the server in each worker (gunicorn.conf.py)
    auth: Auth


def zeues() -> Zeues:
    """The current app's store, feed, poller, service, shift end and sign-in state."""
    return current_app.extensions["zeues"]
