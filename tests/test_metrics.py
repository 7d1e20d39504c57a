"""`GET /metrics` and the counts behind it (`plugin.metrics`, deep dive 03e).

Each test makes known requests, then reads the scrape back as Prometheus does: names, labels and values. The
several-workers side (one scrape adding up every worker) is in `test_workers.py`, with real processes.
"""

from __future__ import annotations

import asyncio
import random
import string

import pytest
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware
from support import CountingSource, DownSource

from plugin.app import create_app
from plugin.deadline import serving_source
from plugin.metrics import FIXED_NAMES, Metrics, MetricsMiddleware, metric_samples, metric_total
from plugin.pipeline import Pipeline
from plugin.service import create_service
from plugin.settings import Settings

SAMPLE = Settings(source="sample")
TOKEN = "s3cret-token"


def scrape(client: TestClient, **headers: str) -> str:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.text


def series(text: str, name: str) -> set[tuple[tuple[str, str], ...]]:
    """The distinct label sets of the samples called `name`: Prometheus stores one time series for each."""
    return {tuple(sorted(labels.items())) for sample, labels, _ in metric_samples(text) if sample == name}


# -- requests ------------------------------------------------------------------------------------------------


def test_requests_are_counted_by_operation_id_and_status() -> None:
    client = TestClient(create_app(SAMPLE))
    client.get("/get_prices", params={"tickers": "AAPL"})
    client.get("/get_prices", params={"tickers": "AAPL,MSFT"})
    client.head("/get_prices", params={"tickers": "AAPL"})
    client.post("/get_prices", json={"tickers": ["AAPL"]})
    client.post("/get_prices", json={"tickers": "AAPL"})  # not an array: 422
    client.get("/get_fundamentals", params={"tickers": "MSFT"})
    client.get("/.well-known/ai-plugin.json")
    client.get("/openapi.yaml")
    client.get("/nothing/here")
    text = scrape(client)
    counted = {
        (labels["operation"], labels["status"]): value
        for name, labels, value in metric_samples(text)
        if name == "plugin_requests_total"
    }
    assert counted == {
        ("getPrices", "200"): 3,  # HEAD is counted as the GET it mirrors
        ("postPrices", "200"): 1,
        ("postPrices", "422"): 1,
        ("getFundamentals", "200"): 1,
        ("manifest", "200"): 1,
        ("spec", "200"): 1,
        ("other", "404"): 1,
    }
    # the scrape itself is counted once it has been answered
    assert metric_total(scrape(client), "plugin_requests_total", operation="metrics", status="200") == 1


def test_each_request_lands_in_the_latency_histogram_of_its_operation() -> None:
    client = TestClient(create_app(SAMPLE))
    for _ in range(3):
        client.get("/get_prices", params={"tickers": "AAPL"})
    text = scrape(client)
    histogram = "plugin_request_duration_seconds"
    assert metric_total(text, f"{histogram}_count", operation="getPrices") == 3
    assert metric_total(text, f"{histogram}_bucket", operation="getPrices", le="+Inf") == 3
    assert 0 < metric_total(text, f"{histogram}_sum", operation="getPrices") < 30


def test_requests_the_middleware_refuses_are_counted_with_their_status() -> None:
    client = TestClient(create_app(Settings(source="sample", api_token=TOKEN)))
    client.get("/get_prices", params={"tickers": "AAPL"})  # no token: 401
    client.post(
        "/get_prices", content=b"{" + b" " * 20_000 + b"}", headers={"Content-Type": "application/json"}
    )  # 413, refused before the token is asked for
    client.get("/get_prices", params={"tickers": "AAPL"}, headers={"Host": "a b"})  # 400
    text = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert metric_total(text, "plugin_requests_total", operation="getPrices", status="401") == 1
    assert metric_total(text, "plugin_requests_total", operation="postPrices", status="413") == 1
    assert metric_total(text, "plugin_requests_total", operation="getPrices", status="400") == 1


