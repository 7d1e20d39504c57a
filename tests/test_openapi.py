"""openapi.yaml is the app's own OpenAPI document, valid, typed, and within the plugin rules."""

from __future__ import annotations

import re

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
    body = post["requestBody"]
    request = spec["components"]["schemas"]["PricesRequest"]
    assert body["required"] is True, "no body, or a null one, is refused: the spec must not allow it"
    assert body["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/PricesRequest"
    assert "anyOf" not in body["content"]["application/json"]["schema"]
    tickers = request["properties"]["tickers"]
    assert (tickers["type"], tickers["minItems"], tickers["maxItems"]) == ("array", 1, 25)
    assert tickers["items"] == {"type": "string", "minLength": 1, "pattern": "[^ \\t\\n\\v\\f\\r]"}
    assert request["required"] == ["tickers"]
    [query] = operations(spec)[("get", "/get_prices")]["parameters"]
    assert (query["name"], query["in"], query["required"], query["schema"]["type"]) == (
        "tickers",
        "query",
        True,
        "string",
    )
    assert "parameters" not in post, (
        "the 2023 query form is accepted, and said in the description, not the schema"
    )
    assert "query string and no body, is still accepted" in post["description"]


#: Query strings and what the API answers: the spec's pattern must agree with each (True: accepted).
QUERIES = {
    "AAPL": True,
    " AAPL , msft\t": True,
    "AAPL,aapl,AAPL": True,
    "\xa0": True,  # not ASCII whitespace: an input, answered as an invalid symbol
    "ZZZZ,BTC/USD": True,
    "": False,
    " ": False,
    ",": False,
    "AAPL,": False,
    "AAPL,,MSFT": False,
    "AAPL, \t,MSFT": False,
    ",".join(["AAPL"] * 25): True,
    ",".join(["AAPL"] * 26): False,
}


@pytest.mark.parametrize(("query", "accepted"), QUERIES.items(), ids=repr)
def test_the_query_pattern_says_exactly_what_the_api_accepts(
    app: FastAPI, query: str, accepted: bool
) -> None:
    client = TestClient(app)
    for path in ("/get_prices", "/get_fundamentals"):
        [parameter] = app.openapi()["paths"][path]["get"]["parameters"]
        assert bool(re.search(parameter["schema"]["pattern"], query)) is accepted
        assert client.get(path, params={"tickers": query}).status_code == (200 if accepted else 422)


@pytest.mark.parametrize("body", [b"null", b"", b'{"tickers": [" "]}', b'{"tickers": []}'])
def test_a_post_the_spec_does_not_allow_is_refused(app: FastAPI, body: bytes) -> None:
    answer = TestClient(app).post("/get_prices", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422


def test_the_spec_says_repeats_of_a_symbol_are_answered_once(app: FastAPI, spec: dict) -> None:
    answer = TestClient(app).get("/get_prices", params={"tickers": "AAPL,aapl,AAPL,MSFT"}).json()
    assert [quote["symbol"] for quote in answer["quotes"]] == ["AAPL", "MSFT"]
    for op in operations(spec).values():
        assert "each distinct one" in op["description"] or "same answer as getPrices" in op["description"]
        assert op["responses"]["200"]["description"].startswith("Each distinct symbol once")
    assert "answered once" in spec["components"]["schemas"]["PricesResponse"]["description"]


def test_no_operation_is_listed_twice_though_get_routes_answer_head(spec: dict) -> None:
    assert all(set(item) <= {"get", "post"} for item in spec["paths"].values())
    ids = [op["operationId"] for op in operations(spec).values()]
    assert len(ids) == len(set(ids)) == 3


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
