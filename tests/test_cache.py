"""CachedSource asks upstream as little as it can: TTL, single-flight, negative cache, cool-down, stale, LRU."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from support import Clock

from plugin.cache import CachedSource
from plugin.quotes import Fundamentals, Quote, QuoteError
from plugin.sources import PriceSource, SampleSource


class ScriptedSource:
    """The sample data behind a switchboard: per-symbol failures, a recorded list of calls, optional delay."""

    name = "scripted"

    def __init__(self, *, delay: float = 0.0) -> None:
        self.sample = SampleSource()
        self.delay = delay
        self.calls: list[list[str]] = []
        self.failing: dict[str, str] = {}  # symbol -> error code
        self.raises: BaseException | None = None
        self.gate: asyncio.Event | None = None

    async def _answer(self, symbols: Sequence[str], fetch) -> dict:  # noqa: ANN001
        self.calls.append(list(symbols))
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.raises is not None:
            raise self.raises
        answers = await fetch(symbols)
        for symbol in symbols:
            if symbol in self.failing:
                answers[symbol] = QuoteError(symbol=symbol, code=self.failing[symbol], message="scripted")
        return answers

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        return await self._answer(symbols, self.sample.get_quotes)

    async def get_fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals | QuoteError]:
        return await self._answer(symbols, self.sample.get_fundamentals)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def upstream() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture
def cache(upstream: ScriptedSource, clock: Clock) -> CachedSource:
    return CachedSource(upstream, clock=clock)


def get(cache: CachedSource, *symbols: str) -> dict[str, Quote | QuoteError]:
    return asyncio.run(cache.get_quotes(list(symbols)))


def test_a_fresh_quote_is_served_from_memory_until_the_ttl_passes(
    cache: CachedSource, upstream: ScriptedSource, clock: Clock
) -> None:
    first = get(cache, "AAPL")["AAPL"]
    clock.now += 29.9
    assert get(cache, "AAPL")["AAPL"] is first
    assert upstream.calls == [["AAPL"]]
    clock.now += 0.2
    get(cache, "AAPL")
    assert upstream.calls == [["AAPL"], ["AAPL"]]
    assert cache.upstream_calls == 2


def test_the_ttl_is_configurable(upstream: ScriptedSource, clock: Clock) -> None:
    cache = CachedSource(upstream, ttl=5, clock=clock)
    get(cache, "AAPL")
    clock.now += 6
    get(cache, "AAPL")
    assert len(upstream.calls) == 2


def test_fifty_concurrent_requests_make_one_upstream_call() -> None:
    upstream = ScriptedSource(delay=0.01)
    cache = CachedSource(upstream)

    async def main() -> list[dict[str, Quote | QuoteError]]:
        return await asyncio.gather(*(cache.get_quotes(["AAPL"]) for _ in range(50)))

    results = asyncio.run(main())
    assert upstream.calls == [["AAPL"]]
    assert cache.upstream_calls == 1
    assert len({id(r["AAPL"]) for r in results}) == 1
    assert results[0]["AAPL"].price == 169.595


def test_the_symbols_a_request_misses_go_upstream_in_one_batch(
    cache: CachedSource, upstream: ScriptedSource
) -> None:
    get(cache, "AAPL")
    answers = get(cache, "MSFT", "AAPL", "BTC-USD", "MSFT")
    assert upstream.calls == [["AAPL"], ["MSFT", "BTC-USD"]]
    assert list(answers) == ["MSFT", "AAPL", "BTC-USD"]
    assert cache.upstream_calls == 3


def test_overlapping_requests_share_the_symbols_already_in_flight() -> None:
    upstream = ScriptedSource(delay=0.01)
    cache = CachedSource(upstream)

    async def main() -> None:
        await asyncio.gather(cache.get_quotes(["AAPL", "MSFT"]), cache.get_quotes(["MSFT", "SPY"]))

    asyncio.run(main())
    assert sorted(s for call in upstream.calls for s in call) == ["AAPL", "MSFT", "SPY"]


def test_unknown_symbols_are_remembered_for_ten_minutes(
    cache: CachedSource, upstream: ScriptedSource, clock: Clock
) -> None:
    assert get(cache, "NOPE")["NOPE"].code == "unknown_symbol"
    clock.now += 599
    assert get(cache, "NOPE")["NOPE"].code == "unknown_symbol"
    assert upstream.calls == [["NOPE"]]
    clock.now += 2
    get(cache, "NOPE")
    assert upstream.calls == [["NOPE"], ["NOPE"]]


def test_after_a_rate_limit_nothing_goes_upstream_during_the_cooldown(
    cache: CachedSource, upstream: ScriptedSource, clock: Clock
) -> None:
    upstream.failing["AAPL"] = "rate_limited"
    assert get(cache, "AAPL")["AAPL"].code == "rate_limited"
    assert cache.cooling_down
    clock.now += 30
    answers = get(cache, "AAPL", "MSFT")
    assert {a.code for a in answers.values()} == {"rate_limited"}
    assert "30 s" in answers["MSFT"].message
    assert upstream.calls == [["AAPL"]], "no upstream call during the cool-down"
    clock.now += 31
    upstream.failing.clear()
    assert isinstance(get(cache, "MSFT")["MSFT"], Quote)
    assert not cache.cooling_down


def test_during_the_cooldown_cached_quotes_are_still_served(
    cache: CachedSource, upstream: ScriptedSource, clock: Clock
) -> None:
    fresh = get(cache, "AAPL")["AAPL"]
    clock.now += 31
    upstream.failing["AAPL"] = "rate_limited"
    stale = get(cache, "AAPL")["AAPL"]
    assert isinstance(stale, Quote) and stale.stale and stale.as_of == fresh.as_of
    clock.now += 10
    assert get(cache, "AAPL")["AAPL"].stale
    assert len(upstream.calls) == 2


def test_when_upstream_fails_the_last_good_quote_is_served_stale_with_its_time(
    cache: CachedSource, upstream: ScriptedSource, clock: Clock
) -> None:
    fresh = get(cache, "AAPL")["AAPL"]
    clock.now += 60
    upstream.failing["AAPL"] = "upstream_unavailable"
    upstream.failing["MSFT"] = "upstream_unavailable"
    answers = get(cache, "AAPL", "MSFT")
    stale = answers["AAPL"]
    assert isinstance(stale, Quote)
    assert stale.stale is True and fresh.stale is False
    assert (stale.price, stale.as_of) == (fresh.price, fresh.as_of)
    assert answers["MSFT"].code == "upstream_unavailable", "nothing stale to serve for a symbol never seen"
    upstream.failing.clear()
    assert get(cache, "AAPL")["AAPL"].stale is False, "a failure is not cached: the next request asks again"


def test_a_source_that_raises_leaves_nobody_hanging(cache: CachedSource, upstream: ScriptedSource) -> None:
    upstream.raises = RuntimeError("bug in a source")
    answers = get(cache, "AAPL")
    assert answers["AAPL"].code == "upstream_unavailable"
    assert "RuntimeError" in answers["AAPL"].message
    upstream.raises = None
    assert isinstance(get(cache, "AAPL")["AAPL"], Quote)


def test_a_cancelled_upstream_call_gives_its_waiters_an_error_not_a_hang() -> None:
    upstream = ScriptedSource()
    upstream.gate = asyncio.Event()  # holds every upstream call until set
    cache = CachedSource(upstream)

    async def main() -> tuple[BaseException | dict, dict]:
        leader = asyncio.ensure_future(cache.get_quotes(["AAPL"]))
        await asyncio.sleep(0)
        follower = asyncio.ensure_future(cache.get_quotes(["AAPL"]))
        await asyncio.sleep(0)
        leader.cancel()
        follower_answer = await asyncio.wait_for(follower, timeout=5)
        try:
            return await leader, follower_answer
        except asyncio.CancelledError as exc:
            return exc, follower_answer

    leader_result, follower_answer = asyncio.run(main())
    assert isinstance(leader_result, asyncio.CancelledError)
    assert follower_answer["AAPL"].code == "upstream_unavailable"
    assert "cancelled" in follower_answer["AAPL"].message
    upstream.gate = None
    assert isinstance(get(cache, "AAPL")["AAPL"], Quote), "the next request starts afresh"


def test_a_cancelled_waiter_does_not_cancel_the_shared_call() -> None:
    upstream = ScriptedSource(delay=0.01)
    cache = CachedSource(upstream)

    async def main() -> dict:
        leader = asyncio.ensure_future(cache.get_quotes(["AAPL"]))
        await asyncio.sleep(0)
        waiter = asyncio.ensure_future(cache.get_quotes(["AAPL"]))
        await asyncio.sleep(0)
        waiter.cancel()
        return await leader

    assert isinstance(asyncio.run(main())["AAPL"], Quote)
    assert upstream.calls == [["AAPL"]]


def test_memory_is_bounded_least_recently_used_first(upstream: ScriptedSource, clock: Clock) -> None:
    cache = CachedSource(upstream, max_entries=3, clock=clock)
    get(cache, "AAPL", "MSFT", "SPY")
    get(cache, "AAPL")  # AAPL is now the most recently used
    get(cache, "QQQ")  # evicts MSFT, the least recently used
    assert len(cache) == 3
    upstream.calls.clear()
    get(cache, "AAPL", "SPY", "QQQ")
    assert upstream.calls == []
    get(cache, "MSFT")
    assert upstream.calls == [["MSFT"]]


def test_fundamentals_are_cached_the_same_way(
    cache: CachedSource, upstream: ScriptedSource, clock: Clock
) -> None:
    first = asyncio.run(cache.get_fundamentals(["AAPL", "NOPE"]))
    again = asyncio.run(cache.get_fundamentals(["AAPL", "NOPE"]))
    assert again["AAPL"] is first["AAPL"] and again["NOPE"].code == "unknown_symbol"
    assert upstream.calls == [["AAPL", "NOPE"]]
    clock.now += 31
    upstream.failing["AAPL"] = "upstream_unavailable"
    stale = asyncio.run(cache.get_fundamentals(["AAPL"]))["AAPL"]
    assert isinstance(stale, Fundamentals) and stale.stale and stale.pe_ratio == first["AAPL"].pe_ratio


def test_quotes_and_fundamentals_are_cached_separately(cache: CachedSource, upstream: ScriptedSource) -> None:
    get(cache, "AAPL")
    figures = asyncio.run(cache.get_fundamentals(["AAPL"]))["AAPL"]
    assert isinstance(figures, Fundamentals)
    assert upstream.calls == [["AAPL"], ["AAPL"]]


def test_clear_forgets_answers_and_the_cooldown(cache: CachedSource, upstream: ScriptedSource) -> None:
    upstream.failing["AAPL"] = "rate_limited"
    get(cache, "AAPL", "MSFT")
    cache.clear()
    upstream.failing.clear()
    assert len(cache) == 0 and not cache.cooling_down
    assert isinstance(get(cache, "MSFT")["MSFT"], Quote)


def test_it_is_a_price_source_named_after_what_it_wraps(cache: CachedSource) -> None:
    assert isinstance(cache, PriceSource)
    assert cache.name == "scripted"
