"""The MCP server: its tools as a client lists them, their answers, and both transports (Streamable HTTP, stdio).

Every client here is the official SDK's own (`mcp.Client`): in memory for the tool's behaviour, over real HTTP
against the whole service (`create_service`) on a free port, and over a real pipe against a subprocess. The
tools answer through the REST API's own `Pipeline`, so one situation gets one answer through both.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mcp import Client, MCPError, StdioServerParameters
from mcp.types import CallToolResult, Tool
from support import MCP_INITIALIZE, BrokenSource, Clock, CountingSource

import plugin.service
from plugin.app import create_app
from plugin.deadline import serving_source
from plugin.errors import STATUS
from plugin.lab.server import BackgroundServer
from plugin.mcp import MAX_INSTRUCTIONS, create_mcp_server, instructions
from plugin.mcp_http import mount_mcp, transport_security
from plugin.pipeline import Pipeline
from plugin.quotes import Fundamentals, Quote, QuoteError
from plugin.service import create_service
from plugin.settings import Settings
from plugin.sources import PriceSource, SampleSource

pytestmark = pytest.mark.anyio

#: TestClient's default host, "testserver", is not one the DNS-rebinding guard trusts; localhost is.
LOCAL = "http://localhost"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
SAMPLE = Settings(source="sample")
#: The instructions the server sends with the default limit of 25 symbols.
INSTRUCTIONS = instructions(SAMPLE.max_symbols)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def server_for(source: PriceSource | None = None, **settings: Any) -> Any:
    """The MCP server over the sample prices (or `source`), with `Settings(source="sample", **settings)`."""
    return create_mcp_server(Pipeline(Settings(source="sample", **settings), source or SampleSource()))


async def call(
    tickers: Any, *, tool: str = "get_prices", source: Any = None, **settings: Any
) -> CallToolResult:
    """One tool call through the SDK's client, in memory."""
    async with Client(server_for(source, **settings)) as client:
        return await client.call_tool(tool, {"tickers": tickers})


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1 and result.content[0].type == "text"
    return result.content[0].text


def app_with_mcp(settings: Settings) -> FastAPI:
    """The whole service (REST and MCP at /mcp) on the sample prices."""
    return create_service(settings, source=SampleSource())


# -- the tools as a client sees them ---------------------------------------------------------------------------


def assert_listed_as_designed(listed: Sequence[Tool]) -> None:
    """The tools as a client lists them, whatever the transport: titles, annotations, input and output schemas."""
    tools = {tool.name: tool for tool in listed}
    assert set(tools) == {"get_prices", "get_fundamentals"}
    prices = tools["get_prices"]
    assert prices.title == "Get stock and crypto prices"
    assert "Yahoo Finance symbol" in prices.description
    hints = prices.annotations
    assert (hints.read_only_hint, hints.destructive_hint, hints.open_world_hint) == (True, False, True)
    assert tools["get_fundamentals"].annotations == hints
    tickers = prices.input_schema["properties"]["tickers"]
    assert prices.input_schema["required"] == ["tickers"]
    assert (tickers["type"], tickers["items"], tickers["minItems"], tickers["maxItems"]) == (
        "array",
        {"type": "string"},
        1,
        25,
    )
    output = prices.output_schema
    assert output["required"] == ["quotes", "errors"]
    assert (output["properties"]["quotes"]["type"], output["properties"]["errors"]["type"]) == (
        "array",
        "array",
    )
    assert set(output["$defs"]["Quote"]["properties"]) == set(Quote.model_fields)
    assert set(output["$defs"]["QuoteError"]["properties"]) == set(QuoteError.model_fields)


async def test_both_tools_are_listed_with_titles_annotations_and_schemas() -> None:
    async with Client(server_for()) as client:
        assert_listed_as_designed((await client.list_tools()).tools)


