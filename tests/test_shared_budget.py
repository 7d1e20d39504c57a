"""The fleet's budget in a real Redis (one Lua script), and the link that guards every Redis call.

Against a real `redis-server` on a free loopback port; skipped, saying how to install it, where it is missing.
Cross-process spending is in test_shared_cache.py (`test_processes_together_never_spend_more_than_the_budget`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
import redis
from support import Clock, redis_server

from plugin.lab.local_redis import LocalRedis
from plugin.redis_link import RedisDown, RedisLink, redacted
from plugin.shared_budget import SharedBudget


@pytest.fixture
def server() -> Iterator[LocalRedis]:
    with redis_server() as running:
        yield running


def test_two_processes_links_spend_one_bucket(server: LocalRedis) -> None:
    async def run() -> list[int]:
        links = [RedisLink(server.url), RedisLink(server.url)]
        budgets = [SharedBudget(link, 60, burst=3) for link in links]
        granted = [(await budget.take(2))[0] for budget in budgets]
        granted.append((await budgets[0].take(1))[0])
        for link in links:
            await link.aclose()
        return granted

    assert asyncio.run(run()) == [2, 1, 0]


def test_the_bucket_refills_at_its_rate_and_says_when_the_next_call_comes(server: LocalRedis) -> None:
    async def run() -> tuple[float, int]:
        link = RedisLink(server.url)
        budget = SharedBudget(link, 600, burst=2)  # ten calls a second
        await budget.take(2)
        granted, wait = await budget.take(1)
        assert granted == 0
        await asyncio.sleep(0.25)
        refilled, _ = await budget.take(5)
        await link.aclose()
        return wait, refilled

    wait, refilled = asyncio.run(run())
    assert 0 < wait <= 0.1
    assert refilled == 2, "never more than the burst"


def test_the_bucket_is_disposable_data_that_expires(server: LocalRedis) -> None:
    async def run() -> None:
        link = RedisLink(server.url)
        await SharedBudget(link, 60, key="plugin:v1:budget").take(1)
        await link.aclose()

    asyncio.run(run())
    assert 0 < redis.Redis(port=server.port).pttl("plugin:v1:budget") <= 2000


def test_a_budget_that_could_never_grant_a_call_is_refused(server: LocalRedis) -> None:
    with pytest.raises(ValueError, match="per_minute"):
        SharedBudget(RedisLink(server.url), 0)


def test_without_redis_the_budget_raises_redis_down_for_the_caller_to_serve_alone(server: LocalRedis) -> None:
    server.stop()

    async def run() -> None:
        link = RedisLink(server.url)
        with pytest.raises(RedisDown):
            await SharedBudget(link, 60).take(1)
        await link.aclose()

    asyncio.run(run())


def test_the_breaker_tries_nothing_until_its_back_off_passes_then_logs_once_that_sharing_resumes(
    server: LocalRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plugin.redis_link")
    clock = Clock()
    server.stop()

    async def run() -> list[str]:
        link = RedisLink(server.url, backoff=0.5, clock=clock, fallback="serving alone")
        seen = []
        for step in range(3):
            try:
                await link.run(lambda client: client.ping())
                seen.append("answered")
            except RedisDown:
                seen.append("down")
            if step == 0:
                server.start()  # back already, but the breaker is open until the back-off passes
        clock.now += 0.6
        await link.run(lambda client: client.ping())
        seen.append("answered" if link.up else "down")
        await link.aclose()
        return seen

    assert asyncio.run(run()) == ["down", "down", "down", "answered"]
    lines = [r.getMessage() for r in caplog.records if r.name == "plugin.redis_link"]
    assert len(lines) == 2
    assert "did not answer" in lines[0] and "serving alone until it is back" in lines[0]
    assert "answers again: sharing resumes" in lines[1]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://app:s3cret@cache.internal:6379/0", "redis://app:***@cache.internal:6379/0"),
        ("rediss://:s3cret@cache.internal", "rediss://:***@cache.internal"),
        ("redis://cache.internal:6379/0", "redis://cache.internal:6379/0"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redacted(url) == shown
