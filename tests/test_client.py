"""`PluginClient` against the real app served over HTTP: typed answers, and one `PluginError` for every refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from support import DownSource, free_port

from plugin.app import create_app
from plugin.lab.client import PluginClient, PluginError
from plugin.lab.server import BackgroundServer
from plugin.pipeline import FundamentalsResponse, PricesResponse
from plugin.quotes import Quote, QuoteError
from plugin.settings import Settings


@pytest.fixture(scope="module")
def plugin_url() -> Iterator[str]:
    """The real app with the sample prices, served by uvicorn for the whole module."""
    with BackgroundServer(create_app(Settings(source="sample")), name="test_client") as server:
        yield server.url


@pytest.fixture
def client(plugin_url: str) -> Iterator[PluginClient]:
    with PluginClient(plugin_url) as client:
        yield client


def serving(*routes: Route) -> BackgroundServer:
    """A stand-in plugin answering only `routes`, for answers the real app never gives."""
    return BackgroundServer(Starlette(routes=list(routes)), name="test_client_other", shutdown_timeout=0.5)


def test_get_prices_returns_typed_quotes(client: PluginClient) -> None:
    answer = client.get_prices(["AAPL", "BTC-USD"])
    assert isinstance(answer, PricesResponse)
    assert [q.symbol for q in answer.quotes] == ["AAPL", "BTC-USD"]
    aapl = answer.quotes[0]
    assert isinstance(aapl, Quote)
    assert aapl.price == 169.595
    assert aapl.currency == "USD"
    assert aapl.source == "sample"
    assert aapl.as_of == datetime(2023, 5, 2, 17, 45, 12, tzinfo=UTC)
    assert answer.errors == []


def test_symbols_the_plugin_cannot_price_are_errors_not_exceptions(client: PluginClient) -> None:
    answer = client.get_prices(["aapl", "NOPE", "not a symbol"])
    assert [q.symbol for q in answer.quotes] == ["AAPL"]
    assert [(e.symbol, e.code) for e in answer.errors] == [
        ("NOPE", "unknown_symbol"),
        ("not a symbol", "invalid_symbol"),
    ]
    assert all(isinstance(e, QuoteError) and e.message for e in answer.errors)


def test_a_single_string_is_one_symbol_not_its_letters(client: PluginClient) -> None:
    answer = client.get_prices("AAPL")
    assert [q.symbol for q in answer.quotes] == ["AAPL"]
    assert answer.errors == []


def test_get_fundamentals_returns_typed_figures(client: PluginClient) -> None:
    answer = client.get_fundamentals(["AAPL"])
    assert isinstance(answer, FundamentalsResponse)
    assert answer.fundamentals[0].pe_ratio == 28.74
    assert answer.fundamentals[0].dividend_yield == 0.0055


def test_manifest_and_openapi_are_what_chatgpt_read(client: PluginClient, plugin_url: str) -> None:
    manifest = client.manifest()
    assert manifest["schema_version"] == "v1"
    # No base URL is configured, so the links name the loopback origin the request came to: this server.
    assert manifest["api"] == {"type": "openapi", "url": f"{plugin_url}/openapi.yaml"}
    spec = client.openapi()
    assert spec["servers"] == [{"url": plugin_url}]
    assert spec["paths"]["/get_prices"]["get"]["operationId"] == "getPrices"


def test_too_many_symbols_is_a_plugin_error_with_the_422_and_the_plugins_message(
    client: PluginClient,
) -> None:
    limit = Settings().max_symbols  # the served app's limit: it runs with the default settings
    too_many = [f"S{i}" for i in range(limit + 1)]
    with pytest.raises(PluginError) as caught:
        client.get_prices(too_many)
    error = caught.value
    assert (error.status_code, error.code) == (422, "invalid_request")
    assert f"at most {limit}" in error.message
    assert str(error).startswith("422 invalid_request: ")
    assert error.url is not None and error.url.endswith("/get_prices?tickers=" + "%2C".join(too_many))


def test_no_symbols_at_all_is_a_422_that_says_what_to_send(client: PluginClient) -> None:
    with pytest.raises(PluginError) as caught:
        client.get_prices([])
    assert caught.value.status_code == 422
    assert "AAPL" in caught.value.message


def test_a_wrong_base_url_is_a_404_that_lists_the_real_operations(plugin_url: str) -> None:
    with PluginClient(f"{plugin_url}/v2") as client, pytest.raises(PluginError) as caught:
        client.get_prices(["AAPL"])
    assert (caught.value.status_code, caught.value.code) == (404, "not_found")
    assert "GET /get_prices" in caught.value.message


def test_a_source_that_is_down_is_a_503_with_retry_after() -> None:
    app = create_app(Settings(source="sample"), source=DownSource())
    with (
        BackgroundServer(app, name="test_client_down") as server,
        PluginClient(server.url) as client,
        pytest.raises(PluginError) as caught,
    ):
        client.get_prices(["AAPL"])
    error = caught.value
    assert (error.status_code, error.code) == (503, "upstream_unavailable")
    assert error.retry_after == Settings().retry_after
    assert "cannot be reached" in error.message


def test_an_unreachable_plugin_is_a_plugin_error_without_a_status() -> None:
    port = free_port()  # nothing listens there
    with PluginClient(f"http://127.0.0.1:{port}") as client, pytest.raises(PluginError) as caught:
        client.get_prices(["AAPL"])
    assert caught.value.status_code is None
    assert caught.value.message.startswith(f"cannot reach http://127.0.0.1:{port}/get_prices")


def test_a_plugin_that_does_not_answer_in_time_is_a_plugin_error() -> None:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(5)
        return JSONResponse({"quotes": [], "errors": []})

    with (
        serving(Route("/get_prices", slow)) as server,
        PluginClient(server.url, timeout=0.2) as client,
        pytest.raises(PluginError, match="no answer from .* in time"),
    ):
        client.get_prices(["AAPL"])


def test_a_body_of_the_wrong_shape_is_a_plugin_error_not_a_half_parsed_answer() -> None:
    async def wrong(request: Request) -> Response:
        return JSONResponse({"AAPL": 169.595})  # the 2023 plugin's flat answer

    with (
        serving(Route("/get_prices", wrong)) as server,
        PluginClient(server.url) as client,
        pytest.raises(PluginError, match="is not a PricesResponse") as caught,
    ):
        client.get_prices(["AAPL"])
    assert caught.value.status_code == 200


def test_an_error_that_is_not_the_plugins_format_keeps_the_status_and_the_text() -> None:
    async def gateway(request: Request) -> Response:
        return PlainTextResponse("upstream connect error", status_code=502)

    with (
        serving(Route("/get_prices", gateway)) as server,
        PluginClient(server.url) as client,
        pytest.raises(PluginError) as caught,
    ):
        client.get_prices(["AAPL"])
    assert (caught.value.status_code, caught.value.code, caught.value.message) == (
        502,
        None,
        "upstream connect error",
    )


def test_a_token_is_sent_as_a_bearer_header() -> None:
    seen: list[str | None] = []

    async def prices(request: Request) -> Response:
        seen.append(request.headers.get("authorization"))
        return JSONResponse({"quotes": [], "errors": []})

    with serving(Route("/get_prices", prices)) as server:
        with PluginClient(server.url, token="s3cret") as client:
            client.get_prices(["AAPL"])
        with PluginClient(server.url) as client:
            client.get_prices(["AAPL"])
    assert seen == ["Bearer s3cret", None]
