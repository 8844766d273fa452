"""schemathesis over /api/openapi.json (SPEC §5): generated requests, valid and not, against the app in-process.

No 5xx, every error is problem+json, and answers match the schemas, status codes, content types and headers
the document declares. The run is derandomized (the same examples every time) so CI cannot flake on it.
"""

from __future__ import annotations

import collections

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from app import create_app
from app.errors import PROBLEM_JSON
from app.schemas import PRINTABLE

# Strings the app accepts as printable (str.isprintable), for the document's custom "printable" format;
# headers carry latin-1 only.
schemathesis.openapi.format(PRINTABLE, st.text(st.characters(codec="latin-1")).filter(str.isprintable))

EXAMPLES = 100  # per operation and phase; the whole run stays well under a minute on 2 cores


def openapi_document() -> dict:
    """The document the app serves, read once from a throwaway app."""
    app = create_app({"TESTING": True, "DB": ":memory:"})
    try:
        return app.test_client().get("/api/openapi.json").json
    finally:
        app.extensions["zeues"].store.close()


# Explicit, so that no schemathesis.toml found on the way up from the working directory changes the run.
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 1335,
        "checks": {
            # A schema-valid If-Match naming another version (or an empty list of them) is answered 412
            # VERSION_CONFLICT, as RFC 9110 says: an accepted request, not a rejected one.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]
            }
        },
        "operations": [
            {
                # Rules OpenAPI cannot state, answered 422: desde after hasta (a rule between two
                # parameters); a hold's motivo that is not an active reason of GET /api/motivos (the
                # shop's data, not the schema), and OTRO without a nota.
                "include-path-regex": "^/api/(reportes/|bloquear-accion)",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "422", "429", "5xx"]
                    }
                },
            }
        ],
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)
seen: collections.Counter[tuple[str, int]] = collections.Counter()  # (operation, status) answered


def problem_json(ctx, response, case) -> None:
    """Every error answer is problem+json with the SPEC §5 members, and says its own status."""
    seen[(case.operation.label, response.status_code)] += 1
    if response.status_code < 400:
        return
    assert response.headers["content-type"] == [PROBLEM_JSON], response.headers
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert body["status"] == response.status_code and body["code"].isupper(), body


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # A fresh app (a SQLite file with the demo shop) per operation, shared by its examples: the state a
    # command leaves is part of what the next example meets.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_is_documented_and_no_request_makes_a_server_error(case, app):
    case.call_and_validate(app=app, additional_checks=[problem_json])