async def test_the_output_schema_is_the_rest_apis_answer_model() -> None:
    async with Client(server_for()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    prices = tools["get_prices"].output_schema
    assert prices["required"] == ["quotes", "errors"]
    quote = prices["$defs"]["Quote"]
    assert set(quote["properties"]) == set(Quote.model_fields)
    assert set(prices["$defs"]["QuoteError"]["properties"]) == set(QuoteError.model_fields)
    assert "description" in quote["properties"]["price"]
    fundamentals = tools["get_fundamentals"].output_schema
    assert fundamentals["required"] == ["fundamentals", "errors"]
    assert set(fundamentals["$defs"]["Fundamentals"]["properties"]) == set(Fundamentals.model_fields)


async def test_the_server_sends_instructions_that_fit_in_512_characters() -> None:
    assert len(INSTRUCTIONS) <= MAX_INSTRUCTIONS == 512
    async with Client(server_for()) as client:
        assert client.instructions == INSTRUCTIONS
        assert client.server_info.name == "stock-prices"
    assert "get_prices" in INSTRUCTIONS and "get_fundamentals" in INSTRUCTIONS


def test_max_symbols_sets_the_advertised_bound_and_the_instructions() -> None:
    server = server_for(max_symbols=40)
    tools = asyncio.run(server.list_tools())
    assert {tool.input_schema["properties"]["tickers"]["maxItems"] for tool in tools} == {40}
    assert "up to 40 per call" in server.instructions
    assert "1 to 40 Yahoo Finance symbols" in tools[0].input_schema["properties"]["tickers"]["description"]
    assert len(server.instructions) <= MAX_INSTRUCTIONS


# -- answers ---------------------------------------------------------------------------------------------------


async def test_get_prices_returns_structured_quotes_and_the_same_json_as_text() -> None:
    """The text block is the serialized JSON, as the MCP specification recommends for clients that read only text."""
    result = await call(["AAPL", "btc/usd"])
    assert result.is_error is False
    quotes = result.structured_content["quotes"]
    assert [(q["symbol"], q["price"], q["currency"]) for q in quotes] == [
        ("AAPL", 169.595, "USD"),
        ("BTC-USD", 28312.46, "USD"),
    ]
    assert result.structured_content["errors"] == []
    assert json.loads(text_of(result)) == result.structured_content


async def test_structured_content_is_the_rest_apis_json() -> None:
    result = await call(["AAPL", "MSFT", "NOPE"])
    with TestClient(create_app(SAMPLE, source=SampleSource())) as rest:
        answer = rest.get("/get_prices", params={"tickers": "AAPL,MSFT,NOPE"}).json()
    assert result.structured_content == answer


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"tickers": 123},
            "tickers: must be an array, got a number; expected an array of 1 to 25 Yahoo symbols",
        ),
        ({}, "tickers: is required; expected an array of 1 to 25 Yahoo symbols"),
        (
            {"tickers": ["AAPL", 7]},
            "tickers[1]: must be a string, got a number; expected an array of 1 to 25",
        ),
    ],
    ids=["number", "missing", "number-item"],
)
async def test_arguments_of_the_wrong_shape_are_told_in_a_plain_sentence(
    arguments: dict, message: str
) -> None:
    async with Client(server_for()) as client:
        result = await client.call_tool("get_prices", arguments)
    assert result.is_error is True
    assert text_of(result).startswith(message)
    assert "pydantic" not in text_of(result) and "validation error" not in text_of(result)


async def test_a_comma_separated_string_is_read_as_a_list() -> None:
    result = await call("AAPL, MSFT")
    assert [q["symbol"] for q in result.structured_content["quotes"]] == ["AAPL", "MSFT"]


async def test_get_fundamentals_returns_structured_figures() -> None:
    result = await call(["AAPL", "NOPE"], tool="get_fundamentals")
    assert result.is_error is False
    [apple] = result.structured_content["fundamentals"]
    assert (apple["symbol"], apple["pe_ratio"], apple["dividend_yield"]) == ("AAPL", 28.74, 0.0055)
    assert [e["code"] for e in result.structured_content["errors"]] == ["unknown_symbol"]
    assert json.loads(text_of(result)) == result.structured_content


# -- bad input is a tool error, never a crash ------------------------------------------------------------------


async def test_an_empty_list_is_a_tool_error_in_the_pipelines_words() -> None:
    result = await call([])
    assert result.is_error is True
    assert (
        text_of(result)
        == "tickers: no symbols given: ask for 1 to 25 Yahoo Finance symbols, such as AAPL or BTC-USD."
    )


async def test_too_many_symbols_is_a_tool_error_saying_the_limit_from_settings() -> None:
    result = await call([f"S{i}" for i in range(26)])
    assert result.is_error is True
    assert (
        text_of(result) == "tickers: 26 symbols in one request, more than the 25 allowed: split the request."
    )
    result = await call(["AAPL", "MSFT", "TSLA"], max_symbols=2)
    assert result.is_error is True and "more than the 2 allowed" in text_of(result)


async def test_invalid_symbols_only_are_a_tool_error_naming_each() -> None:
    result = await call(["$$$", "AAPL/XYZ/Q"])
    assert result.is_error is True
    errors = result.structured_content["errors"]
    assert [(e["symbol"], e["code"]) for e in errors] == [
        ("$$$", "invalid_symbol"),
        ("AAPL/XYZ/Q", "invalid_symbol"),
    ]
    assert result.structured_content["quotes"] == []
    assert "'$$$' is not a valid symbol" in text_of(result) and "for example AAPL" in text_of(result)


async def test_an_unknown_symbol_alone_is_a_tool_error() -> None:
    result = await call(["NOPE"])
    assert result.is_error is True
    assert result.structured_content["errors"][0]["code"] == "unknown_symbol"


async def test_a_mixed_request_answers_the_good_symbols_and_lists_the_rest() -> None:
    result = await call(["NOPE", "AAPL", "$$$"])
    assert result.is_error is False
    assert [q["symbol"] for q in result.structured_content["quotes"]] == ["AAPL"]
    assert [e["symbol"] for e in result.structured_content["errors"]] == ["NOPE", "$$$"]


@pytest.mark.parametrize("tickers", [5, [1, 2], None, {"AAPL": 1}])
async def test_arguments_of_the_wrong_type_are_a_tool_error(tickers: Any) -> None:
    result = await call(tickers)
    assert result.is_error is True
    assert "tickers" in text_of(result)


@pytest.mark.parametrize(
    ("hang", "why"),
    [(False, "the price source failed"), (True, "did not answer within 0.05 s")],
    ids=["raises", "misses-the-deadline"],
)
@pytest.mark.parametrize("tool", ["get_prices", "get_fundamentals"])
async def test_a_failing_source_is_a_tool_error_saying_upstream_unavailable(
    hang: bool, why: str, tool: str
) -> None:
    settings = Settings(source="sample", request_deadline=0.05)
    served = serving_source(settings, upstream=BrokenSource(hang=hang))  # the source as the service serves it
    async with Client(create_mcp_server(Pipeline(settings, served))) as client:
        result = await client.call_tool(tool, {"tickers": ["AAPL"]})
    assert result.is_error is True
    [error] = result.structured_content["errors"]
    assert (error["symbol"], error["code"]) == ("AAPL", "upstream_unavailable")
    assert why in error["message"]
    assert "secret" not in text_of(result)  # the source's own exception stays in the log