def test_a_request_that_fails_inside_the_app_is_counted_as_the_500_it_gets() -> None:
    app = create_app(SAMPLE)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/boom").status_code == 500
    assert metric_total(scrape(client), "plugin_requests_total", operation="other", status="500") == 1


def test_a_thousand_made_up_paths_add_one_series_not_a_thousand() -> None:
    client = TestClient(create_app(SAMPLE))
    rng = random.Random(13)
    for _ in range(1000):
        path = "/" + "/".join(
            "".join(rng.choices(string.ascii_letters, k=8)) for _ in range(rng.randint(1, 3))
        )
        client.request(rng.choice(["GET", "POST", "DELETE"]), path)
    text = scrape(client)
    assert series(text, "plugin_requests_total") == {(("operation", "other"), ("status", "404"))}
    assert metric_total(text, "plugin_requests_total", operation="other") == 1000
    buckets = series(text, "plugin_request_duration_seconds_bucket")
    assert {dict(labels)["operation"] for labels in buckets} == {"other"}


def test_paths_that_are_not_operations_get_a_fixed_word() -> None:
    counting = MetricsMiddleware(create_app(SAMPLE), metrics=Metrics(), operations={})
    assert counting.operation("GET", "/static-offline-docs/swagger-ui.css") == "docs"
    assert counting.operation("POST", "/mcp") == "mcp"
    assert counting.operation("POST", "/mcp/") == "mcp"
    assert counting.operation("GET", "/legal") == "legal"
    assert counting.operation("GET", "/get_prices") == "other", "an operation is named by the app's own table"
    assert set(FIXED_NAMES.values()) == {"manifest", "spec", "docs", "logo", "legal", "mcp", "metrics"}


def test_requests_to_mcp_are_counted_under_mcp() -> None:
    client = TestClient(create_service(SAMPLE), base_url="http://localhost")
    client.get("/mcp")  # no session: refused, and counted all the same
    text = scrape(client)
    assert metric_total(text, "plugin_requests_total", operation="mcp") == 1


def test_the_counting_middleware_is_plain_asgi_and_outermost() -> None:
    app = create_app(SAMPLE)
    assert app.user_middleware[0].cls is MetricsMiddleware
    assert not any(issubclass(m.cls, BaseHTTPMiddleware) for m in app.user_middleware)


# -- what the cache reports ------------------------------------------------------------------------------------


def test_cache_events_and_upstream_calls_agree_with_a_counting_source() -> None:
    metrics, counting = Metrics(), CountingSource()
    pipeline = Pipeline(SAMPLE, serving_source(SAMPLE, upstream=counting, observer=metrics))

    async def ask() -> None:
        await pipeline.prices(["AAPL", "MSFT"])
        await pipeline.prices(["AAPL", "NOPE"])
        await pipeline.fundamentals(["AAPL"])

    asyncio.run(ask())
    text, _ = metrics.exposition()
    asked = sum(len(call) for call in counting.calls)
    assert asked == 4
    assert metric_total(text, "plugin_upstream_calls_total") == asked
    assert metric_total(text, "plugin_upstream_calls_total", source="sample", outcome="ok") == 3
    assert metric_total(text, "plugin_upstream_calls_total", source="sample", outcome="unknown") == 1
    assert metric_total(text, "plugin_cache_events_total") == 5, "one event per symbol asked"
    assert metric_total(text, "plugin_cache_events_total", event="hit") == 1
    assert metric_total(text, "plugin_cache_events_total", event="miss") == 4
    assert metric_total(text, "plugin_budget_denied_total") == 0


