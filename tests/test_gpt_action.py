"""`check_gpt_action`: our openapi.yaml meets the GPT Action rules, and every rule catches the spec that breaks it.

The rules are those of OpenAI's GPT Actions documentation; `x-openai-isConsequential` is one of them (plugins had none).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from plugin.action_rules import (
    MAX_DESCRIPTION,
    MAX_PARAMETER_DESCRIPTION,
    RULES,
    Finding,
    check_gpt_action,
)
from plugin.app import create_app
from plugin.settings import Settings
from plugin.sources import SampleSource


def served_spec(settings: Settings) -> dict[str, Any]:
    """The spec as the GPT editor's "Import from URL" gets it: GET /openapi.yaml."""
    answer = TestClient(create_app(settings, source=SampleSource())).get("/openapi.yaml")
    assert answer.status_code == 200
    return yaml.safe_load(answer.text)


@pytest.fixture(scope="module")
def public_spec() -> dict[str, Any]:
    return served_spec(Settings(source="sample", base_url="https://prices.example.com"))


def test_our_spec_with_an_https_base_url_passes_every_rule(public_spec: dict[str, Any]) -> None:
    assert public_spec["servers"] == [{"url": "https://prices.example.com"}]
    assert check_gpt_action(public_spec) == []


def test_our_spec_served_on_localhost_fails_only_the_https_rule() -> None:
    findings = check_gpt_action(served_spec(Settings(source="sample")))
    assert findings == [
        Finding(
            "https-servers",
            "servers[0].url",
            "'http://localhost:8000' is not HTTPS: a GPT Action only calls https:// URLs.",
        )
    ]


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:8000", True),
        ("http://127.0.0.1:8000", True),
        ("http://[::1]:8000", True),
        ("http://prices.localhost", True),
        ("http://prices.example.com", False),
        ("http://localhost.example.com", False),
    ],
)
def test_local_http_lets_plain_http_pass_on_this_machine_only(
    public_spec: dict[str, Any], url: str, local: bool
) -> None:
    spec = {**public_spec, "servers": [{"url": url}]}
    assert check_gpt_action(spec) != []
    findings = check_gpt_action(spec, local_http=True)
    assert findings == (
        []
        if local
        else [
            Finding(
                "https-servers",
                "servers[0].url",
                f"{url!r} is not HTTPS: a GPT Action only calls https:// URLs.",
            )
        ]
    )


# Each breaker takes a copy of our (passing) public spec and breaks exactly one rule in it.
def _no_servers(spec: dict) -> None:
    del spec["servers"]


def _http_server(spec: dict) -> None:
    spec["servers"] = [{"url": "https://prices.example.com"}, {"url": "http://prices.example.com"}]


def _long_summary(spec: dict) -> None:
    spec["paths"]["/get_prices"]["get"]["summary"] = "x" * (MAX_DESCRIPTION + 1)


def _long_description(spec: dict) -> None:
    spec["paths"]["/get_fundamentals"]["get"]["description"] = "x" * (MAX_DESCRIPTION + 1)


def _long_parameter_description(spec: dict) -> None:
    spec["paths"]["/get_prices"]["get"]["parameters"][0]["description"] = "x" * (
        MAX_PARAMETER_DESCRIPTION + 1
    )


def _missing_operation_id(spec: dict) -> None:
    del spec["paths"]["/get_fundamentals"]["get"]["operationId"]


def _duplicate_operation_id(spec: dict) -> None:
    spec["paths"]["/get_prices"]["post"]["operationId"] = "getPrices"


def _untyped_parameter(spec: dict) -> None:
    del spec["paths"]["/get_prices"]["get"]["parameters"][0]["schema"]


