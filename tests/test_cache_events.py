"""What the cache reports to its observer: one cache event per symbol asked, one upstream call per symbol sent."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from support import Clock, DownSource, Tally

from plugin.budget import UpstreamBudget
from plugin.cache import CachedSource
from plugin.deadline import serving_source
from plugin.quotes import Quote, QuoteError
from plugin.settings import Settings
from plugin.sources import SampleSource


class Switchable(SampleSource):
    """The sample data after `delay` seconds, unless `failing` names an error code for every symbol, or `raises`."""

    name = "switchable"

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.failing: str | None = None
        self.raises = False
        self.delay = delay
        self.calls = 0

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        self.calls += 1
        await asyncio.sleep(self.delay)  # even 0 lets the other requests of a burst arrive meanwhile
        if self.raises:
            raise RuntimeError("a bug in the source")
        if self.failing:
            return {s: QuoteError(symbol=s, code=self.failing, message="scripted") for s in symbols}
        return await super().get_quotes(symbols)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def get(cache: CachedSource, *symbols: str) -> dict[str, Quote | QuoteError]:
    return asyncio.run(cache.get_quotes(list(symbols)))


def test_each_symbol_asked_is_one_cache_event_and_one_upstream_call(clock: Clock) -> None:
    tally = Tally()
    cache = CachedSource(SampleSource(), ttl=30, clock=clock, observer=tally)
    get(cache, "AAPL", "MSFT", "NOPE")
    assert tally.events == {"miss": 3}
    assert tally.upstream == {"sample ok": 2, "sample unknown": 1}
    clock.now += 10
    get(cache, "AAPL", "MSFT", "NOPE", "AAPL")
    assert tally.events == {"miss": 3, "hit": 2, "negative": 1}, "a repeated symbol is one symbol"
    assert tally.upstream == {"sample ok": 2, "sample unknown": 1}


def test_requests_waiting_on_one_call_are_each_a_miss_and_the_call_is_counted_once() -> None:
    tally, upstream = Tally(), Switchable()
    cache = CachedSource(upstream, observer=tally)

    async def many() -> None:
        await asyncio.gather(*(cache.get_quotes(["AAPL"]) for _ in range(20)))

    asyncio.run(many())
    assert upstream.calls == 1
    assert tally.events == {"miss": 20}
    assert tally.upstream == {"switchable ok": 1}


def test_an_upstream_failure_serves_stale_and_counts_the_outcome(clock: Clock) -> None:
    tally, upstream = Tally(), Switchable()
    cache = CachedSource(upstream, ttl=30, clock=clock, observer=tally)
    get(cache, "AAPL")
    clock.now += 60
    upstream.failing = "upstream_unavailable"
    answers = get(cache, "AAPL", "MSFT")
    assert isinstance(answers["AAPL"], Quote) and answers["AAPL"].stale
    assert tally.events == {"miss": 2, "stale": 1}
    assert tally.upstream == {"switchable ok": 1, "switchable error": 2}


def test_a_429_is_counted_as_rate_limited_and_the_cool_down_asks_nobody(clock: Clock) -> None:
    tally, upstream = Tally(), Switchable()
    cache = CachedSource(upstream, clock=clock, observer=tally)
    upstream.failing = "rate_limited"
    get(cache, "AAPL")
    clock.now += 10
    get(cache, "MSFT")
    assert tally.upstream == {"switchable rate_limited": 1}
    assert tally.events == {"miss": 2}


def test_a_source_that_raises_is_an_error_outcome_for_each_symbol(clock: Clock) -> None:
    tally, upstream = Tally(), Switchable()
    upstream.raises = True
    cache = CachedSource(upstream, clock=clock, observer=tally)
    get(cache, "AAPL", "MSFT")
    assert tally.upstream == {"switchable error": 2}
    assert tally.events == {"miss": 2}


def test_a_symbol_the_budget_refuses_is_one_denial_and_one_cache_event(clock: Clock) -> None:
    tally = Tally()
    budget = UpstreamBudget(60, burst=2, clock=clock)
    cache = CachedSource(SampleSource(), ttl=30, budget=budget, clock=clock, observer=tally)
    get(cache, "AAPL", "MSFT", "BTC-USD")  # two granted, BTC-USD refused with nothing to serve
    clock.now += 40  # two calls earned back, AAPL and MSFT expired
    answers = get(cache, "ETH-USD", "^GSPC", "AAPL")  # AAPL refused: its last good quote, stale
    assert isinstance(answers["AAPL"], Quote) and answers["AAPL"].stale
    assert tally["budget denied"] == 2
    assert tally.events == {"miss": 5, "stale": 1}
    assert sum(tally.events.values()) == 6, "one event per symbol asked, refused or not"
    assert tally.upstream == {"sample ok": 4}


def test_a_near_cache_over_a_reporting_cache_reports_each_symbol_once(clock: Clock) -> None:
    tally = Tally()
    below = CachedSource(Switchable(), ttl=30, clock=clock, observer=tally)
    near = CachedSource(
        below, ttl=1, negative_ttl=1, cooldown=0, clock=clock, observer=tally, source_reports=True
    )

    async def burst() -> None:
        await asyncio.gather(*(near.get_quotes(["AAPL", "NOPE"]) for _ in range(5)))

    asyncio.run(
        burst()
    )  # one request asks below (which reports it), four wait on it (the near cache reports them)
    assert tally.events == {"miss": 10}
    clock.now += 0.5
    get(near, "AAPL", "NOPE")  # the near cache's memory
    clock.now += 5
    get(near, "AAPL", "NOPE")  # the cache below's memory
    assert tally.events == {"miss": 10, "hit": 2, "negative": 2}
    assert tally.upstream == {"switchable ok": 1, "switchable unknown": 1}


def test_a_stale_copy_from_a_cache_below_is_served_but_not_kept_as_fresh(clock: Clock) -> None:
    upstream = Switchable()
    below = CachedSource(upstream, ttl=30, clock=clock)
    near = CachedSource(below, ttl=1, cooldown=0, clock=clock, source_reports=True)
    get(near, "AAPL")
    clock.now += 60
    upstream.failing = "upstream_unavailable"
    assert get(near, "AAPL")["AAPL"].stale  # type: ignore[union-attr]
    upstream.failing = None
    answer = get(near, "AAPL")["AAPL"]
    assert isinstance(answer, Quote) and not answer.stale, "the near cache asked again instead of keeping it"


def test_serving_source_reports_to_the_observer_it_is_given() -> None:
    tally = Tally()
    source = serving_source(Settings(source="sample"), observer=tally)
    get(source, "AAPL")
    get(source, "AAPL")
    assert tally.events == {"miss": 1, "hit": 1}
    assert tally.upstream == {"sample ok": 1}


def test_a_yahoo_outage_reaches_the_observer_through_serving_source() -> None:
    tally = Tally()
    source = serving_source(Settings(source="yahoo"), upstream=DownSource(), observer=tally)
    get(source, "AAPL")
    assert tally.upstream == {"yahoo error": 1}


class Closable(SampleSource):
    closed = 0

    async def aclose(self) -> None:
        self.closed += 1


def test_aclose_closes_a_source_that_holds_something_open_and_is_harmless_otherwise() -> None:
    inner = Closable()
    asyncio.run(CachedSource(inner).aclose())
    assert inner.closed == 1
    asyncio.run(serving_source(Settings(source="sample")).aclose())
