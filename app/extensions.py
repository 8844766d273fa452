"""Module-level extension objects, bound to each app in the factory."""

from __future__ import annotations

import dataclasses

from flask import current_app
from flask_smorest import Api

from .feed import Feed, Poller
from .service import CommandService
from .stores.base import Store

api = Api()


@dataclasses.dataclass
class Zeues:
    """The per-app mutable parts, kept in ``app.extensions["zeues"]`` so every test app starts clean."""

    store: Store
    feed: Feed
    poller: Poller
    service: CommandService


def zeues() -> Zeues:
    """The current app's store, feed, poller and service."""
    return current_app.extensions["zeues"]
