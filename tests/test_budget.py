"""The upstream budget: a token bucket that no load can overdraw, and that nothing ever queues for."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from support import Clock

from plugin.budget import UpstreamBudget
from plugin.cache import CachedSource
from plugin.quotes import Fundamentals, Quote, QuoteError
from plugin.sources import SampleSource


class CountingSource:
    """Any symbol is a quote (the sample's AAPL, renamed); counts the symbols asked; can be held at a gate."""

    name = "yahoo"

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.gate: asyncio.Event | None = None
        self.down = False
        self.template = asyncio.run(SampleSource().get_quotes(["AAPL"]))["AAPL"]

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        self.asked.extend(symbols)
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            return {s: QuoteError(symbol=s, code="upstream_unavailable", message="down") for s in symbols}
        return {s: self.template.model_copy(update={"symbol": s}) for s in symbols}

    async def get_fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals | QuoteError]:
        raise NotImplementedError


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --- the bucket -----------------------------------------------------------------------------------------------


def test_a_full_bucket_grants_its_burst_then_nothing(clock: Clock) -> None:
    budget = UpstreamBudget(60, burst=10, clock=clock)
    assert budget.take(4) == 4
    assert budget.take(10) == 6
    assert budget.take(1) == 0
    assert budget.available == 0


def test_it_refills_at_the_rate_per_minute(clock: Clock) -> None:
    budget = UpstreamBudget(60, burst=10, clock=clock)
    budget.take(10)
    clock.now += 2.5
    assert budget.take(10) == 2
    clock.now += 30
    assert budget.take(100) == 10, "never more than the burst, however long it was idle"


def test_the_default_burst_is_a_minutes_worth(clock: Clock) -> None:
    budget = UpstreamBudget(clock=clock)
    assert (budget.per_minute, budget.available) == (60, 60)
    assert budget.take(1000) == 60


def test_wait_says_when_the_next_call_is_allowed(clock: Clock) -> None:
    budget = UpstreamBudget(30, burst=1, clock=clock)
    assert budget.wait() == 0
    budget.take(1)
    assert budget.wait() == pytest.approx(2.0)
    clock.now += 1.5
    assert budget.wait() == pytest.approx(0.5)


def test_a_clock_going_backwards_does_not_mint_calls(clock: Clock) -> None:
    budget = UpstreamBudget(60, burst=5, clock=clock)
    budget.take(5)
    clock.now -= 100
    assert budget.take(5) == 0


@pytest.mark.parametrize(("per_minute", "burst"), [(0, None), (-1, None), (60, 0), (60, 0.5)])
def test_a_budget_that_could_never_grant_a_call_is_refused(per_minute: float, burst: float | None) -> None:
    with pytest.raises(ValueError, match="per_minute|burst"):
        UpstreamBudget(per_minute, burst=burst)


# --- spent by the cache ---------------------------------------------------------------------------------------


def test_no_load_overdraws_the_budget(clock: Clock) -> None:
    upstream = CountingSource()
    cache = CachedSource(upstream, budget=UpstreamBudget(60, burst=20, clock=clock), clock=clock)

    async def storm() -> list[dict]:
        return await asyncio.gather(*(cache.get_quotes([f"S{i}", f"T{i}"]) for i in range(500)))

    answers = asyncio.run(storm())
    assert len(upstream.asked) == 20
    codes = [a.code for answer in answers for a in answer.values() if isinstance(a, QuoteError)]
    assert codes == ["rate_limited"] * 980
    clock.now += 5
    asyncio.run(storm())
    assert len(upstream.asked) == 25, "five seconds at 60 a minute earn five calls"


def test_a_request_beyond_the_budget_is_answered_at_once_not_queued(clock: Clock) -> None:
    upstream = CountingSource()
    cache = CachedSource(upstream, budget=UpstreamBudget(60, burst=2, clock=clock), clock=clock)

    async def scenario() -> dict:
        upstream.gate = asyncio.Event()  # the granted calls hang until the end of the test
        first = asyncio.create_task(cache.get_quotes(["A", "B"]))
        await asyncio.sleep(0)
        answer = await asyncio.wait_for(cache.get_quotes(["C"]), timeout=1)  # not waiting for a token
        assert not first.done()
        upstream.gate.set()
        await first
        return answer

    answer = asyncio.run(scenario())
    assert answer["C"].code == "rate_limited"
    assert answer["C"].message == (
        "This service asks Yahoo Finance at most 60 times a minute and has used that budget; try again in 1 s."
    )


def test_cached_answers_and_shared_calls_cost_nothing(clock: Clock) -> None:
    upstream = CountingSource()
    budget = UpstreamBudget(60, burst=3, clock=clock)
    cache = CachedSource(upstream, budget=budget, clock=clock)

    async def scenario() -> None:
        await asyncio.gather(*(cache.get_quotes(["A", "B"]) for _ in range(50)))
        for _ in range(50):
            await cache.get_quotes(["A", "B"])

    asyncio.run(scenario())
    assert upstream.asked == ["A", "B"]
    assert budget.available == 1


def test_over_budget_a_cached_quote_is_served_stale(clock: Clock) -> None:
    upstream = CountingSource()
    budget = UpstreamBudget(60, burst=2, clock=clock)
    cache = CachedSource(upstream, ttl=30, budget=budget, clock=clock)
    asyncio.run(cache.get_quotes(["A"]))
    clock.now += 31  # A has expired; one token refilled, and the budget holds the burst of 2
    budget.take(budget.available)
    answer = asyncio.run(cache.get_quotes(["A", "B"]))
    assert isinstance(answer["A"], Quote) and answer["A"].stale
    assert answer["B"].code == "rate_limited"
    assert upstream.asked == ["A"]


def test_over_budget_is_not_a_rate_limit_cool_down(clock: Clock) -> None:
    upstream = CountingSource()
    cache = CachedSource(upstream, budget=UpstreamBudget(60, burst=1, clock=clock), clock=clock)
    asyncio.run(cache.get_quotes(["A", "B"]))
    assert not cache.cooling_down
    clock.now += 1
    assert isinstance(asyncio.run(cache.get_quotes(["B"]))["B"], Quote)


def test_the_budget_is_spent_in_request_order(clock: Clock) -> None:
    upstream = CountingSource()
    cache = CachedSource(upstream, budget=UpstreamBudget(60, burst=2, clock=clock), clock=clock)
    answer = asyncio.run(cache.get_quotes(["C", "A", "B"]))
    assert upstream.asked == ["C", "A"]
    assert [type(a).__name__ for a in answer.values()] == ["Quote", "Quote", "QuoteError"]
