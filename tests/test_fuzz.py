"""Spec-driven fuzzing: schemathesis reads our own `openapi.yaml` and throws generated requests at the app.

Every check schemathesis has (as `st run --checks all`): no 5xx (except the 503 the spec declares), a status code
the operation lists, the content type and headers it declares, a body that validates against its schema, invalid
input refused, and valid input accepted. The spec says exactly what is accepted (`tickers=` and an empty item are
refused by its `pattern`, postPrices requires a body), so `positive_data_acceptance` holds too. The checks'
settings (a 413 or 414 is a correct refusal) come from `schemathesis.toml`, the file `st run` reads.

Every phase that applies runs: the spec's examples, the coverage phase (each constraint's boundaries, both sides)
and generated examples. In `make test` each operation gets `FUZZ_EXAMPLES` (default 40) derandomized examples, the
same on every run; `make fuzz` raises the count and lets Hypothesis pick new ones each time. In-process (ASGI), no
network. Then, separately, a request that reaches every status code each operation documents.
"""

from __future__ import annotations

import os
import tomllib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.config import SchemathesisConfig
from support import ROOT, DownSource

from plugin.app import create_app
from plugin.settings import Settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
LONG_RUN = "FUZZ_EXAMPLES" in os.environ
TOKEN = "fuzz-token"
TOKEN_SETTINGS = Settings(source="sample", api_token=TOKEN, verification_tokens={"openai": "issued"})

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
]
#: Checked one by one below: the 503 is documented, so this check must not flag it.
DOCUMENTED_ONLY = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=list(HealthCheck),
)

#: The repository's schemathesis configuration, as `st run` reads it (a 413 or 414 is a refusal, not acceptance).
CONFIG = tomllib.loads((ROOT / "schemathesis.toml").read_text())
open_schema = schemathesis.openapi.from_asgi(
    "/openapi.yaml", create_app(Settings(source="sample")), config=SchemathesisConfig.from_dict(CONFIG)
)
#: schemathesis sends the token on its own, through the bearerAuth scheme the spec declares, so that it can also
#: leave it out on purpose and check the answer is then a 401 (`ignored_auth`).
WITH_TOKEN = SchemathesisConfig.from_dict({**CONFIG, "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}}})
token_schema = schemathesis.openapi.from_asgi("/openapi.yaml", create_app(TOKEN_SETTINGS), config=WITH_TOKEN)


@open_schema.parametrize()
@fuzz_settings
def test_every_generated_request_gets_a_documented_answer(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


@token_schema.parametrize()
@fuzz_settings
def test_with_a_token_every_generated_request_gets_a_documented_answer(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[*CHECKS, ignored_auth])


down_schema = schemathesis.openapi.from_asgi("/openapi.yaml", create_app(TOKEN_SETTINGS, source=DownSource()))
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOO_BIG = {"tickers": ["A" * (Settings().max_body_bytes + 1)]}
TOO_LONG = "A" * (Settings().max_query_bytes + 1)


def request_for(status: int, method: str) -> tuple[schemathesis.schemas.BaseSchema, dict]:
    """The schema (so, the app) and the request that makes an operation answer `status`."""
    query_form = method == "GET"
    valid = {"query": {"tickers": "AAPL"}} if query_form else {"body": {"tickers": ["AAPL"]}}
    return {
        200: (token_schema, {**valid, "headers": AUTH}),
        401: (token_schema, valid),
        413: (token_schema, {"body": TOO_BIG, "headers": AUTH}),
        414: (token_schema, {"query": {"tickers": TOO_LONG}, "headers": AUTH}),
        422: (
            token_schema,
            {**({"query": {"tickers": ""}} if query_form else {"body": {}}), "headers": AUTH},
        ),
        503: (down_schema, {**valid, "headers": AUTH}),
    }[status]


OPERATIONS = [
    (path, method.upper(), int(status))
    for path, item in token_schema.raw_schema["paths"].items()
    for method, operation in item.items()
    for status in operation["responses"]
]


def test_each_operation_documents_the_statuses_it_can_answer() -> None:
    documented = {(path, method): set() for path, method, _ in OPERATIONS}
    for path, method, status in OPERATIONS:
        documented[(path, method)].add(status)
    assert documented == {
        ("/get_prices", "GET"): {200, 401, 414, 422, 503},
        ("/get_prices", "POST"): {200, 401, 413, 414, 422, 503},
        ("/get_fundamentals", "GET"): {200, 401, 414, 422, 503},
    }


@pytest.mark.parametrize(("path", "method", "status"), OPERATIONS, ids=lambda v: str(v))
def test_every_documented_status_is_reachable_and_answers_as_documented(
    path: str, method: str, status: int
) -> None:
    schema, request = request_for(status, method)
    case = schema[path][method].Case(media_type="application/json" if "body" in request else None, **request)
    response = case.call()
    assert response.status_code == status, response.text
    case.validate_response(response, checks=DOCUMENTED_ONLY)
