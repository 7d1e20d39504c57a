"""openapi.yaml is the app's own OpenAPI document, valid, typed, and within the plugin rules."""

from __future__ import annotations

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from plugin.app import create_app
from plugin.openapi import PLUGIN_TEXT_LIMIT, plugin_rule_violations, render_yaml
from plugin.settings import Settings

OPERATIONS = {
    ("get", "/get_prices"): "getPrices",
    ("post", "/get_prices"): "postPrices",
    ("get", "/get_fundamentals"): "getFundamentals",
}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(source="sample", base_url="https://prices.example.com"))


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict:
    answer = TestClient(app).get("/openapi.yaml")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/yaml"
    return yaml.safe_load(answer.text)


def operations(spec: dict) -> dict[tuple[str, str], dict]:
    return {(method, path): op for path, item in spec["paths"].items() for method, op in item.items()}


def test_the_yaml_is_the_same_document_as_openapi_json(app: FastAPI, spec: dict) -> None:
    assert spec == TestClient(app).get("/openapi.json").json()


def test_the_spec_passes_openapi_spec_validator(spec: dict) -> None:
    validate(spec)


def test_the_spec_has_a_real_title_description_and_the_public_server(spec: dict) -> None:
    assert spec["info"]["title"] == "Stock and Crypto Prices"
    assert "Yahoo Finance" in spec["info"]["description"]
    assert spec["info"]["version"]
    assert spec["servers"] == [{"url": "https://prices.example.com"}]


def test_the_spec_has_exactly_the_three_operations_with_explicit_ids(spec: dict) -> None:
    assert {key: op["operationId"] for key, op in operations(spec).items()} == OPERATIONS


def test_every_operation_obeys_the_plugin_rules(spec: dict) -> None:
    assert plugin_rule_violations(spec) == []
    for (method, path), op in operations(spec).items():
        assert 0 < len(op["summary"]) <= PLUGIN_TEXT_LIMIT, (method, path)
        assert 0 < len(op["description"]) <= PLUGIN_TEXT_LIMIT, (method, path)
        assert op["x-openai-isConsequential"] is False, (method, path)
        for parameter in op.get("parameters", []):
            assert 0 < len(parameter["description"]) <= PLUGIN_TEXT_LIMIT


def test_responses_are_typed_with_the_models(spec: dict) -> None:
    ops = operations(spec)
    ref = "#/components/schemas/"
    for key, model in [
        (("get", "/get_prices"), "PricesResponse"),
        (("post", "/get_prices"), "PricesResponse"),
        (("get", "/get_fundamentals"), "FundamentalsResponse"),
    ]:
        responses = ops[key]["responses"]
        assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": ref + model}
        assert responses["422"]["content"]["application/json"]["schema"] == {"$ref": ref + "ErrorResponse"}
        assert responses["503"]["content"]["application/json"]["schema"] == {"$ref": ref + "ErrorResponse"}
        assert "Retry-After" in responses["503"]["headers"]
    schemas = spec["components"]["schemas"]
    assert schemas["PricesResponse"]["properties"]["quotes"]["items"] == {"$ref": ref + "Quote"}
    assert schemas["Quote"]["properties"]["price"]["type"] == "number"
    assert "HTTPValidationError" not in schemas, "FastAPI's default 422 body is replaced, not documented"


def test_the_post_body_and_the_query_parameter_are_typed(spec: dict) -> None:
    post = operations(spec)[("post", "/get_prices")]
    body_schema = post["requestBody"]["content"]["application/json"]["schema"]
    request = spec["components"]["schemas"]["PricesRequest"]
    assert body_schema == {"$ref": "#/components/schemas/PricesRequest"} or body_schema["anyOf"][0] == {
        "$ref": "#/components/schemas/PricesRequest"
    }
    tickers = request["properties"]["tickers"]
    assert (tickers["type"], tickers["minItems"], tickers["maxItems"]) == ("array", 1, 25)
    assert tickers["items"]["type"] == "string" and tickers["items"]["minLength"] == 1
    assert request["required"] == ["tickers"]
    [query] = operations(spec)[("get", "/get_prices")]["parameters"]
    assert (query["name"], query["in"], query["required"], query["schema"]["type"]) == (
        "tickers",
        "query",
        True,
        "string",
    )
    [tutorial_form] = post["parameters"]
    assert tutorial_form["deprecated"] is True and tutorial_form["required"] is False


def test_the_documented_limit_follows_the_settings() -> None:
    spec = create_app(Settings(source="sample", max_symbols=5)).openapi()
    assert spec["components"]["schemas"]["PricesRequest"]["properties"]["tickers"]["maxItems"] == 5
    assert "1 to 5 " in spec["paths"]["/get_prices"]["get"]["description"]


def test_the_plugin_files_are_not_operations_the_model_sees(spec: dict) -> None:
    assert set(spec["paths"]) == {"/get_prices", "/get_fundamentals"}


def test_the_yaml_is_rendered_once_per_app() -> None:
    app = create_app(Settings(source="sample"))
    calls = []
    original = app.openapi
    app.openapi = lambda: calls.append(1) or original()
    client = TestClient(app)
    first, second = client.get("/openapi.yaml"), client.get("/openapi.yaml")
    assert first.content == second.content == render_yaml(original())
    assert len(calls) == 1


def test_the_rule_checker_flags_the_2023_tutorials_spec() -> None:
    tutorial = FastAPI()

    @tutorial.post("/get_prices")
    async def get_prices(tickers: str) -> dict:
        return {}

    problems = plugin_rule_violations(tutorial.openapi())
    assert problems[0].startswith("servers: missing")
    assert any("'get_prices_get_prices_post' is not a short camelCase name" in p for p in problems)
    assert "POST /get_prices: no description" in problems
    assert not any("isConsequential" in p for p in problems), (
        "a GPT Action rule, not a plugin rule (chapter 06)"
    )


def test_the_rule_checker_counts_characters_and_finds_duplicate_ids() -> None:
    op = {
        "operationId": "getPrices",
        "summary": "s" * 201,
        "description": "ok",
        "x-openai-isConsequential": False,
        "parameters": [{"name": "tickers", "description": "d" * 250}],
    }
    spec = {"servers": [{"url": "https://x.example"}], "paths": {"/a": {"get": op}, "/b": {"get": dict(op)}}}
    assert plugin_rule_violations(spec) == [
        "GET /a: summary is 201 characters; at most 200 are allowed",
        "GET /a: parameter 'tickers' description is 250 characters; at most 200 are allowed",
        "GET /b: operationId 'getPrices' is also used by GET /a",
        "GET /b: summary is 201 characters; at most 200 are allowed",
        "GET /b: parameter 'tickers' description is 250 characters; at most 200 are allowed",
    ]
