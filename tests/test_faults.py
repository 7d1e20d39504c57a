"""Upstream faults, through the whole stack: fake Yahoo at the HTTP boundary, the real YahooSource, the app.

Slow, down, flapping, 429 storms, garbled answers: every request gets an answer within the deadline, a cached
quote is served stale rather than nothing, a 503 with Retry-After comes only when there is nothing to serve, and
the service recovers by itself when Yahoo does. Time is a clock the tests move, except for the deadline itself,
which is real (0.5 s here) and checked only against a generous bound, as a hang detector.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fakeyahoo import FakeYahoo
from fastapi.testclient import TestClient
from support import Clock

from plugin.app import create_app
from plugin.cache import CachedSource
from plugin.deadline import serving_source
from plugin.quotes import Fundamentals, Quote, QuoteError
from plugin.settings import Settings
from plugin.yahoo import YahooSource

DEADLINE = 0.5
HANG = DEADLINE + 2.0  # far above any honest answer time: only a hang exceeds it
SLOW = 2.0  # the fake's latency when it is "slow": four deadlines
RETRY_AFTER_SECONDS = Settings().retry_after  # the stacks below keep the default


@dataclass
class Stack:
    """The served stack over a fake Yahoo, and the knobs a test turns."""

    yahoo: FakeYahoo
    clock: Clock
    source: CachedSource
    client: TestClient

    def get(self, tickers: str) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        answer = self.client.get("/get_prices", params={"tickers": tickers})
        return answer, time.monotonic() - started

    def later(self, seconds: float) -> None:
        self.clock.now += seconds


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    yahoo, clock = FakeYahoo(), Clock()
    upstream = YahooSource(session=yahoo.session(), cache_dir=tmp_path / "yf")
    settings = Settings(source="yahoo", request_deadline=DEADLINE, cache_ttl=30)
    source = serving_source(settings, upstream=upstream, clock=clock)
    yield Stack(yahoo, clock, source, TestClient(create_app(settings, source=source)))
    yahoo.release()
    upstream.close()


def quote_of(answer: httpx.Response, symbol: str) -> dict:
    assert answer.status_code == 200, answer.text
    return next(q for q in answer.json()["quotes"] if q["symbol"] == symbol)


def unavailable(answer: httpx.Response) -> dict:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    error = answer.json()["error"]
    assert error["code"] == "upstream_unavailable" and error["retry_after"] == RETRY_AFTER_SECONDS
    return error


# --- slow ------------------------------------------------------------------------------------------------------


def test_a_slow_upstream_with_nothing_cached_is_a_503_within_the_deadline(stack: Stack) -> None:
    stack.yahoo.latency = SLOW
    answer, took = stack.get("AAPL")
    error = unavailable(answer)
    assert error["details"][0]["message"] == (
        "No price for 'AAPL': the price source did not answer within 0.5 s; try again shortly."
    )
    assert took < HANG


def test_a_slow_upstream_gets_the_last_good_quote_served_stale(stack: Stack) -> None:
    fresh = quote_of(stack.get("AAPL")[0], "AAPL")
    stack.later(31)  # past the TTL
    stack.yahoo.latency = SLOW
    answer, took = stack.get("AAPL")
    stale = quote_of(answer, "AAPL")
    assert stale == {**fresh, "stale": True}, "the same price and time, flagged"
    assert took < HANG


def test_concurrent_requests_all_get_their_answer_within_the_deadline(stack: Stack) -> None:
    stack.yahoo.latency = SLOW
    app = stack.client.app

    async def burst() -> list[tuple[int, float]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:

            async def one(i: int) -> tuple[int, float]:
                started = time.monotonic()
                answer = await http.get("/get_prices", params={"tickers": f"AAPL,SYM{i}"})
                return answer.status_code, time.monotonic() - started

            return await asyncio.gather(*(one(i) for i in range(20)))

    results = asyncio.run(burst())
    assert [status for status, _ in results] == [503] * 20
    assert max(took for _, took in results) < HANG


# --- down, flapping, back ---------------------------------------------------------------------------------------


def test_an_unreachable_upstream_is_a_503_until_it_comes_back(stack: Stack) -> None:
    stack.yahoo.down = True
    error = unavailable(stack.get("AAPL,MSFT")[0])
    assert error["message"] == (
        "No data could be served: the price source cannot be reached, and nothing is cached for AAPL, MSFT. "
        f"Retry after {RETRY_AFTER_SECONDS} s."
    )
    assert {d["message"] for d in error["details"]} == {
        "Yahoo Finance could not be reached (ConnectionError); try again shortly."
    }
    stack.yahoo.down = False
    answer = stack.get("AAPL,MSFT")[0]
    assert quote_of(answer, "AAPL")["stale"] is False, (
        "an outage is not remembered: the next request recovers"
    )


def test_down_with_some_quotes_cached_serves_those_stale_and_lists_the_rest(stack: Stack) -> None:
    stack.get("AAPL")
    stack.later(31)
    stack.yahoo.down = True
    answer = stack.get("AAPL,MSFT")[0]
    assert quote_of(answer, "AAPL")["stale"] is True
    assert [(e["symbol"], e["code"]) for e in answer.json()["errors"]] == [("MSFT", "upstream_unavailable")]


def test_a_flapping_upstream_never_costs_an_answer_once_a_quote_is_known(stack: Stack) -> None:
    stack.get("AAPL")
    flags = []
    for step in range(8):
        stack.later(31)  # every request has to ask again
        stack.yahoo.down = step % 2 == 0
        flags.append(quote_of(stack.get("AAPL")[0], "AAPL")["stale"])
    assert flags == [True, False] * 4


# --- 429 storms ---------------------------------------------------------------------------------------------------


def test_a_429_storm_stops_the_asking_and_recovers_after_the_cool_down(stack: Stack) -> None:
    stack.get("AAPL")
    stack.later(31)
    for symbol in ("AAPL", "GOOGL"):
        stack.yahoo.behave(symbol, "rate_limited")
    first = stack.get("AAPL,GOOGL")[0]
    assert quote_of(first, "AAPL")["stale"] is True
    assert first.json()["errors"][0]["code"] == "rate_limited"
    asked = stack.yahoo.total_chart_requests
    for _ in range(20):  # during the cool-down: answered at once from memory, Yahoo left alone
        stack.later(1)
        answer = stack.get("AAPL,GOOGL")[0]
        assert quote_of(answer, "AAPL")["stale"] is True
    assert stack.yahoo.total_chart_requests == asked
    assert stack.source.cooling_down
    stack.yahoo.behaviours.clear()
    stack.later(60)
    recovered = stack.get("AAPL,GOOGL")[0]
    assert quote_of(recovered, "AAPL")["stale"] is False
    assert quote_of(recovered, "GOOGL")["stale"] is False


def test_a_429_storm_with_nothing_cached_is_a_503_that_says_rate_limited(stack: Stack) -> None:
    stack.yahoo.behave("AAPL", "rate_limited")
    error = unavailable(stack.get("AAPL")[0])
    assert "rate-limiting" in error["message"]
    assert error["details"][0]["rule"] == "rate_limited"


# --- garbled answers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [
        (
            "malformed",
            "Yahoo Finance answered with data we could not read (JSONDecodeError); try again shortly.",
        ),
        ("wrong_types", "Yahoo Finance answered in a way we did not expect (TypeError); try again shortly."),
        ("odd_shape", "Yahoo Finance answered in a way we did not expect (KeyError); try again shortly."),
        (
            "server_error",
            "Yahoo Finance answered with data we could not read (JSONDecodeError); try again shortly.",
        ),
    ],
)
def test_a_garbled_answer_is_an_error_entry_and_the_symbol_recovers_with_yahoo(
    stack: Stack, behaviour: str, said: str
) -> None:
    stack.yahoo.behave("GOOGL", behaviour)  # type: ignore[arg-type]
    answer = stack.get("GOOGL,SPY")[0]
    assert quote_of(answer, "SPY")["price"] == 411.8
    assert answer.json()["errors"] == [{"symbol": "GOOGL", "code": "upstream_unavailable", "message": said}]
    stack.yahoo.behave("GOOGL", "ok")
    assert quote_of(stack.get("GOOGL")[0], "GOOGL")["price"] == 344.82, "a failure is not cached"


# --- the budget, in front of Yahoo -------------------------------------------------------------------------------


def test_no_load_makes_more_upstream_calls_than_the_budget(tmp_path: Path) -> None:
    yahoo, clock = FakeYahoo(), Clock()
    upstream = YahooSource(session=yahoo.session(), cache_dir=tmp_path / "yf")
    settings = Settings(source="yahoo", upstream_budget=10)
    client = TestClient(create_app(settings, source=serving_source(settings, upstream=upstream, clock=clock)))
    for symbol in [f"S{i}{part}" for i in range(30) for part in "AB"] + ["LATE1", "LATE2"]:
        yahoo.behave(symbol, "ok")  # a made-up equity: one chart request each
    try:
        statuses = [
            client.get("/get_prices", params={"tickers": f"S{i}A,S{i}B"}).status_code for i in range(30)
        ]
        assert yahoo.total_chart_requests == 10
        assert statuses == [200] * 5 + [503] * 25
        clock.now += 6  # six seconds at ten a minute earn one call
        client.get("/get_prices", params={"tickers": "LATE1,LATE2"})
        assert yahoo.total_chart_requests == 11
    finally:
        upstream.close()


def test_the_sample_data_spends_no_budget_and_yahoo_does() -> None:
    sample = serving_source(Settings(source="sample"))
    assert sample.budget is None
    yahoo = serving_source(Settings(source="yahoo", upstream_budget=42))
    assert yahoo.budget is not None and yahoo.budget.per_minute == 42


# --- nothing internal ever reaches a client ----------------------------------------------------------------------

LEAKY = (
    'Traceback (most recent call last):\n  File "/srv/plugin/secret.py", line 7, in fetch\n'
    "requests.exceptions.HTTPError: 500 for https://query2.finance.yahoo.com/v8/finance/chart/AAPL?crumb=abc"
)


def assert_no_internals(text: str) -> None:
    for leak in ("Traceback", 'File "', "yahoo.com", "/srv", "secret.py", "crumb", "/v8/"):
        assert leak not in text, leak


class RaisingSource:
    """A source whose every call raises an exception that carries a traceback, a path and an upstream URL."""

    name = "yahoo"

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        raise RuntimeError(LEAKY)

    async def get_fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals | QuoteError]:
        raise RuntimeError(LEAKY)


@pytest.mark.parametrize("path", ["/get_prices", "/get_fundamentals"])
def test_an_exception_in_the_source_never_reaches_the_body(path: str) -> None:
    client = TestClient(create_app(Settings(source="sample"), source=RaisingSource()))
    answer = client.get(path, params={"tickers": "AAPL"})
    assert answer.status_code == 503
    assert_no_internals(answer.text)
    assert_no_internals(str(answer.headers))


def test_an_exception_inside_yfinance_never_reaches_the_body(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yfinance

    def history(*args: object, **kwargs: object) -> None:
        raise OSError(LEAKY)

    monkeypatch.setattr(yfinance.Ticker, "history", history)
    answer = stack.get("AAPL")[0]
    assert unavailable(answer)["details"][0]["message"] == (
        "Yahoo Finance could not be reached (OSError); try again shortly."
    )
    assert_no_internals(answer.text)


def test_an_upstream_error_page_never_reaches_the_body(stack: Stack) -> None:
    stack.yahoo.down = True  # its message names query2.finance.yahoo.com
    answer = stack.get("AAPL")[0]
    unavailable(answer)
    assert_no_internals(answer.text)


def test_an_exception_in_the_app_is_a_json_500_without_internals() -> None:
    app = create_app(Settings(source="sample"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(LEAKY)

    answer = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert_no_internals(answer.text)