class HangsAfterTheFirstAnswer(CountingSource):
    """An upstream that answers once, from the sample data, and never again: every later call hangs."""

    name = "hangs-after-one"

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        if self.calls:
            self.calls.append(list(symbols))
            await asyncio.sleep(3600)
        return await super().get_quotes(symbols)


def test_an_upstream_hanging_after_the_cache_expired_gets_one_stale_answer_over_rest_and_mcp() -> None:
    """The same situation, the same answer: REST and MCP share one pipeline, so both serve the last good quote."""
    clock = Clock()
    settings = Settings(source="sample", cache_ttl=30, request_deadline=0.05)
    upstream = HangsAfterTheFirstAnswer()
    service = create_service(settings, source=serving_source(settings, upstream=upstream, clock=clock))

    async def over_mcp(url: str) -> CallToolResult:
        async with Client(f"{url}/mcp") as client:
            return await client.call_tool("get_prices", {"tickers": ["AAPL"]})

    with BackgroundServer(service, name="test-mcp-stale") as server:
        fresh = httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}).json()
        clock.now += 31  # the cache entry expires; the upstream now hangs past the deadline
        rest = httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"})
        mcp = asyncio.run(over_mcp(server.url))
    assert fresh["quotes"][0]["stale"] is False
    assert rest.status_code == 200
    [quote] = rest.json()["quotes"]
    assert (quote["symbol"], quote["price"], quote["stale"]) == ("AAPL", 169.595, True)
    assert mcp.is_error is False
    assert mcp.structured_content == rest.json()
    assert json.loads(text_of(mcp)) == rest.json()
    assert len(upstream.calls) >= 2  # the upstream was asked again, and hung


# -- Streamable HTTP, on the plugin's own app --------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[str]:
    """The plugin's app (REST and MCP) served by uvicorn on a free port; yields its base URL."""
    with BackgroundServer(app_with_mcp(Settings(source="sample")), name="test-mcp") as server:
        yield server.url


async def test_over_streamable_http_the_tools_are_listed_and_called(served: str) -> None:
    async with Client(f"{served}/mcp") as client:
        assert client.instructions == INSTRUCTIONS
        listed = (await client.list_tools()).tools
        names = [tool.name for tool in listed]
        result = await client.call_tool("get_prices", {"tickers": ["AAPL", "NOPE"]})
        refused = await client.call_tool("get_prices", {"tickers": []})
    assert names == ["get_prices", "get_fundamentals"]
    assert_listed_as_designed(listed)
    assert result.is_error is False
    assert result.structured_content["quotes"][0]["price"] == 169.595
    assert (
        result.structured_content == httpx.get(f"{served}/get_prices", params={"tickers": "AAPL,NOPE"}).json()
    )
    assert refused.is_error is True


async def test_the_same_app_serves_mcp_again_after_a_restart() -> None:
    app = app_with_mcp(Settings(source="sample"))
    for _ in range(2):
        with BackgroundServer(app, name="test-mcp-restart") as server:
            async with Client(f"{server.url}/mcp") as client:
                result = await client.call_tool("get_prices", {"tickers": ["MSFT"]})
            assert result.structured_content["quotes"][0]["symbol"] == "MSFT"


def error_of(answer: httpx.Response, status: int, code: str, *, detailed: bool = True) -> dict[str, Any]:
    """The error body of `answer`, checked: the status, a JSON content type, and the API's error format."""
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    if detailed:
        assert [detail["message"] for detail in error["details"]] == [error["message"]]
    else:
        assert error["details"] == []
    return error


def test_a_request_naming_another_host_is_a_421_naming_the_allowed_hosts(served: str) -> None:
    answer = httpx.post(f"{served}/mcp", headers={**MCP_HEADERS, "Host": "evil.example"}, json=MCP_INITIALIZE)
    error = error_of(answer, 421, "misdirected_request")
    assert error["message"].startswith(
        "Host header 'evil.example' is not served here; allowed: 127.0.0.1, localhost"
    )
    assert (error["details"][0]["field"], error["details"][0]["rule"]) == ("Host", "allowed_hosts")
    assert "PLUGIN_BASE_URL" in error["message"]