def _untyped_request_body(spec: dict) -> None:
    body = spec["paths"]["/get_prices"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = {"type": "object"}


def _untyped_response(spec: dict) -> None:
    # The 2023 tutorial's code answered a bare object: the model had to guess every field.
    content = spec["paths"]["/get_prices"]["get"]["responses"]["200"]["content"]["application/json"]
    content["schema"] = {"type": "object"}


def _untyped_field_deep_in_a_response(spec: dict) -> None:
    spec["components"]["schemas"]["Quote"]["properties"]["price"] = {"description": "no type"}


def _array_without_items(spec: dict) -> None:
    spec["components"]["schemas"]["PricesResponse"]["properties"]["quotes"] = {"type": "array"}


def _no_success_response(spec: dict) -> None:
    responses = spec["paths"]["/get_fundamentals"]["get"]["responses"]
    del responses["200"]


def _consequential_post(spec: dict) -> None:
    del spec["paths"]["/get_prices"]["post"]["x-openai-isConsequential"]


def _consequential_get(spec: dict) -> None:
    spec["paths"]["/get_prices"]["get"]["x-openai-isConsequential"] = True


def _external_ref(spec: dict) -> None:
    content = spec["paths"]["/get_prices"]["get"]["responses"]["200"]["content"]["application/json"]
    content["schema"] = {"$ref": "https://example.com/schemas.json#/Quote"}


def _dangling_ref(spec: dict) -> None:
    del spec["components"]["schemas"]["QuoteError"]


BREAKERS: list[tuple[Callable[[dict], None], str, str]] = [
    (_no_servers, "https-servers", "servers"),
    (_http_server, "https-servers", "servers[1].url"),
    (_long_summary, "operation-description", "GET /get_prices summary"),
    (_long_description, "operation-description", "GET /get_fundamentals description"),
    (_long_parameter_description, "parameter-description", "GET /get_prices parameter 'tickers'"),
    (_missing_operation_id, "operation-id", "GET /get_fundamentals"),
    (_duplicate_operation_id, "operation-id", "POST /get_prices"),
    (_untyped_parameter, "typed-parameters", "GET /get_prices parameter 'tickers'"),
    (_untyped_request_body, "typed-parameters", "POST /get_prices request body (application/json)"),
    (_untyped_response, "typed-responses", "GET /get_prices response 200"),
    (_no_success_response, "typed-responses", "GET /get_fundamentals"),
    (_consequential_post, "not-consequential", "POST /get_prices"),
    (_consequential_get, "not-consequential", "GET /get_prices"),
    (_external_ref, "local-refs", "paths"),
    (_dangling_ref, "local-refs", "paths"),
]


@pytest.mark.parametrize(
    ("breaker", "rule", "where"), BREAKERS, ids=[b[0].__name__.strip("_") for b in BREAKERS]
)
def test_each_rule_reports_the_spec_that_breaks_it(
    public_spec: dict[str, Any], breaker: Callable[[dict], None], rule: str, where: str
) -> None:
    spec = copy.deepcopy(public_spec)
    breaker(spec)
    findings = check_gpt_action(spec)
    assert [(f.rule, f.where) for f in findings] == [(rule, where)], findings
    assert findings[0].message


def test_every_rule_has_a_failing_example() -> None:
    assert {rule for _, rule, _ in BREAKERS} == set(RULES)


@pytest.mark.parametrize(
    ("breaker", "hole"),
    [(_untyped_field_deep_in_a_response, "quotes[].price"), (_array_without_items, "quotes[]")],
    ids=["untyped-field", "array-without-items"],
)
def test_an_untyped_part_of_a_shared_schema_is_named_in_every_operation_using_it(
    public_spec: dict[str, Any], breaker: Callable[[dict], None], hole: str
) -> None:
    spec = copy.deepcopy(public_spec)
    breaker(spec)
    findings = check_gpt_action(spec)
    assert {f.where for f in findings} == {"GET /get_prices response 200", "POST /get_prices response 200"}
    assert all(f.rule == "typed-responses" and f"no type at {hole}" in f.message for f in findings)


def test_limits_are_inclusive(public_spec: dict[str, Any]) -> None:
    spec = copy.deepcopy(public_spec)
    spec["paths"]["/get_prices"]["get"]["summary"] = "x" * MAX_DESCRIPTION
    spec["paths"]["/get_prices"]["get"]["parameters"][0]["description"] = "x" * MAX_PARAMETER_DESCRIPTION
    assert check_gpt_action(spec) == []


def test_the_2023_tutorials_spec_breaks_four_rules() -> None:
    """The spec the 2023 tutorial's code served (NextWordDev/chatgpt-plugins), as its repository describes it."""
    tutorial = {
        "openapi": "3.0.2",
        "info": {"title": "FastAPI", "version": "0.1.0"},
        "paths": {
            "/get_prices": {
                "post": {
                    "summary": "Get Prices",
                    "operationId": "get_prices_get_prices_post",
                    "parameters": [{"name": "tickers", "in": "query", "required": True}],
                    "responses": {
                        "200": {
                            "content": {"application/json": {"schema": {"type": "object"}}},
                            "description": "OK",
                        }
                    },
                }
            }
        },
    }
    assert [f.rule for f in check_gpt_action(tutorial)] == [
        "https-servers",
        "typed-parameters",
        "typed-responses",
        "not-consequential",
    ]


def test_path_level_parameters_and_combinators_are_checked() -> None:
    spec = {
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/things/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "description": "x" * 701}],
                "get": {
                    "operationId": "getThing",
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": {"anyOf": [{"type": "string"}, {}]}}},
                        }
                    },
                },
            }
        },
    }
    assert [(f.rule, f.where) for f in check_gpt_action(spec)] == [
        ("parameter-description", "GET /things/{id} parameter 'id'"),
        ("typed-parameters", "GET /things/{id} parameter 'id'"),
        ("typed-responses", "GET /things/{id} response 200"),
    ]


def test_a_finding_reads_as_one_line() -> None:
    finding = Finding("operation-id", "GET /x", "missing")
    assert str(finding) == "[operation-id] GET /x: missing"
