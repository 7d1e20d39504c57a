"""Every refusal has one JSON body that names the problem and what is allowed; nothing is ever a traceback."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient
from support import BrokenSource, DownSource

from plugin.app import create_app
from plugin.cache import CachedSource
from plugin.errors import ErrorResponse
from plugin.quotes import Quote, QuoteError
from plugin.settings import Settings
from plugin.sources import SampleSource

SAMPLE = Settings(source="sample")


@pytest.fixture
def client() -> TestClient:
    # raise_server_exceptions (the default) makes any exception that reaches the 500 handler fail the test:
    # every test here that does not expect a 500 also proves the catch-all is never reached.
    return TestClient(create_app(SAMPLE))


def error_of(answer, status: int) -> dict:  # noqa: ANN001 - an httpx response
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    ErrorResponse.model_validate(body)
    assert set(body) == {"error"}
    return body["error"]


# --- 422: malformed requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_kwargs", "field", "rule", "message"),
    [
        (
            {"method": "GET", "url": "/get_prices"},
            "tickers",
            "required",
            "tickers: is required; expected 1 to 25 Yahoo Finance symbols such as AAPL or BTC-USD",
        ),
        (
            {"method": "GET", "url": "/get_prices?tickers="},
            "tickers",
            "min_items",
            "tickers: must have at least 1 item, got 0; expected 1 to 25 Yahoo Finance symbols such as AAPL or BTC-USD",
        ),
        (
            {"method": "GET", "url": "/get_prices?tickers=" + ",".join(["AAPL"] * 30)},
            "tickers",
            "max_items",
            "tickers: at most 25 items per request, got 30",
        ),
        (
            {"method": "GET", "url": "/get_prices?tickers=AAPL,,MSFT"},
            "tickers[1]",
            "not_empty",
            "tickers[1]: must not be empty",
        ),
        (
            {"method": "GET", "url": "/get_fundamentals"},
            "tickers",
            "required",
            "tickers: is required; expected 1 to 25 Yahoo Finance symbols such as AAPL or BTC-USD",
        ),
        (
            {"method": "GET", "url": "/get_fundamentals?tickers=" + ",".join(["MSFT"] * 26)},
            "tickers",
            "max_items",
            "tickers: at most 25 items per request, got 26",
        ),
        (
            {"method": "POST", "url": "/get_prices"},
            "tickers",
            "required",
            "tickers: is required; expected 1 to 25 Yahoo Finance symbols such as AAPL or BTC-USD",
        ),
        (
            {"method": "POST", "url": "/get_prices", "json": {}},
            "tickers",
            "required",
            "tickers: is required; expected 1 to 25 Yahoo Finance symbols such as AAPL or BTC-USD",
        ),
        (
            {"method": "POST", "url": "/get_prices", "json": {"tickers": []}},
            "tickers",
            "min_items",
            "tickers: must have at least 1 item, got 0; expected 1 to 25 Yahoo Finance symbols such as AAPL or BTC-USD",
        ),
        (
            {"method": "POST", "url": "/get_prices", "json": {"tickers": ["AAPL"] * 30}},
            "tickers",
            "max_items",
            "tickers: at most 25 items per request, got 30",
        ),
        (
            {"method": "POST", "url": "/get_prices", "json": {"tickers": "AAPL"}},
            "tickers",
            "type",
            "tickers: must be an array, got a string; expected 1 to 25 Yahoo Finance symbols such as AAPL or BTC-USD",
        ),
        (
            {"method": "POST", "url": "/get_prices", "json": {"tickers": ["AAPL", 42]}},
            "tickers[1]",
            "type",
            "tickers[1]: must be a string, got a number; expected 1 to 25 Yahoo Finance symbols such as AAPL or BTC-USD",
        ),
        (
            {"method": "POST", "url": "/get_prices", "json": {"tickers": ["AAPL", ""]}},
            "tickers[1]",
            "not_empty",
            "tickers[1]: must not be empty",
        ),
        (
            {"method": "POST", "url": "/get_prices", "json": {"tickers": ["  "]}},
            "tickers[0]",
            "not_empty",
            "tickers[0]: must not be empty",
        ),
        (
            {"method": "POST", "url": "/get_prices", "json": ["AAPL"]},
            "body",
            "type",
            'body: must be a JSON object, got an array; expected a JSON object such as {"tickers": ["AAPL", "BTC-USD"]}',
        ),
        (
            {
                "method": "POST",
                "url": "/get_prices",
                "content": b'{"tickers": ["AAPL"',
                "headers": {"content-type": "application/json"},
            },
            "body",
            "json",
            'body: is not valid JSON (Expecting \',\' delimiter); expected a JSON object such as {"tickers": ["AAPL", "BTC-USD"]}',
        ),
        (
            {
                "method": "POST",
                "url": "/get_prices",
                "content": b"AAPL",
                "headers": {"content-type": "text/plain"},
            },
            "body",
            "type",
            "body: is not JSON (send a JSON object with Content-Type: application/json); "
            'expected a JSON object such as {"tickers": ["AAPL", "BTC-USD"]}',
        ),
        (
            {"method": "POST", "url": "/get_prices?tickers=MSFT", "json": {"tickers": ["AAPL"]}},
            "tickers",
            "exclusive",
            "tickers: is in both the query string and the JSON body; send it in one of them",
        ),
    ],
    ids=[
        "get-missing",
        "get-empty",
        "get-too-many",
        "get-empty-item",
        "fundamentals-missing",
        "fundamentals-too-many",
        "post-no-body",
        "post-empty-object",
        "post-empty-array",
        "post-too-many",
        "post-string-not-array",
        "post-number-item",
        "post-empty-string-item",
        "post-blank-item",
        "post-array-body",
        "post-broken-json",
        "post-text-body",
        "post-body-and-query",
    ],
)
def test_a_malformed_request_is_a_422_naming_the_field_and_the_rule(
    client: TestClient, request_kwargs: dict, field: str, rule: str, message: str
) -> None:
    error = error_of(client.request(**request_kwargs), 422)
    assert error["code"] == "invalid_request"
    assert error["message"] == message
    assert error["details"][0] == {"field": field, "rule": rule, "message": message}


def test_several_problems_are_all_listed(client: TestClient) -> None:
    error = error_of(client.post("/get_prices", json={"tickers": [1, "AAPL", None]}), 422)
    assert [(d["field"], d["rule"]) for d in error["details"]] == [
        ("tickers[0]", "type"),
        ("tickers[2]", "type"),
    ]
    assert error["message"].endswith("(and 1 more problem, listed in details)")


def test_a_422_never_echoes_a_huge_input(client: TestClient) -> None:
    answer = client.post("/get_prices", json={"tickers": "X" * 16_000})  # just under the 16 KB body limit
    error_of(answer, 422)
    assert len(answer.content) < 1_000


def test_the_symbol_limit_counts_symbols_before_deduplication(client: TestClient) -> None:
    error_of(client.get("/get_prices", params={"tickers": ",".join(["AAPL"] * 26)}), 422)


# --- 404 and 405 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/get_price", "/stock_price/AAPL", "/v1/quotes", "/static-offline-docs/nope.js"]
)
def test_an_unknown_path_is_a_404_listing_the_operations_that_exist(client: TestClient, path: str) -> None:
    error = error_of(client.get(path), 404)
    assert error["code"] == "not_found"
    assert error["message"].startswith(
        f"There is no GET {path}. This API has GET /get_prices, POST /get_prices, "
    )
    assert error["message"].endswith("its OpenAPI spec is at /openapi.yaml.")
    assert [(o["method"], o["path"], o["operation_id"]) for o in error["operations"]] == [
        ("GET", "/get_prices", "getPrices"),
        ("POST", "/get_prices", "postPrices"),
        ("GET", "/get_fundamentals", "getFundamentals"),
    ]
    assert all(o["summary"] for o in error["operations"])


def test_a_wrong_method_is_a_405_naming_every_allowed_method(client: TestClient) -> None:
    answer = client.put("/get_prices", json={"tickers": ["AAPL"]})
    error = error_of(answer, 405)
    assert answer.headers["allow"] == "GET, HEAD, POST"  # every GET route answers HEAD too (03)
    assert error["code"] == "method_not_allowed"
    assert error["message"].startswith("/get_prices does not answer PUT; it answers GET, HEAD, POST.")
    assert len(error["operations"]) == 3


def test_a_post_to_a_get_only_route_is_a_405(client: TestClient) -> None:
    answer = client.post("/get_fundamentals", json={"tickers": ["AAPL"]})
    assert error_of(answer, 405)["message"].startswith(
        "/get_fundamentals does not answer POST; it answers GET, HEAD."
    )
    assert answer.headers["allow"] == "GET, HEAD"


# --- 503: nothing can be served -------------------------------------------------------------------------------


def test_an_unreachable_upstream_with_nothing_cached_is_a_503_with_retry_after() -> None:
    client = TestClient(create_app(SAMPLE, source=CachedSource(DownSource())))
    answer = client.get("/get_prices", params={"tickers": "AAPL,MSFT"})
    error = error_of(answer, 503)
    assert answer.headers["retry-after"] == str(SAMPLE.retry_after)
    assert error["code"] == "upstream_unavailable"
    assert error["retry_after"] == SAMPLE.retry_after
    assert error["message"] == (
        "No data could be served: the price source cannot be reached, and nothing is cached for AAPL, MSFT. "
        f"Retry after {SAMPLE.retry_after} s."
    )
    assert [(d["field"], d["rule"]) for d in error["details"]] == [("tickers", "upstream_unavailable")] * 2
    assert "AAPL" in error["details"][0]["message"]


def test_the_retry_hint_comes_from_the_settings() -> None:
    client = TestClient(create_app(Settings(source="sample", retry_after=7), source=DownSource()))
    answer = client.get("/get_prices", params={"tickers": "AAPL"})
    assert answer.headers["retry-after"] == "7"
    assert error_of(answer, 503)["retry_after"] == 7
    assert error_of(answer, 503)["message"].endswith("Retry after 7 s.")


def test_a_rate_limited_upstream_is_a_503_that_says_so() -> None:
    client = TestClient(create_app(SAMPLE, source=DownSource("rate_limited")))
    answer = client.post("/get_prices", json={"tickers": ["AAPL"]})
    error = error_of(answer, 503)
    assert "rate-limiting" in error["message"]
    assert answer.headers["retry-after"] == str(SAMPLE.retry_after)


def test_fundamentals_with_the_upstream_down_are_a_503_too() -> None:
    client = TestClient(create_app(SAMPLE, source=DownSource()))
    answer = client.get("/get_fundamentals", params={"tickers": "AAPL"})
    assert error_of(answer, 503)["code"] == "upstream_unavailable"
    assert "retry-after" in answer.headers


def test_a_source_that_raises_is_a_503_not_a_500(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(create_app(SAMPLE, source=BrokenSource()))
    answer = client.get("/get_prices", params={"tickers": "AAPL"})
    error = error_of(answer, 503)
    assert "secret internal detail" not in answer.text
    assert (
        error["details"][0]["message"] == "No price for 'AAPL': the price source failed; try again shortly."
    )
    assert "secret internal detail" in caplog.text, "the cause is logged on the server"


def test_invalid_symbols_alone_are_a_200_with_errors_not_a_503() -> None:
    client = TestClient(create_app(SAMPLE, source=DownSource()))
    answer = client.get("/get_prices", params={"tickers": "!!,??"})
    assert answer.status_code == 200
    assert [e["code"] for e in answer.json()["errors"]] == ["invalid_symbol", "invalid_symbol"]


def test_a_partial_outage_is_a_200_with_the_failures_in_errors() -> None:
    class HalfDown(DownSource):
        async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
            answers = await SampleSource().get_quotes(symbols)
            answers.update(self.errors([s for s in symbols if s != "AAPL"]))
            return answers

    client = TestClient(create_app(SAMPLE, source=HalfDown()))
    body = client.get("/get_prices", params={"tickers": "MSFT,AAPL"}).json()
    assert [q["symbol"] for q in body["quotes"]] == ["AAPL"]
    assert [(e["symbol"], e["code"]) for e in body["errors"]] == [("MSFT", "upstream_unavailable")]


def test_a_stale_cached_quote_is_served_while_the_upstream_is_down() -> None:
    class Flaky(DownSource):
        def __init__(self) -> None:
            super().__init__()
            self.up = True

        async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
            return await SampleSource().get_quotes(symbols) if self.up else self.errors(symbols)

    now = [0.0]
    upstream = Flaky()
    client = TestClient(create_app(SAMPLE, source=CachedSource(upstream, ttl=30, clock=lambda: now[0])))
    assert client.get("/get_prices?tickers=AAPL").json()["quotes"][0]["stale"] is False
    upstream.up, now[0] = False, 100.0
    answer = client.get("/get_prices?tickers=AAPL")
    assert answer.status_code == 200
    assert answer.json()["quotes"][0]["stale"] is True


# --- 500: the catch-all -------------------------------------------------------------------------------------


def test_an_unexpected_exception_is_a_json_500_without_internals() -> None:
    app = create_app(SAMPLE)

    @app.get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise ValueError("secret internal detail")

    answer = TestClient(app, raise_server_exceptions=False).get("/boom")
    error = error_of(answer, 500)
    assert error["code"] == "internal_error"
    assert "secret" not in answer.text and "Traceback" not in answer.text and "ValueError" not in answer.text
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_other_http_errors_keep_their_status_and_get_the_same_body() -> None:
    from fastapi import HTTPException

    app = create_app(SAMPLE)

    @app.get("/private", include_in_schema=False)
    async def private() -> None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/busy", include_in_schema=False)
    async def busy() -> None:
        raise HTTPException(429, headers={"Retry-After": "5"})

    client = TestClient(app)
    answer = client.get("/private")
    assert error_of(answer, 401) == {
        "code": "unauthorized",
        "message": "a bearer token is required",
        "details": [],
    }
    assert answer.headers["www-authenticate"] == "Bearer"
    assert error_of(client.get("/busy"), 429) == {
        "code": "rate_limited",
        "message": "Too Many Requests",
        "details": [],
        "retry_after": 5,
    }