def test_a_request_from_another_sites_page_is_a_403_naming_the_allowed_origins(served: str) -> None:
    answer = httpx.post(
        f"{served}/mcp", headers={**MCP_HEADERS, "Origin": "https://evil.example"}, json=MCP_INITIALIZE
    )
    error = error_of(answer, 403, "forbidden")
    assert error["message"].startswith(
        "Origin header 'https://evil.example' may not call this server; allowed: "
    )
    assert "http://localhost:*" in error["message"]
    assert error["details"][0]["field"] == "Origin"
    local = httpx.post(
        f"{served}/mcp", headers={**MCP_HEADERS, "Origin": "http://localhost:3000"}, json=MCP_INITIALIZE
    )
    assert local.status_code == 200


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT", "PATCH"])
def test_any_method_but_post_is_a_405_at_once_not_a_stream(served: str, method: str) -> None:
    # A GET that opened the SDK's event stream would never end: the short read timeout turns that into a failure.
    headers = {"Accept": "text/event-stream, application/json"}
    answer = httpx.request(method, f"{served}/mcp", headers=headers, timeout=httpx.Timeout(10, read=3))
    error = error_of(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "POST"
    assert error["message"].startswith(
        f"/mcp answers POST only, not {method}: this MCP server runs in stateless JSON"
    )


def test_a_post_that_is_not_json_is_a_415_saying_what_to_send(served: str) -> None:
    headers = {**MCP_HEADERS, "Content-Type": "text/plain"}
    answer = httpx.post(f"{served}/mcp", headers=headers, content=json.dumps(MCP_INITIALIZE))
    error = error_of(answer, 415, "unsupported_media_type")
    assert (
        error["message"]
        == "Content-Type 'text/plain' is not accepted here: send the JSON-RPC message as application/json."
    )


def test_a_refused_request_builds_nothing(builds: CountedBuilds) -> None:
    app = app_with_mcp(Settings(source="sample"))
    with TestClient(app, base_url="http://evil.example") as client:
        assert client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE).status_code == 421
    with TestClient(app, base_url=LOCAL) as client:
        assert client.get("/mcp").status_code == 405
    assert (app.state.mcp.built, builds.calls) == (False, 0)


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_stopping_the_server_after_a_get_logs_no_error() -> None:
    recorded = Recorded()
    with BackgroundServer(app_with_mcp(Settings(source="sample")), name="test-mcp-get") as server:
        # uvicorn sets up its loggers at start: listen after it
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addHandler(recorded)
        logging.getLogger().addHandler(recorded)
        try:
            assert (
                httpx.post(f"{server.url}/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE).status_code == 200
            )
            assert httpx.get(f"{server.url}/mcp", timeout=httpx.Timeout(10, read=3)).status_code == 405
            server.stop()
        finally:
            uvicorn_log.removeHandler(recorded)
            logging.getLogger().removeHandler(recorded)
    problems = [record.getMessage() for record in recorded.records if record.levelno >= logging.WARNING]
    assert problems == []


def test_the_public_host_from_base_url_is_trusted() -> None:
    settings = Settings(source="sample", base_url="https://prices.example.com")
    with TestClient(app_with_mcp(settings), base_url="https://prices.example.com") as client:
        answer = client.post(
            "/mcp", headers={**MCP_HEADERS, "Origin": "https://prices.example.com"}, json=MCP_INITIALIZE
        )
    assert answer.status_code == 200
    assert answer.json()["result"]["serverInfo"]["name"] == "stock-prices"
    with TestClient(app_with_mcp(Settings(source="sample")), base_url="https://prices.example.com") as client:
        assert client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE).status_code == 421


def test_transport_security_adds_the_public_host_and_origin_to_localhost() -> None:
    security = transport_security("https://prices.example.com", allowed_hosts=["10.0.0.5:*"])
    assert security.enable_dns_rebinding_protection
    assert {"localhost:*", "127.0.0.1:*", "prices.example.com", "prices.example.com:*", "10.0.0.5:*"} <= set(
        security.allowed_hosts
    )
    assert "https://prices.example.com" in security.allowed_origins
    assert "[::1]:*" in transport_security("http://[::1]:8000").allowed_hosts
    assert "http://[::1]:8000" in transport_security("http://[::1]:8000").allowed_origins
    with pytest.raises(ValueError, match="base_url must be an http"):
        transport_security("prices.example.com")


def test_without_the_apps_lifespan_mcp_answers_503_with_a_reason() -> None:
    app = app_with_mcp(Settings(source="sample"))
    answer = TestClient(app, base_url=LOCAL).post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE)
    error = error_of(answer, 503, "upstream_unavailable", detailed=False)
    assert "lifespan" in error["message"]
    assert app.state.mcp.built is False


def test_a_test_client_can_open_the_app_twice() -> None:
    app = app_with_mcp(Settings(source="sample"))
    for _ in range(2):
        with TestClient(app, base_url=LOCAL) as client:
            assert client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE).status_code == 200


def mount_sample(app: FastAPI, **options: Any) -> None:
    """`mount_mcp` with the sample prices, as `create_service` calls it."""
    mount_mcp(app, server_for, base_url=options.pop("base_url", None), startup_timeout=15, **options)


def test_the_apps_own_lifespan_still_runs_around_mcp() -> None:
    events: list[str] = []
    app = FastAPI(
        on_startup=[lambda: events.append("app startup")], on_shutdown=[lambda: events.append("app shutdown")]
    )
    mount_sample(app)
    with TestClient(app, base_url=LOCAL) as client:
        assert client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE).status_code == 200
    assert events == ["app startup", "app shutdown"]


def test_a_bad_base_url_is_refused_when_mounting_not_at_the_first_request() -> None:
    with pytest.raises(ValueError, match="base_url must be an http"):
        mount_sample(FastAPI(), base_url="prices.example.com")


async def test_the_apps_mcp_server_follows_the_settings_limit() -> None:
    app = app_with_mcp(Settings(source="sample", max_symbols=3))
    async with Client(app.state.mcp.server) as client:
        tools = (await client.list_tools()).tools
        refused = await client.call_tool("get_prices", {"tickers": ["AAPL", "MSFT", "NVDA", "TSLA"]})
    assert {tool.input_schema["properties"]["tickers"]["maxItems"] for tool in tools} == {3}
    assert refused.is_error is True
    assert "more than the 3 allowed" in text_of(refused)


