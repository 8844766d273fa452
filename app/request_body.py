"""Reading request bodies: JSON Python cannot hold is malformed (400), and chunked bodies keep the size limit (413)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import flask
import flask_smorest
from flask import current_app
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

from .errors import ValidationError


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, whose ``loads`` turns input Python cannot hold into a JSONDecodeError."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s``; nesting past the interpreter's stack or an integer over its digit limit is malformed JSON."""
        try:
            return super().loads(s, **kwargs)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise
        except RecursionError:
            # About 960 levels of [ exhaust the stack of the C parser; a client's bug or an attack,
            # either way a 400 and not a 500 with a traceback per request in the log.
            raise _unreadable(s, "nested too deeply") from None
        except ValueError as exc:
            # Python refuses to convert an integer of more than 4,300 digits (int_max_str_digits).
            raise _unreadable(s, str(exc)) from None


def _unreadable(s: str | bytes, reason: str) -> json.JSONDecodeError:
    """A JSONDecodeError for a document the parser could not finish, so every caller reports malformed JSON."""
    doc = s if isinstance(s, str) else s.decode("utf-8", "replace")
    return json.JSONDecodeError(reason, doc, 0)


class BodyParser(FlaskParser):
    """webargs' parser reading JSON bodies through the app's provider, where an empty body is malformed too;
    query strings follow their schema's ``unknown`` (webargs would drop unknown parameters silently)."""

    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar[dict[str, str | None]] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def load_querystring(self, req: flask.Request, schema: Any) -> Any:
        """The query string; with ``ZEUES_READ_AUTH=token`` its ``token`` is the reader's credential
        (SPEC §11), checked before the view and none of the endpoint's parameters."""
        args = req.args
        if "token" in args and current_app.config["READ_AUTH"] == "token":
            args = MultiDict([(k, v) for k, v in args.items(multi=True) if k != "token"])
        return self._makeproxy(args, schema)

    def load_json(self, req: flask.Request, schema: Any) -> Any:
        """The JSON body, or 400 when it is not JSON (webargs alone would read an empty body as no fields: 422)."""
        if not is_json_request(req):
            return core.missing
        try:
            return current_app.json.loads(req.get_data(cache=True))
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise ValidationError("El cuerpo no es JSON válido.", status=400) from exc


def json_only() -> None:
    """A ``before_request`` hook: a POST or PUT body that is not JSON is malformed (400), before any schema sees it."""
    if flask.request.method in ("POST", "PUT") and not flask.request.is_json:
        raise ValidationError("El cuerpo debe ser JSON (Content-Type: application/json).", status=400)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint parsing arguments with :class:`BodyParser`; every API blueprint uses it."""

    ARGUMENTS_PARSER = BodyParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """flask-smorest's ``arguments``, with one schema instance made here: given a class, webargs
        makes a new instance (deep-copying every field) on every request, a tenth of a command's CPU.
        A schema keeps no state between loads, so one instance serves every request."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)


class _BodyUpToLimit(LimitedStream):
    """A body without Content-Length (chunked), read up to MAX_CONTENT_LENGTH."""

    def __init__(self, stream: Any, limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._source = stream

    def readall(self) -> bytes:
        """Everything up to the limit; 413 if the client sent more."""
        data = super().readall()
        # werkzeug stops reading at the limit without looking further, so a larger body came out
        # truncated: its JSON broken (400) instead of refused as too large (413).
        if self.is_exhausted and self._source.read(1):
            raise RequestEntityTooLarge()
        return data


class Request(flask.Request):
    """Flask's request, refusing a chunked body over MAX_CONTENT_LENGTH as it does one with a Content-Length."""

    @cached_property
    def stream(self) -> Any:
        """The body, limited as werkzeug limits it, with the chunked case made to notice an overflow."""
        limit = self.max_content_length
        # gunicorn sets wsgi.input_terminated: it ends a chunked body itself, so reading to the end is safe.
        if self.content_length is None and limit is not None and "wsgi.input_terminated" in self.environ:
            return _BodyUpToLimit(self.environ["wsgi.input"], limit)
        return super().stream
