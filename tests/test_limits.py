"""Request limits and response headers: oversized requests are refused before any route runs, in our JSON format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from support import CountingSource

from plugin.app import create_app
from plugin.lab.server import BackgroundServer
from plugin.middleware import RequestLimitsMiddleware, SecurityHeadersMiddleware
from plugin.service import create_service
from plugin.settings import Settings

#: The limits every test here checks: the defaults of `Settings`, the one place they are defined.
MAX_BODY_BYTES = Settings().max_body_bytes
MAX_QUERY_BYTES = Settings().max_query_bytes


@pytest.fixture
def source() -> CountingSource:
    return CountingSource()


@pytest.fixture
def client(source: CountingSource) -> TestClient:
    return TestClient(create_app(Settings(source="sample"), source=source))


def padded_body(size: int) -> bytes:
    """A valid request for AAPL, padded with spaces to exactly `size` bytes."""
    body = b'{"tickers": ["AAPL"]}'
    return body + b" " * (size - len(body))


def chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    """The body as a generator, which httpx sends chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def error_of(answer: httpx.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    error = answer.json()["error"]
    assert error["code"] == code
    return error


# --- the body -------------------------------------------------------------------------------------------------


def test_a_body_of_exactly_the_limit_is_accepted(client: TestClient) -> None:
    answer = client.post(
        "/get_prices", content=padded_body(MAX_BODY_BYTES), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 200
    assert answer.json()["quotes"][0]["symbol"] == "AAPL"


def test_a_declared_length_over_the_limit_is_a_413_before_any_route_runs(
    client: TestClient, source: CountingSource
) -> None:
    answer = client.post(
        "/get_prices", content=padded_body(MAX_BODY_BYTES + 1), headers={"content-type": "application/json"}
    )
    error = error_of(answer, 413, "payload_too_large")
    assert error["message"] == (
        "The request body is 16,385 bytes; at most 16,384 bytes are accepted. "
        'Send a JSON object such as {"tickers": ["AAPL", "BTC-USD"]}.'
    )
    assert error["details"] == [{"field": "body", "rule": "max_bytes", "message": error["message"]}]
    assert answer.headers["connection"] == "close"
    assert source.calls == []


def test_a_chunked_body_over_the_limit_is_a_413_too(client: TestClient, source: CountingSource) -> None:
    answer = client.post(
        "/get_prices",
        content=chunks(padded_body(MAX_BODY_BYTES * 4)),
        headers={"content-type": "application/json"},
    )
    error = error_of(answer, 413, "payload_too_large")
    assert error["message"].startswith("The request body goes on past the limit; at most 16,384 bytes")
    assert source.calls == []


def test_a_chunked_body_within_the_limit_reaches_the_route_whole(client: TestClient) -> None:
    body = json.dumps({"tickers": ["AAPL", "BTC-USD"] + ["MSFT"] * 20}).encode()
    answer = client.post("/get_prices", content=chunks(body, 7), headers={"content-type": "application/json"})
    assert answer.status_code == 200
    assert [q["symbol"] for q in answer.json()["quotes"]] == ["AAPL", "BTC-USD", "MSFT"]


def test_a_get_declaring_a_huge_body_is_refused_too(client: TestClient) -> None:
    answer = client.request("GET", "/get_prices?tickers=AAPL", content=b"x" * (MAX_BODY_BYTES + 1))
    error_of(answer, 413, "payload_too_large")


def test_the_limit_holds_over_real_http_with_a_chunked_body() -> None:
    with BackgroundServer(create_app(Settings(source="sample")), name="test_limits") as server:
        with httpx.Client(base_url=server.url, headers={"content-type": "application/json"}) as http:
            big = http.post("/get_prices", content=chunks(padded_body(MAX_BODY_BYTES * 8), 4096))
            assert big.status_code == 413
            assert big.json()["error"]["code"] == "payload_too_large"
            small = http.post("/get_prices", content=chunks(padded_body(2000), 100))
            assert small.status_code == 200
        assert httpx.get(f"{server.url}/get_prices?tickers=AAPL").status_code == 200, (
            "the server still answers"
        )


def _drive_limits(headers: list[tuple[bytes, bytes]], messages: list[dict]) -> list[dict]:
    """Run one POST /get_prices through RequestLimitsMiddleware alone, in front of an app that must never run."""

    async def app(scope, receive, send):  # noqa: ANN001, ANN202 - a minimal ASGI app
        raise AssertionError("the app must not be called")

    incoming = iter(messages)
    sent: list[dict] = []

    async def receive() -> dict:
        return next(incoming)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/get_prices", "query_string": b"", "headers": headers}
    asyncio.run(
        RequestLimitsMiddleware(app, max_body=MAX_BODY_BYTES, max_query=MAX_QUERY_BYTES, deadline=1.0)(
            scope, receive, send
        )
    )
    return sent


def test_a_content_length_that_is_not_a_number_is_a_400() -> None:
    sent = _drive_limits(
        [(b"content-length", b"12abc")], [{"type": "http.request", "body": b"", "more_body": False}]
    )
    assert sent[0]["status"] == 400
    error = json.loads(sent[1]["body"])["error"]
    assert (error["code"], error["message"]) == ("bad_request", "Content-Length must be a number of bytes.")


def test_the_limits_come_from_the_settings() -> None:
    client = TestClient(create_app(Settings(source="sample", max_body_bytes=100, max_query_bytes=64)))
    body = client.post("/get_prices", content=b" " * 101, headers={"content-type": "application/json"})
    assert body.status_code == 413
    assert "at most 100 bytes are accepted" in body.json()["error"]["message"]
    query = client.get("/get_prices?tickers=" + "A" * 60)
    assert query.status_code == 414
    assert "at most 64 are accepted" in query.json()["error"]["message"]
    spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/get_prices"]["post"]["responses"]
    assert responses["413"]["description"] == "The request body is larger than 100 bytes."
    assert responses["414"]["description"] == "The query string is longer than 64 bytes."


def test_a_client_that_leaves_mid_body_gets_no_answer_and_the_route_never_runs() -> None:
    sent = _drive_limits(
        [(b"transfer-encoding", b"chunked")],
        [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}],
    )
    assert sent == []


def test_a_query_string_of_exactly_the_limit_is_read(client: TestClient) -> None:
    query = "tickers=AAPL," + "A" * (MAX_QUERY_BYTES - len("tickers=AAPL,"))
    answer = client.get(f"/get_prices?{query}")
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["code"] == "invalid_symbol"


def test_a_longer_query_string_is_a_414_that_says_what_to_do(
    client: TestClient, source: CountingSource
) -> None:
    answer = client.get("/get_prices?tickers=" + "A" * MAX_QUERY_BYTES)
    error = error_of(answer, 414, "uri_too_long")
    assert error["message"] == (
        "The query string is 2,056 bytes; at most 2,048 are accepted. Ask for fewer symbols at a time, "
        "or send them in the JSON body of POST /get_prices."
    )
    assert source.calls == []


def test_the_query_limit_counts_bytes_as_sent_percent_encoded(client: TestClient) -> None:
    answer = client.get("/get_prices", params={"tickers": "€" * 300})  # 300 characters, 2,700 bytes encoded
    error_of(answer, 414, "uri_too_long")


# --- headers on every response --------------------------------------------------------------------------------

EVERY_KIND_OF_ANSWER = [
    ("GET", "/get_prices?tickers=AAPL", {}, 200),
    ("GET", "/.well-known/ai-plugin.json", {}, 200),
    ("GET", "/openapi.yaml", {}, 200),
    ("GET", "/openapi.json", {}, 200),
    ("GET", "/logo.png", {}, 200),
    ("GET", "/legal", {}, 200),
    ("GET", "/docs", {}, 200),
    ("GET", "/redoc", {}, 200),
    ("GET", "/static-offline-docs/swagger-ui-bundle.js", {}, 200),
    ("GET", "/static-offline-docs/swagger-ui.css", {}, 200),
    ("GET", "/get_prices", {}, 422),
    ("GET", "/nope", {}, 404),
    ("DELETE", "/get_prices", {}, 405),
    ("POST", "/get_prices", {"content": b"x" * (MAX_BODY_BYTES + 1)}, 413),
    ("GET", "/get_prices?tickers=" + "A" * MAX_QUERY_BYTES, {}, 414),
    (
        "OPTIONS",
        "/get_prices",
        {"headers": {"Origin": "https://chatgpt.com", "Access-Control-Request-Method": "GET"}},
        200,
    ),
    (
        "OPTIONS",
        "/get_prices",
        {"headers": {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}},
        403,
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "options", "status"), EVERY_KIND_OF_ANSWER, ids=lambda v: str(v)[:40]
)
def test_every_answer_says_nosniff_and_a_strict_type_with_a_charset_when_textual(
    client: TestClient, method: str, path: str, options: dict, status: int
) -> None:
    answer = client.request(method, path, **options)
    assert answer.status_code == status
    assert answer.headers["x-content-type-options"] == "nosniff"
    content_type = answer.headers["content-type"]
    media_type = content_type.split(";")[0]
    assert media_type in {
        "application/json",
        "application/yaml",
        "image/png",
        "text/html",
        "text/plain",
        "text/css",
        "text/javascript",
    }
    if media_type.startswith("text/"):
        assert content_type.endswith("; charset=utf-8")
    else:
        assert content_type == media_type


def test_a_refused_preflight_is_a_json_error_naming_what_is_allowed(client: TestClient) -> None:
    answer = client.options(
        "/get_prices", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    error = error_of(answer, 403, "forbidden")
    assert error["message"] == (
        "This cross-origin request was refused (its origin may not call this API from a browser). "
        "Allowed origins: https://chat.openai.com, https://chatgpt.com; methods: GET, POST."
    )
    assert "access-control-allow-origin" not in answer.headers


def test_a_preflight_for_a_method_we_do_not_have_says_so(client: TestClient) -> None:
    answer = client.options(
        "/get_prices", headers={"Origin": "https://chatgpt.com", "Access-Control-Request-Method": "DELETE"}
    )
    assert "its method may not call" in error_of(answer, 403, "forbidden")["message"]


def test_an_answer_that_declares_no_type_gets_plain_text_and_nosniff() -> None:
    async def bare(scope: Scope, receive: Receive, send: Send) -> None:  # as a mounted app may answer
        await Response(b"<script>alert(1)</script>")(scope, receive, send)

    answer = TestClient(SecurityHeadersMiddleware(bare)).get("/")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_an_answer_that_declares_a_type_keeps_it_and_gets_no_second_one() -> None:
    async def typed(scope: Scope, receive: Receive, send: Send) -> None:
        await Response(b"{}", headers={"Content-Type": "application/json"})(scope, receive, send)

    answer = TestClient(SecurityHeadersMiddleware(typed)).get("/")
    assert answer.headers.get_list("content-type") == ["application/json"]


def test_the_mcp_endpoint_refusing_a_foreign_host_still_sends_a_type_and_nosniff() -> None:
    with TestClient(create_service(Settings(source="sample"))) as mcp_client:
        answer = mcp_client.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Host": "evil.example", "Accept": "application/json, text/event-stream"},
        )
    assert answer.status_code == 421
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