def test_mounting_twice_is_an_error_and_the_route_stays_out_of_the_spec() -> None:
    app = app_with_mcp(Settings(source="sample"))
    with pytest.raises(ValueError, match="already has a route at /mcp"):
        mount_sample(app)
    assert "/mcp" not in app.openapi()["paths"]


# -- protocol errors: JSON-RPC's codes, in one plain sentence each, over a real socket ----------------------------


def rpc(url: str, body: Any, *, raw: bytes | None = None, **headers: str) -> httpx.Response:
    """POST one body to `url`/mcp as a client would: JSON (or `raw` bytes), with the MCP headers and `headers`."""
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{url}/mcp", headers={**MCP_HEADERS, **headers}, content=content)


def rpc_error_of(answer: httpx.Response, code: int, request_id: Any = None) -> dict[str, Any]:
    """The JSON-RPC error of `answer`, checked: HTTP 400, JSON-RPC 2.0, the id, and one plain line of text."""
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert (body["jsonrpc"], body["id"], body["error"]["code"]) == ("2.0", request_id, code)
    message = body["error"]["message"]
    assert "\n" not in message and "pydantic" not in message and "validation error" not in message.lower()
    assert len(message) < 250
    return body["error"]


LIST_TOOLS = {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}
SEND_ONE = 'send one JSON-RPC message per POST, such as {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}.'


def test_an_unknown_tool_is_json_rpc_error_32602_naming_the_tools(served: str) -> None:
    """The MCP specification (Tools, Error handling): an unknown tool is a protocol error, not a tool result."""
    call_ = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "get_price", "arguments": {}},
    }
    answer = httpx.post(f"{served}/mcp", headers=MCP_HEADERS, json=call_)
    assert answer.status_code == 200
    assert answer.json() == {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {
            "code": -32602,
            "message": "Unknown tool 'get_price': the tools are get_prices, get_fundamentals.",
        },
    }


async def test_an_unknown_tool_raises_mcp_error_in_the_sdks_client() -> None:
    async with Client(server_for()) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("nope", {"tickers": ["AAPL"]})
    assert raised.value.code == -32602
    assert "get_prices, get_fundamentals" in raised.value.message


def test_invalid_arguments_stay_a_tool_result_with_is_error(served: str) -> None:
    """Arguments the model got wrong are for the model to read and correct: a result, not a protocol error."""
    call_ = {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "tools/call",
        "params": {"name": "get_prices", "arguments": {"tickers": 5}},
    }
    answer = httpx.post(f"{served}/mcp", headers=MCP_HEADERS, json=call_)
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith("tickers: must be an array, got a number")


@pytest.mark.parametrize(
    ("body", "request_id", "message"),
    [
        ([LIST_TOOLS], None, f"A batch (a JSON array) is not a JSON-RPC message: {SEND_ONE}"),
        ([], None, f"A batch (a JSON array) is not a JSON-RPC message: {SEND_ONE}"),
        ("tools/list", None, f'The body "tools/list" is not a JSON-RPC message: {SEND_ONE}'),
        (
            {**LIST_TOOLS, "jsonrpc": "1.0"},
            7,
            '"jsonrpc" must be "2.0", the only version MCP speaks; it is "1.0".',
        ),
        (
            {"id": 7, "method": "tools/list"},
            7,
            '"jsonrpc" must be "2.0", the only version MCP speaks; it is missing.',
        ),
        ({**LIST_TOOLS, "id": {"n": 1}}, None, '"id" must be a string or an integer, not {"n": 1}.'),
        ({**LIST_TOOLS, "id": None}, None, '"id" must be a string or an integer, not null.'),
        ({**LIST_TOOLS, "id": 1.5}, None, '"id" must be a string or an integer, not 1.5.'),
        ({**LIST_TOOLS, "id": True}, None, '"id" must be a string or an integer, not true.'),
        ({"jsonrpc": "2.0", "id": 7}, 7, '"method" must be a string such as "tools/list"; it is missing.'),
        ({**LIST_TOOLS, "method": 5}, 7, '"method" must be a string such as "tools/list"; it is 5.'),
    ],
    ids=[
        "batch",
        "empty-batch",
        "string",
        "jsonrpc-1.0",
        "no-jsonrpc",
        "object-id",
        "null-id",
        "fraction-id",
        "boolean-id",
        "no-method",
        "number-method",
    ],
)
def test_a_body_that_is_not_one_json_rpc_request_is_32600_in_one_sentence(
    served: str, body: Any, request_id: Any, message: str
) -> None:
    error = rpc_error_of(rpc(served, body), -32600, request_id)
    assert error["message"] == message


def test_params_that_are_not_an_object_are_32602(served: str) -> None:
    error = rpc_error_of(rpc(served, {**LIST_TOOLS, "params": [1]}), -32602, 7)
    assert error["message"] == '"params" must be an object of named values, not [1].'


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (
            b'{"jsonrpc": "2.0",',
            "expecting property name enclosed in double quotes: line 1 column 19 (char 18)",
        ),
        (b"", "expecting value: line 1 column 1 (char 0)"),
        (b'{"jsonrpc": "2.0", "id": NaN, "method": "tools/list"}', "nan is not a json number"),
        (b"\xff\xfe{}", "it is not UTF-8 text"),
        (b"[" * 5_000 + b"]" * 5_000, "it nests too deeply"),
    ],
    ids=["truncated", "empty", "nan", "not-utf8", "deep"],
)
def test_a_body_that_is_not_json_is_32700_saying_why(served: str, raw: bytes, why: str) -> None:
    error = rpc_error_of(rpc(served, None, raw=raw), -32700)
    assert error["message"] == f"The body is not JSON ({why}): {SEND_ONE}"


