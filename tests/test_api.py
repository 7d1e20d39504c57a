"""The plugin's HTTP API answers every route with the documented shape (notebook 03 and its deep dives)."""

from __future__ import annotations

import asyncio
import socket
import struct
import zlib
from collections.abc import Iterator, Sequence

import pytest
import yaml
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware
from support import CountingSource, serve

from plugin.app import create_app
from plugin.cache import CachedSource
from plugin.deadline import DeadlineSource, serving_source
from plugin.pipeline import Pipeline, PricesResponse, SymbolCountError, assemble, plan_symbols
from plugin.quotes import Quote, QuoteError
from plugin.rendered import RenderedAnswers
from plugin.settings import Settings
from plugin.sources import SampleSource

SAMPLE = Settings(source="sample")


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(SAMPLE))


# --- the files ChatGPT fetches --------------------------------------------------------------------------------


def test_manifest_is_json_with_every_url_derived_from_the_base_url() -> None:
    client = TestClient(create_app(Settings(source="sample", base_url="https://prices.example.com/")))
    answer = client.get("/.well-known/ai-plugin.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    manifest = answer.json()
    assert manifest["api"] == {"type": "openapi", "url": "https://prices.example.com/openapi.yaml"}
    assert manifest["logo_url"] == "https://prices.example.com/logo.png"
    assert manifest["legal_info_url"] == "https://prices.example.com/legal"
    assert manifest["auth"] == {"type": "none"}


def test_manifest_defaults_to_localhost_on_the_configured_port() -> None:
    client = TestClient(create_app(Settings(source="sample", port=5003)))
    assert (
        client.get("/.well-known/ai-plugin.json").json()["api"]["url"] == "http://localhost:5003/openapi.yaml"
    )


def test_an_api_token_makes_the_manifest_declare_service_http_bearer_auth() -> None:
    settings = Settings(
        source="sample", api_token="s3cret", verification_tokens={"openai": "issued-by-openai"}
    )
    manifest = TestClient(create_app(settings)).get("/.well-known/ai-plugin.json").json()
    assert manifest["auth"] == {
        "type": "service_http",
        "authorization_type": "bearer",
        "verification_tokens": {"openai": "issued-by-openai"},
    }
    assert "s3cret" not in str(manifest)


def test_manifest_api_url_points_at_the_served_spec(client: TestClient) -> None:
    spec_url = client.get("/.well-known/ai-plugin.json").json()["api"]["url"]
    answer = client.get(spec_url.removeprefix("http://localhost:8000"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/yaml"
    assert answer.text.startswith("openapi: 3.")


def test_logo_url_serves_a_512_by_512_png(client: TestClient) -> None:
    logo_url = client.get("/.well-known/ai-plugin.json").json()["logo_url"]
    answer = client.get(logo_url.removeprefix("http://localhost:8000"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    png = answer.content
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height, depth, colour_type = struct.unpack(">IIBB", png[16:26])
    assert (width, height, depth, colour_type) == (512, 512, 8, 6)
    assert zlib.crc32(png[12:29]) == struct.unpack(">I", png[29:33])[0], "IHDR CRC does not match"
    assert png.endswith(b"IEND\xaeB`\x82")


def test_logo_pixels_decode_to_a_picture_not_a_blank_square(client: TestClient) -> None:
    png = client.get("/logo.png").content
    position, data = 8, b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        if kind == b"IDAT":
            data += png[position + 8 : position + 8 + length]
        position += 12 + length
    rows = zlib.decompress(data)
    assert len(rows) == 512 * (1 + 512 * 4)
    assert all(rows[y * 2049] == 0 for y in range(512)), "every row uses filter type 0"
    pixels = {
        bytes(rows[y * 2049 + 1 + x * 4 : y * 2049 + 5 + x * 4])
        for y in range(0, 512, 8)
        for x in range(0, 512, 8)
    }
    assert b"\x00\x00\x00\x00" in pixels, "the rounded corners are transparent"
    assert len(pixels) > 10, "the logo has several colours"


def test_legal_page_says_informational_delayed_and_yahoo_terms(client: TestClient) -> None:
    answer = client.get("/legal")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    text = " ".join(answer.text.lower().split())
    assert "not investment" in text and "delayed" in text and "yahoo's terms" in text
    assert "mailto:support@example.com" in text


# --- prices and fundamentals -----------------------------------------------------------------------------------


def test_where_is_apple_trading_at(client: TestClient) -> None:
    answer = client.get("/get_prices", params={"tickers": "AAPL"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["errors"] == []
    [quote] = body["quotes"]
    assert quote["symbol"] == "AAPL" and quote["price"] == 169.595
    assert quote["currency"] == "USD" and quote["as_of"] == "2023-05-02T17:45:12Z"
    assert set(quote) == set(Quote.model_fields)


def test_get_and_post_answer_the_same(client: TestClient) -> None:
    by_get = client.get("/get_prices?tickers=AAPL,BTC-USD")
    by_post = client.post("/get_prices", json={"tickers": ["AAPL", "BTC-USD"]})
    by_tutorial_form = client.post("/get_prices?tickers=AAPL,BTC-USD")
    assert by_get.status_code == by_post.status_code == by_tutorial_form.status_code == 200
    assert by_get.content == by_post.content == by_tutorial_form.content
    assert [q["symbol"] for q in by_get.json()["quotes"]] == ["AAPL", "BTC-USD"]


def test_quotes_come_back_in_request_order_with_duplicates_collapsed(client: TestClient) -> None:
    body = client.get("/get_prices", params={"tickers": "BTC-USD, msft,AAPL,$aapl,btc/usd"}).json()
    assert [q["symbol"] for q in body["quotes"]] == ["BTC-USD", "MSFT", "AAPL"]
    assert body["errors"] == []


def test_unknown_and_invalid_symbols_are_errors_entries_in_request_order(client: TestClient) -> None:
    answer = client.post("/get_prices", json={"tickers": ["ZZZZ", "AAPL", "not a ticker!", "MSFT"]})
    assert answer.status_code == 200
    body = answer.json()
    assert [q["symbol"] for q in body["quotes"]] == ["AAPL", "MSFT"]
    assert [(e["symbol"], e["code"]) for e in body["errors"]] == [
        ("ZZZZ", "unknown_symbol"),
        ("not a ticker!", "invalid_symbol"),
    ]
    assert all(e["message"] for e in body["errors"])


def test_every_requested_symbol_lands_in_exactly_one_list(client: TestClient) -> None:
    asked = ["AAPL", "ETH-USD", "NOPE1", "^GSPC", "a b c", "EURUSD=X", "BRK.B"]
    body = client.get("/get_prices", params={"tickers": ",".join(asked)}).json()
    answered = [q["symbol"] for q in body["quotes"]] + [e["symbol"] for e in body["errors"]]
    assert len(answered) == len(asked)
    assert "BRK-B" in answered and "a b c" in answered


def test_repeated_tickers_parameters_are_joined(client: TestClient) -> None:
    body = client.get("/get_prices?tickers=AAPL&tickers=MSFT").json()
    assert [q["symbol"] for q in body["quotes"]] == ["AAPL", "MSFT"]


def test_fundamentals_have_pe_market_cap_52_week_range_and_yield(client: TestClient) -> None:
    answer = client.get("/get_fundamentals", params={"tickers": "AAPL,ZZZZ"})
    assert answer.status_code == 200
    body = answer.json()
    [apple] = body["fundamentals"]
    assert apple["symbol"] == "AAPL"
    assert apple["pe_ratio"] == 28.74 and apple["market_cap"] == 2667910000000
    assert (apple["fifty_two_week_low"], apple["fifty_two_week_high"]) == (124.17, 176.15)
    assert apple["dividend_yield"] == 0.0055
    assert [(e["symbol"], e["code"]) for e in body["errors"]] == [("ZZZZ", "unknown_symbol")]


def test_the_source_is_asked_once_for_the_distinct_valid_symbols_only() -> None:
    source = CountingSource()
    client = TestClient(create_app(SAMPLE, source=source))
    client.get("/get_prices", params={"tickers": "AAPL,aapl,!!,MSFT"})
    client.post("/get_prices", json={"tickers": ["??"]})
    assert source.calls == [["AAPL", "MSFT"]], "invalid-only requests must not reach the source"


def test_the_app_keeps_its_source_and_settings_in_state() -> None:
    source = CountingSource()
    app = create_app(SAMPLE, source=source)
    assert app.state.source is source
    assert app.state.settings is SAMPLE


def test_without_an_injected_source_the_app_caches_the_configured_one() -> None:
    app = create_app(SAMPLE)
    client = TestClient(app)
    client.get("/get_prices?tickers=AAPL")
    client.get("/get_prices?tickers=AAPL")
    assert app.state.source.upstream_calls == 1


def test_the_app_answers_through_one_pipeline_kept_in_its_state() -> None:
    source = CountingSource()
    app = create_app(SAMPLE, source=source)
    assert isinstance(app.state.pipeline, Pipeline)
    assert app.state.pipeline.source is source and app.state.pipeline.settings is SAMPLE


def test_the_app_mounts_no_mcp_endpoint_itself() -> None:
    app = create_app(SAMPLE)
    assert "/mcp" not in {getattr(route, "path", None) for route in app.routes}
    assert not hasattr(app.state, "mcp")


def test_max_symbols_comes_from_the_settings() -> None:
    client = TestClient(create_app(Settings(source="sample", max_symbols=2)))
    assert client.get("/get_prices?tickers=AAPL,MSFT").status_code == 200
    answer = client.get("/get_prices?tickers=AAPL,MSFT,BTC-USD")
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == "tickers: at most 2 items per request, got 3"


def test_plugin_max_symbols_40_is_said_everywhere_the_limit_appears() -> None:
    settings = Settings.from_env({"PRICE_SOURCE": "sample", "PLUGIN_MAX_SYMBOLS": "40"})
    client = TestClient(create_app(settings))
    spec = client.get("/openapi.json").json()
    for path, method in (("/get_prices", "get"), ("/get_prices", "post"), ("/get_fundamentals", "get")):
        operation = spec["paths"][path][method]
        assert "25" not in operation["description"]
        for parameter in operation.get("parameters", ()):
            assert "1 to 40" in parameter["description"]
    assert "1 to 40" in spec["paths"]["/get_prices"]["get"]["description"]
    assert spec["components"]["schemas"]["PricesRequest"]["properties"]["tickers"]["maxItems"] == 40
    assert "at most 40 per call" in client.get("/.well-known/ai-plugin.json").json()["description_for_model"]
    assert yaml.safe_load(client.get("/openapi.yaml").text) == spec | {"servers": spec["servers"]}
    assert client.get("/get_prices", params={"tickers": ",".join(["AAPL"] * 40)}).status_code == 200
    refused = client.post("/get_prices", json={"tickers": ["AAPL"] * 41}).json()["error"]
    assert refused["message"].startswith("tickers: at most 40 items per request, got 41")


def test_a_slow_source_turns_into_upstream_unavailable_within_the_deadline() -> None:
    class SlowSource(CountingSource):
        async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
            await asyncio.sleep(5)
            return await super().get_quotes(symbols)

    client = TestClient(create_app(SAMPLE, source=DeadlineSource(SlowSource(), 0.05)))
    answer = client.get("/get_prices?tickers=AAPL,!!")
    assert answer.status_code == 503
    details = answer.json()["error"]["details"]
    assert [d["rule"] for d in details] == ["upstream_unavailable", "invalid_symbol"]
    assert (
        details[0]["message"]
        == "No price for 'AAPL': the price source did not answer within 0.05 s; try again shortly."
    )


def test_a_late_upstream_still_gets_the_last_good_quote_served_stale() -> None:
    class SlowAfterFirst(CountingSource):
        async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
            if self.calls:
                await asyncio.sleep(5)
            return await super().get_quotes(symbols)

    now = [0.0]
    source = CachedSource(DeadlineSource(SlowAfterFirst(), 0.05), ttl=30, clock=lambda: now[0])
    client = TestClient(create_app(SAMPLE, source=source))
    assert client.get("/get_prices?tickers=AAPL").json()["quotes"][0]["stale"] is False
    now[0] = 60.0
    quote = client.get("/get_prices?tickers=AAPL").json()["quotes"][0]
    assert (quote["price"], quote["stale"]) == (169.595, True)


def test_rest_serves_the_stale_quote_when_the_upstream_hangs_after_the_cache_entry_expired() -> None:
    """The serving stack every door uses (`serving_source`): the deadline below the cache, so a hang is an outage."""

    class HangsAfterFirst(SampleSource):
        calls = 0

        async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
            self.calls += 1
            if self.calls > 1:
                await asyncio.sleep(3600)
            return await super().get_quotes(symbols)

    now = [0.0]
    settings = Settings(source="sample", request_deadline=0.05, cache_ttl=30)
    upstream = HangsAfterFirst()
    source = serving_source(settings, upstream=upstream, clock=lambda: now[0])
    client = TestClient(create_app(settings, source=source))
    assert client.get("/get_prices?tickers=AAPL").json()["quotes"][0]["stale"] is False
    now[0] = 60.0  # the cache entry expired: the next request goes upstream, which hangs
    answer = client.get("/get_prices?tickers=AAPL")
    assert answer.status_code == 200
    quote = answer.json()["quotes"][0]
    assert (quote["symbol"], quote["price"], quote["stale"]) == ("AAPL", 169.595, True)
    assert upstream.calls == 2


def test_the_default_source_is_cached_and_has_the_request_deadline() -> None:
    app = create_app(Settings(source="sample", request_deadline=3))
    assert isinstance(app.state.source, CachedSource)
    assert isinstance(app.state.source.source, DeadlineSource)
    assert app.state.source.source.deadline == 3
    assert isinstance(app.state.source.source.source, SampleSource)


# --- every response ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/.well-known/ai-plugin.json"),
        ("GET", "/openapi.yaml"),
        ("GET", "/openapi.json"),
        ("GET", "/logo.png"),
        ("GET", "/legal"),
        ("GET", "/docs"),
        ("GET", "/get_prices?tickers=AAPL"),
        ("POST", "/get_prices?tickers=AAPL"),
        ("GET", "/get_fundamentals?tickers=AAPL"),
        ("GET", "/get_prices"),
        ("GET", "/nowhere"),
        ("DELETE", "/get_prices"),
    ],
)
def test_every_response_says_nosniff(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path).headers["x-content-type-options"] == "nosniff"


def test_no_middleware_is_a_base_http_middleware() -> None:
    app = create_app(SAMPLE)
    assert app.user_middleware, "the app has middleware (CORS, security headers)"
    for middleware in app.user_middleware:
        assert not issubclass(middleware.cls, BaseHTTPMiddleware), (
            f"{middleware.cls.__name__} is BaseHTTPMiddleware"
        )


def test_every_api_route_is_async() -> None:
    app = create_app(SAMPLE)
    endpoints = [route.endpoint for route in app.routes if hasattr(route, "endpoint")]
    assert endpoints
    ours = [endpoint for endpoint in endpoints if endpoint.__module__.startswith("plugin.")]
    assert len(ours) >= 7, "the three operations and the four plugin files"
    assert all(asyncio.iscoroutinefunction(endpoint) for endpoint in ours)


# --- the response contract, as functions ---------------------------------------------------------------------


def test_plan_symbols_keeps_request_order_across_valid_and_invalid_inputs() -> None:
    plan = plan_symbols(["msft", "!!", "AAPL", "MSFT", "!!", "btc usd"], 25)
    assert plan.symbols == ("MSFT", "AAPL", "BTC-USD")
    assert [e if isinstance(e, str) else (e.symbol, e.code) for e in plan.entries] == [
        "MSFT",
        ("!!", "invalid_symbol"),
        "AAPL",
        "BTC-USD",
    ]


def test_plans_are_reused_for_short_inputs_only() -> None:
    import plugin.pipeline

    before = plugin.pipeline._cached_plan.cache_info()
    assert plan_symbols(["AAPL", "zz top"], 25) is plan_symbols(("AAPL", "zz top"), 25)
    long_input = ["X" * 33]
    assert plan_symbols(long_input, 25) == plan_symbols(long_input, 25)
    assert plan_symbols(long_input, 25) is not plan_symbols(long_input, 25), "a long input is planned anew"
    assert plugin.pipeline._cached_plan.cache_info().currsize <= before.currsize + 1


@pytest.mark.parametrize(
    ("count", "words"), [(0, "no symbols given: ask for 1 to 40"), (41, "more than the 40")]
)
def test_a_plan_refuses_no_symbols_or_more_than_the_limit_naming_it(count: int, words: str) -> None:
    with pytest.raises(SymbolCountError, match=words) as caught:
        plan_symbols(["AAPL"] * count, 40)
    assert (caught.value.count, caught.value.limit) == (count, 40)


def test_the_pipeline_takes_its_limit_from_the_settings() -> None:
    pipeline = Pipeline(Settings(source="sample", max_symbols=40), SampleSource())
    answer = asyncio.run(pipeline.prices(["AAPL"] * 40))
    assert [q.symbol for q in answer.quotes] == ["AAPL"]
    with pytest.raises(SymbolCountError, match="more than the 40 allowed"):
        asyncio.run(pipeline.prices(["AAPL"] * 41))


def test_assemble_reports_a_symbol_the_source_left_out_as_upstream_unavailable() -> None:
    plan = plan_symbols(["AAPL", "MSFT"], 25)
    apple = asyncio.run(SampleSource().get_quotes(["AAPL"]))
    found, errors = assemble(plan.entries, apple, "the price source failed; try again shortly.")
    assert [q.symbol for q in found] == ["AAPL"]
    assert [(e.symbol, e.code) for e in errors] == [("MSFT", "upstream_unavailable")]
    assert errors[0].message == "No price for 'MSFT': the price source failed; try again shortly."


def test_nothing_served_only_when_every_answer_is_an_upstream_failure() -> None:
    pipeline = Pipeline(Settings(source="sample", retry_after=42), SampleSource())

    def nothing_served(found: list, errors: list) -> bool:
        return pipeline.unavailable(found, errors) is not None

    down = QuoteError(symbol="AAPL", code="upstream_unavailable", message="down")
    limited = QuoteError(symbol="MSFT", code="rate_limited", message="slow down")
    invalid = QuoteError(symbol="!!", code="invalid_symbol", message="bad")
    unknown = QuoteError(symbol="ZZZZ", code="unknown_symbol", message="no such symbol")
    assert nothing_served([], [down, limited, invalid])
    assert not nothing_served([], [invalid]), "only invalid input is a 200 with errors"
    assert not nothing_served([], [down, unknown]), "an unknown symbol is an answer"
    assert not nothing_served(["a quote"], [down])
    message = pipeline.unavailable([], [down, invalid])
    assert message == (
        "No data could be served: the price source cannot be reached, and nothing is cached for AAPL. "
        "Retry after 42 s."
    )


def test_a_rendered_answer_is_reused_only_for_the_very_same_result_objects() -> None:
    rendered, calls = RenderedAnswers(size=2), []

    def render(text: str):  # noqa: ANN202
        return lambda: calls.append(text) or text.encode()

    apple = asyncio.run(SampleSource().get_quotes(["AAPL"]))["AAPL"]
    equal_copy = apple.model_copy()
    assert rendered.get(("AAPL",), (apple,), render("first")) == b"first"
    assert rendered.get(("AAPL",), (apple,), render("second")) == b"first", "same objects: reused"
    assert rendered.get(("AAPL",), (equal_copy,), render("third")) == b"third", (
        "an equal but new object: rendered"
    )
    rendered.get(("MSFT",), (), render("msft"))
    rendered.get(("BTC-USD",), (), render("btc"))
    assert rendered.get(("AAPL",), (equal_copy,), render("fourth")) == b"fourth", (
        "the oldest answer was dropped"
    )
    assert calls == ["first", "third", "msft", "btc", "fourth"]


def test_a_repeated_request_reuses_its_rendered_answer_until_the_cache_refreshes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders = []
    original = PricesResponse.model_dump_json
    monkeypatch.setattr(
        PricesResponse, "model_dump_json", lambda self, **kw: renders.append(1) or original(self, **kw)
    )
    now = [0.0]
    client = TestClient(create_app(SAMPLE, source=CachedSource(SampleSource(), ttl=30, clock=lambda: now[0])))
    first = client.get("/get_prices?tickers=AAPL,BTC-USD").content
    assert client.get("/get_prices?tickers=AAPL,BTC-USD").content == first
    assert client.post("/get_prices", json={"tickers": ["aapl", "btc/usd"]}).content == first
    assert len(renders) == 1
    now[0] = 100.0  # past the TTL: the cache fetches new Quote objects, so the answer is rendered again
    assert client.get("/get_prices?tickers=AAPL,BTC-USD").content == first
    assert len(renders) == 2


# -- HEAD answers like GET, without a body (RFC 9110 section 9.3.2), over a real socket ----------------------

HEAD_PATHS = [
    "/get_prices?tickers=AAPL",
    "/get_fundamentals?tickers=AAPL",
    "/get_prices",  # a refusal too: the same 422, its headers, no body
    "/.well-known/ai-plugin.json",
    "/openapi.yaml",
    "/openapi.json",
    "/logo.png",
    "/legal",
    "/docs",
]


def raw_exchange(port: int, method: str, target: str, token: str | None = None) -> tuple[str, dict, bytes]:
    """One request on its own connection, read to the end: (status line, headers but Date, every byte after)."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    headers.pop("date", None)
    return status, headers, rest


@pytest.fixture(scope="module", params=[None, "head-token"], ids=["no token", "token"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[int, str | None]]:
    token = request.param
    flags = ("--token", token, "--verification-token", "openai=issued") if token else ()
    with serve("--source", "sample", "--port", "0", *flags) as server:
        yield int(server.url.rsplit(":", 1)[1]), token


@pytest.mark.parametrize("target", HEAD_PATHS)
def test_head_answers_like_get_without_a_body(served: tuple[int, str | None], target: str) -> None:
    port, token = served
    get_status, get_headers, body = raw_exchange(port, "GET", target, token)
    head_status, head_headers, nothing = raw_exchange(port, "HEAD", target, token)
    assert head_status == get_status and get_status.split()[1] in ("200", "422")
    assert head_headers == get_headers
    assert int(head_headers["content-length"]) == len(body) > 0
    assert nothing == b""


def test_head_without_the_token_is_refused_like_get(served: tuple[int, str | None]) -> None:
    port, token = served
    if token is None:
        pytest.skip("no token set: nothing to refuse")
    get_status, get_headers, _ = raw_exchange(port, "GET", "/get_prices?tickers=AAPL")
    head_status, head_headers, nothing = raw_exchange(port, "HEAD", "/get_prices?tickers=AAPL")
    assert (head_status, head_headers, nothing) == (get_status, get_headers, b"")
    assert get_status.split()[1] == "401"