def test_a_symbol_the_budget_refuses_is_counted() -> None:
    settings = Settings(source="yahoo", upstream_budget=1)
    metrics = Metrics()
    pipeline = Pipeline(settings, serving_source(settings, upstream=DownSource(), observer=metrics))

    async def ask() -> None:
        await pipeline.prices(["AAPL"])  # spends the one call of the minute
        await pipeline.prices(["MSFT"])  # refused by the budget

    asyncio.run(ask())
    text, _ = metrics.exposition()
    assert metric_total(text, "plugin_budget_denied_total") == 1
    assert metric_total(text, "plugin_upstream_calls_total", source="yahoo", outcome="error") == 1


def test_the_app_counts_what_its_own_cache_did() -> None:
    client = TestClient(create_app(SAMPLE))
    client.get("/get_prices", params={"tickers": "AAPL,BTC-USD"})
    client.get("/get_prices", params={"tickers": "AAPL"})
    text = scrape(client)
    assert metric_total(text, "plugin_cache_events_total", event="miss") == 2
    assert metric_total(text, "plugin_cache_events_total", event="hit") == 1
    assert metric_total(text, "plugin_upstream_calls_total", source="sample", outcome="ok") == 2


def test_two_apps_in_one_process_count_apart() -> None:
    first, second = TestClient(create_app(SAMPLE)), TestClient(create_app(SAMPLE))
    first.get("/get_prices", params={"tickers": "AAPL"})
    assert metric_total(scrape(first), "plugin_requests_total", operation="getPrices") == 1
    assert metric_total(scrape(second), "plugin_requests_total", operation="getPrices") == 0


def test_every_cache_event_is_in_the_scrape_before_it_happens() -> None:
    text, _ = Metrics().exposition()
    assert series(text, "plugin_cache_events_total") == {
        (("event", event),) for event in ("hit", "miss", "stale", "negative")
    }
    assert metric_total(text, "plugin_cache_events_total") == 0


# -- the page ------------------------------------------------------------------------------------------------


def test_metrics_is_the_prometheus_text_format_or_openmetrics_when_asked() -> None:
    client = TestClient(create_app(SAMPLE))
    plain = client.get("/metrics")
    assert plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE plugin_requests_total counter" in plain.text
    openmetrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")
    head = client.head("/metrics")
    assert head.status_code == 200 and head.content == b""


def test_metrics_needs_the_token_when_one_is_set() -> None:
    client = TestClient(create_app(Settings(source="sample", api_token=TOKEN)))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/.well-known/ai-plugin.json").status_code == 200, "the public paths stay public"


@pytest.mark.parametrize("path", ["/openapi.yaml", "/openapi.json", "/.well-known/ai-plugin.json"])
def test_metrics_is_in_neither_spec_nor_the_manifest(path: str) -> None:
    client = TestClient(create_app(SAMPLE))
    answer = client.get(path)
    assert answer.status_code == 200
    assert "/metrics" not in answer.text


def test_the_app_closes_its_source_at_shutdown() -> None:
    class ClosingSource(CountingSource):
        closed = 0

        async def aclose(self) -> None:
            self.closed += 1

    source = ClosingSource()
    with TestClient(create_service(SAMPLE, source=source)) as client:
        assert client.get("/get_prices", params={"tickers": "AAPL"}).status_code == 200
        assert source.closed == 0
    assert source.closed == 1


# -- reading a scrape ----------------------------------------------------------------------------------------


def test_metric_total_adds_up_the_samples_whose_labels_include_the_ones_given() -> None:
    text = "\n".join(
        [
            "# TYPE calls counter",
            'calls_total{source="yahoo",outcome="ok"} 3',
            'calls_total{source="yahoo",outcome="error"} 2',
            'calls_total{source="sample",outcome="ok"} 5',
            "",
        ]
    )
    assert metric_total(text, "calls_total") == 10
    assert metric_total(text, "calls_total", outcome="ok") == 8
    assert metric_total(text, "calls_total", source="yahoo", outcome="error") == 2
    assert metric_total(text, "calls_total", source="nowhere") == 0
    assert metric_total(text.encode(), "calls") == 0, "a family's name is not a sample's"