def test_an_id_given_as_an_object_is_answered_not_accepted_silently(served: str) -> None:
    """The SDK took it for a notification: 202 and no answer, so the client waited for ever."""
    answer = rpc(served, {**MCP_INITIALIZE, "id": {"n": 1}})
    assert answer.status_code != 202
    rpc_error_of(answer, -32600)


def test_an_unsupported_protocol_version_is_32022_naming_the_supported_ones(served: str) -> None:
    from mcp_types.version import SUPPORTED_PROTOCOL_VERSIONS

    answer = rpc(served, LIST_TOOLS, **{"MCP-Protocol-Version": "1999-01-01"})
    error = rpc_error_of(answer, -32022, 7)
    supported = list(SUPPORTED_PROTOCOL_VERSIONS)
    assert error["data"] == {"supported": supported, "requested": "1999-01-01"}
    assert error["message"] == (
        f"MCP-Protocol-Version '1999-01-01' is not spoken here; it speaks {', '.join(supported)}."
    )
    assert "_meta" not in error["message"]
    for version in ("2025-06-18", "2025-11-25"):  # a version it speaks is served
        assert rpc(served, LIST_TOOLS, **{"MCP-Protocol-Version": version}).status_code == 200


def test_a_valid_request_and_a_clients_response_still_pass(served: str) -> None:
    assert rpc(served, {**LIST_TOOLS, "id": "seven"}).json()["id"] == "seven"
    assert (
        rpc(served, {"jsonrpc": "2.0", "id": 9, "result": {}}).status_code == 202
    )  # a response: nothing to answer


def test_a_refused_message_builds_nothing(builds: CountedBuilds) -> None:
    app = app_with_mcp(Settings(source="sample"))
    with TestClient(app, base_url=LOCAL) as client:
        assert client.post("/mcp", headers=MCP_HEADERS, json=[LIST_TOOLS]).status_code == 400
        assert client.post("/mcp", headers=MCP_HEADERS, content=b"{").status_code == 400
    assert (app.state.mcp.built, builds.calls) == (False, 0)


# -- Host on /mcp: one, with a real port, and one this server serves -----------------------------------------------


def raw_request(url: str, head: str, body: bytes = b"", *, close: bool = True) -> bytes:
    """Send `head` (request line and headers, without the blank line) and `body` on a raw socket; read the answer."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body)
        if not close:
            return b""
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def status_and_json(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def mcp_head(*hosts: str, length: int) -> str:
    lines = ["POST /mcp HTTP/1.1", *(f"Host: {host}" for host in hosts)]
    lines += ["Content-Type: application/json", "Accept: application/json, text/event-stream"]
    return "\n".join([*lines, f"Content-Length: {length}", "Connection: close"])


INITIALIZE_BYTES = json.dumps(MCP_INITIALIZE).encode()


@pytest.fixture
def bare() -> Iterator[str]:
    """`mount_mcp` on a bare FastAPI app, with none of the service's middleware: the guard on its own."""
    app = FastAPI()
    mount_sample(app)
    with BackgroundServer(app, name="test-mcp-bare") as server:
        yield server.url


@pytest.mark.parametrize(
    "hosts",
    [("localhost", "evil.example"), ("evil.example", "localhost"), ("localhost:99999",), ("localhost:0",)],
    ids=["second-is-foreign", "first-is-foreign", "port-99999", "port-0"],
)
def test_two_hosts_or_a_port_that_is_no_port_are_a_400_on_the_service_and_never_served(
    served: str, bare: str, hosts: tuple[str, ...]
) -> None:
    """The service refuses them as malformed HTTP (400, like every path); `mount_mcp` alone does not serve them."""
    status, body = status_and_json(
        raw_request(served, mcp_head(*hosts, length=len(INITIALIZE_BYTES)), INITIALIZE_BYTES)
    )
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert STATUS["bad_request"] == 400
    status, body = status_and_json(
        raw_request(bare, mcp_head(*hosts, length=len(INITIALIZE_BYTES)), INITIALIZE_BYTES)
    )
    assert (status, body["error"]["code"]) == (STATUS["misdirected_request"], "misdirected_request")


def test_a_foreign_host_is_421_misdirected_request_from_the_one_table(served: str, bare: str) -> None:
    for url in (served, bare):
        status, body = status_and_json(
            raw_request(url, mcp_head("evil.example", length=len(INITIALIZE_BYTES)), INITIALIZE_BYTES)
        )
        assert (status, body["error"]["code"]) == (421, "misdirected_request")
        assert STATUS["misdirected_request"] == 421


@pytest.mark.parametrize("host", ["evil.example", "localhost"])
def test_mcp_with_a_trailing_slash_does_not_skip_the_host_check(served: str, host: str) -> None:
    """`/mcp/` is not served, whatever the Host, and no answer sends the client to a host it named."""
    answer = httpx.post(f"{served}/mcp/", headers={**MCP_HEADERS, "Host": host}, json=MCP_INITIALIZE)
    assert 400 <= answer.status_code < 500
    assert "location" not in answer.headers
    assert answer.headers["content-type"] == "application/json"
    assert "result" not in answer.json()


# -- a client that leaves mid-request ----------------------------------------------------------------------------


def records_while(action: Callable[[], None], *, wait_for: str | None = None) -> list[logging.LogRecord]:
    """The log records (any logger, any level) emitted while `action` runs, and until one says `wait_for`."""
    recorded = Recorded()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    for each in loggers:
        each.addHandler(recorded)
    try:
        action()
        deadline = time.monotonic() + (10 if wait_for else 0.5)
        while time.monotonic() < deadline and not (
            wait_for and any(wait_for in record.getMessage() for record in recorded.records)
        ):
            time.sleep(0.02)
    finally:
        for each in loggers:
            each.removeHandler(recorded)
    return list({id(record): record for record in recorded.records}.values())


def leave_mid_body(url: str) -> None:
    """Declare the whole initialize message, send 10 bytes of it, and close the connection."""
    raw_request(url, mcp_head("localhost", length=len(INITIALIZE_BYTES)), INITIALIZE_BYTES[:10], close=False)


def test_a_client_leaving_mid_body_logs_one_line_without_a_traceback(served: str, bare: str) -> None:
    # mount_mcp alone: the endpoint reads the body, and says in one line that the client left
    records = records_while(lambda: leave_mid_body(bare), wait_for="the client left")
    lines = [
        record
        for record in records
        if record.levelno >= logging.INFO and record.name.startswith(("plugin", "mcp"))
    ]
    assert [(record.levelname, record.getMessage()) for record in lines] == [
        ("WARNING", f"POST /mcp: the client left after 10 of {len(INITIALIZE_BYTES)} body bytes")
    ]
    # the whole service: its request limits read the body first; whoever notices, nothing logs an error or traceback
    records = records_while(lambda: leave_mid_body(served))
    assert [
        record.getMessage() for record in records if record.levelno >= logging.ERROR or record.exc_info
    ] == []
    assert len([record for record in records if record.levelno >= logging.WARNING]) <= 1
    assert httpx.post(f"{served}/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE).status_code == 200


# -- the lazy mount: the SDK is imported, and the server built, by the first request to /mcp -------------------


def test_building_starting_and_serving_rest_does_not_import_the_sdk() -> None:
    """Every service imports plugin.mcp; the SDK costs a quarter of a second to import, so only a request to /mcp may:
    not the import, not the build, not the lifespan's start (it once built the SDK's guard there), not a REST call."""
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from plugin.service import create_service\n"
        "from plugin.settings import Settings\n"
        "app = create_service(Settings(source='sample'))\n"
        "assert app.state.mcp is not None\n"
        "with TestClient(app) as client:\n"
        "    assert client.get('/get_prices?tickers=AAPL').status_code == 200\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


class CountedBuilds:
    """`create_mcp_server` as `create_service` calls it, counting its calls; each waits for `release` (set by default)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.entered.set()
        self.release.wait(30)
        if self.fail:
            raise RuntimeError("no SDK here")
        return create_mcp_server(*args, **kwargs)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> CountedBuilds:
    counted = CountedBuilds()
    monkeypatch.setattr(plugin.service, "create_mcp_server", counted)
    return counted


def test_over_streamable_http_the_first_request_builds_the_server(builds: CountedBuilds) -> None:
    app = app_with_mcp(Settings(source="sample"))
    with BackgroundServer(app, name="test-mcp-lazy") as server:
        assert (app.state.mcp.built, builds.calls) == (False, 0)
        assert httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}).status_code == 200
        assert builds.calls == 0

        async def first_call() -> CallToolResult:
            async with Client(f"{server.url}/mcp") as client:
                return await client.call_tool("get_prices", {"tickers": ["AAPL"]})

        result = asyncio.run(first_call())
    assert result.structured_content["quotes"][0]["price"] == 169.595
    assert (app.state.mcp.built, builds.calls) == (True, 1)


def test_with_a_test_client_the_first_request_builds_the_server_once(builds: CountedBuilds) -> None:
    app = app_with_mcp(Settings(source="sample"))
    for _ in range(2):  # the second start reuses the server, around a fresh session manager
        with TestClient(app, base_url=LOCAL) as client:
            answer = client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE)
            assert answer.json()["result"]["serverInfo"]["name"] == "stock-prices"
    assert builds.calls == 1
    assert app.state.mcp.server is app.state.mcp.server
    assert builds.calls == 1


async def test_concurrent_first_requests_build_the_server_once(builds: CountedBuilds) -> None:
    app = app_with_mcp(Settings(source="sample"))
    builds.release.clear()  # the build waits until every request has arrived
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as client,
    ):
        requests = [
            asyncio.create_task(client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE))
            for _ in range(5)
        ]
        await asyncio.to_thread(builds.entered.wait, 30)
        # let every request reach the endpoint: none finds a server, all wait for the one build
        for _ in range(10):
            await asyncio.sleep(0)
        assert not any(request.done() for request in requests)
        builds.release.set()
        answers = await asyncio.gather(*requests)
    assert [answer.status_code for answer in answers] == [200] * 5
    assert builds.calls == 1


@pytest.mark.parametrize("first_request", [False, True], ids=["never-used", "used"])
async def test_shutdown_leaves_no_task_behind(first_request: bool) -> None:
    app = app_with_mcp(Settings(source="sample"))
    before = asyncio.all_tasks()  # the test itself, and its runner's
    async with app.router.lifespan_context(app):
        if first_request:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=LOCAL) as client:
                assert (
                    await client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE)
                ).status_code == 200
        # the endpoint's task runs while the app does: waiting for a first request, or running the manager
        assert "MCP session manager" in {task.get_name() for task in asyncio.all_tasks() - before}
    assert asyncio.all_tasks() == before
    assert app.state.mcp.built is first_request


@pytest.mark.parametrize("first_request", [False, True], ids=["never-used", "used"])
def test_stopping_the_server_leaves_no_thread_behind(first_request: bool) -> None:
    before = set(threading.enumerate())
    app = app_with_mcp(Settings(source="sample"))
    with BackgroundServer(app, name="test-mcp-threads") as server:
        if first_request:
            assert (
                httpx.post(f"{server.url}/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE).status_code == 200
            )
    new = [thread for thread in threading.enumerate() if thread not in before]
    for thread in new:  # the worker thread that imported the SDK is told to stop as the server's loop ends
        thread.join(timeout=10)
    assert [thread.name for thread in new if thread.is_alive()] == []
    assert app.state.mcp.built is first_request


def test_a_server_that_fails_to_build_is_a_503_and_the_rest_api_still_answers(builds: CountedBuilds) -> None:
    builds.fail = True
    with TestClient(app_with_mcp(Settings(source="sample")), base_url=LOCAL) as client:
        for _ in range(2):  # the failure is reported, not retried on every request
            answer = client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE)
            assert answer.status_code == 503
            assert answer.headers["content-type"] == "application/json"
            assert answer.json() == {
                "error": {
                    "code": "upstream_unavailable",
                    "message": "The MCP server failed to start; the service's log says why.",
                    "details": [],
                }
            }
        assert client.get("/get_prices", params={"tickers": "AAPL"}).status_code == 200
    assert builds.calls == 1


def test_a_server_slower_to_start_than_the_timeout_is_a_503_then_serves(builds: CountedBuilds) -> None:
    app = app_with_mcp(Settings(source="sample", mcp_startup_timeout=0.05))
    assert app.state.mcp.startup_timeout == 0.05  # from Settings
    builds.release.clear()
    with TestClient(app, base_url=LOCAL) as client:
        late = client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE)
        assert (late.status_code, late.json()["error"]["message"]) == (
            503,
            "The MCP server did not start within 0.05 s; try again shortly.",
        )
        builds.release.set()
        app.state.mcp.startup_timeout = 30
        assert client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE).status_code == 200


def test_with_a_token_an_unauthenticated_request_is_refused_before_anything_is_built(
    builds: CountedBuilds,
) -> None:
    settings = Settings(
        source="sample", api_token="s3cret", verification_tokens={"openai": "issued-by-openai"}
    )
    app = app_with_mcp(settings)
    with TestClient(app, base_url=LOCAL) as client:
        assert client.post("/mcp", headers=MCP_HEADERS, json=MCP_INITIALIZE).status_code == 401
        assert builds.calls == 0
        headers = {**MCP_HEADERS, "Authorization": "Bearer s3cret"}
        assert client.post("/mcp", headers=headers, json=MCP_INITIALIZE).status_code == 200
    assert builds.calls == 1


# -- stdio ------------------------------------------------------------------------------------------------------

#: The stdio server with the sample prices, started the way a desktop client starts it: as a subprocess running
#: `python -m plugin mcp`.
STDIO_SERVER = [sys.executable, "-m", "plugin", "mcp", "--source", "sample"]


async def test_over_stdio_the_tools_are_listed_and_called() -> None:
    params = StdioServerParameters(command=STDIO_SERVER[0], args=STDIO_SERVER[1:])
    async with Client(params) as client:
        assert client.instructions == INSTRUCTIONS
        listed = (await client.list_tools()).tools
        result = await client.call_tool("get_prices", {"tickers": ["AAPL"]})
        refused = await client.call_tool("get_prices", {"tickers": ["$$$"]})
    assert [tool.name for tool in listed] == ["get_prices", "get_fundamentals"]
    assert_listed_as_designed(listed)
    assert result.structured_content["quotes"][0]["price"] == 169.595
    assert refused.is_error is True


async def test_the_stdio_command_takes_its_settings_from_the_environment() -> None:
    params = StdioServerParameters(
        command=STDIO_SERVER[0], args=STDIO_SERVER[1:], env={"PLUGIN_MAX_SYMBOLS": "2"}
    )
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
        refused = await client.call_tool("get_prices", {"tickers": ["AAPL", "MSFT", "NVDA"]})
    assert {tool.input_schema["properties"]["tickers"]["maxItems"] for tool in tools} == {2}
    assert "more than the 2 allowed" in text_of(refused)


def test_over_stdio_stdout_carries_only_json_rpc() -> None:
    """Every byte on stdout is a JSON-RPC message, from the first to the last: anything else breaks the client."""
    requests = [
        MCP_INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "get_prices", "arguments": {"tickers": ["AAPL", "$$$"]}},
        },
    ]
    with subprocess.Popen(
        STDIO_SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            answers = []
            for request in requests:
                process.stdin.write(json.dumps(request) + "\n")
                process.stdin.flush()
                if "id" in request:  # a request gets exactly one answer line; a notification none
                    answers.append(json.loads(process.stdout.readline()))
            # communicate() closes stdin: the client leaves, and the server must end cleanly, writing nothing more.
            rest, errors = process.communicate(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 0, errors
    assert rest == ""
    assert [(answer["jsonrpc"], answer["id"]) for answer in answers] == [("2.0", 1), ("2.0", 2)]
    assert answers[0]["result"]["serverInfo"]["name"] == "stock-prices"
    result = answers[1]["result"]
    assert result["structuredContent"]["quotes"][0]["symbol"] == "AAPL"
    assert result["structuredContent"]["errors"][0]["code"] == "invalid_symbol"
