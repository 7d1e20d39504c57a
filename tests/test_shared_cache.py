"""The cache shared through a real Redis: across real processes, single-flight, dead holders, Redis going away.

Every test here runs a real `redis-server` on a free loopback port (`tests/support.redis_server`), never a fake,
and the tests that need one are skipped, saying how to install it, where `redis-server` is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import redis
from support import Clock, Tally, redis_server, start_worker

from plugin.deadline import serving_source
from plugin.lab.local_redis import LocalRedis
from plugin.quotes import Quote, QuoteError
from plugin.settings import Settings, SettingsError
from plugin.sources import SampleSource


@pytest.fixture
def server() -> Iterator[LocalRedis]:
    with redis_server() as running:
        yield running


class Scripted(SampleSource):
    """The sample data, counting each symbol asked; `failing` makes every answer that error code."""

    name = "sample"

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []
        self.failing: str | None = None

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        self.asked += symbols
        await asyncio.sleep(0.01)
        if self.failing:
            return {s: QuoteError(symbol=s, code=self.failing, message="scripted") for s in symbols}
        return await super().get_quotes(symbols)


def settings(server: LocalRedis, **overrides: object) -> Settings:
    return Settings(source="sample", redis_url=server.url, **overrides)  # type: ignore[arg-type]


def asked_lines(path: Path) -> list[tuple[int, str]]:
    if not path.exists():
        return []
    return [(int(pid), symbol) for pid, symbol in (line.split() for line in path.read_text().splitlines())]


def commands_sent(server: LocalRedis) -> int:
    """The commands Redis has run so far, without the ones this count itself sends (INFO, and a new connection's HELLO and CLIENT)."""
    stats = redis.Redis(port=server.port).info("commandstats")
    ours = ("cmdstat_info", "cmdstat_client", "cmdstat_hello")
    return sum(stat["calls"] for name, stat in stats.items() if not name.startswith(ours))


# -- across real processes --------------------------------------------------------------------------------------


def test_a_quote_one_process_fetched_is_served_to_another_from_redis(
    server: LocalRedis, tmp_path: Path
) -> None:
    asked, go = tmp_path / "asked", tmp_path / "go"
    go.touch()
    first = start_worker(server.url, asked, go, "AAPL").result()
    second = start_worker(server.url, asked, go, "AAPL").result()
    assert asked_lines(asked) == [(first["pid"], "AAPL")]
    assert first["answers"] == second["answers"] == [{"symbol": "AAPL", "price": 169.595, "stale": False}]
    assert second["events"] == {"hit": 1}


def test_concurrent_misses_in_three_processes_make_one_upstream_call(
    server: LocalRedis, tmp_path: Path
) -> None:
    asked, go = tmp_path / "asked", tmp_path / "go"
    workers = [start_worker(server.url, asked, go, "MSFT", requests=30, delay=0.3) for _ in range(3)]
    go.touch()
    results = [worker.result() for worker in workers]
    assert len(asked_lines(asked)) == 1, asked_lines(asked)
    answers = [answer for result in results for answer in result["answers"]]
    assert len(answers) == 90
    assert all(answer == {"symbol": "MSFT", "price": 305.41, "stale": False} for answer in answers)
    assert sum(result["events"].get("miss", 0) for result in results) == 90, "each request is one cache event"
    assert sum(result["events"].get("upstream sample ok", 0) for result in results) == 1


def test_a_killed_holder_blocks_its_symbol_only_until_its_lock_expires(
    server: LocalRedis, tmp_path: Path
) -> None:
    asked, go = tmp_path / "asked", tmp_path / "go"
    go.touch()
    holder = start_worker(server.url, asked, go, "NVDA", delay=3600, deadline=1)
    give_up = time.monotonic() + 30
    while not asked_lines(asked) and time.monotonic() < give_up:  # it holds the lock and asks upstream
        time.sleep(0.01)
    os.killpg(holder.process.pid, signal.SIGKILL)
    holder.process.wait(10)
    lock = redis.Redis(port=server.port).pttl("plugin:v1:quote:lock:NVDA")
    assert lock > 0, "the dead holder's lock is still there"
    successor = start_worker(server.url, asked, go, "NVDA", deadline=1).result()
    assert successor["answers"] == [{"symbol": "NVDA", "price": 282.17, "stale": False}]
    assert [pid for pid, _ in asked_lines(asked)] == [holder.process.pid, successor["pid"]]


def test_processes_together_never_spend_more_than_the_budget(server: LocalRedis, tmp_path: Path) -> None:
    asked, go = tmp_path / "asked", tmp_path / "go"
    symbols = [
        [f"T{worker}X{n}" for n in range(6)] for worker in range(3)
    ]  # no symbol shared: each costs a call
    workers = [start_worker(server.url, asked, go, *mine, requests=2, budget=4) for mine in symbols]
    go.touch()
    results = [worker.result() for worker in workers]
    assert len(asked_lines(asked)) == 4, "a budget of 4 calls a minute, a burst of 4, for the three processes"
    refused = [a for result in results for a in result["answers"] if a.get("code") == "rate_limited"]
    assert len(refused) == 2 * (18 - 4), "each refused symbol, to both requests that asked for it"
    assert all("at most 4 times a minute" in answer["message"] for answer in refused)
    assert sum(result["events"].get("budget denied", 0) for result in results) == 18 - 4


# -- what is shared ---------------------------------------------------------------------------------------------


def test_an_unknown_symbol_is_remembered_for_every_process(server: LocalRedis) -> None:
    upstream = Scripted()
    one, two = (serving_source(settings(server), upstream=upstream) for _ in range(2))

    async def run() -> None:
        await one.get_quotes(["NOPE"])
        answer = (await two.get_quotes(["NOPE"]))["NOPE"]
        assert isinstance(answer, QuoteError) and answer.code == "unknown_symbol"
        await one.aclose()
        await two.aclose()

    asyncio.run(run())
    assert upstream.asked == ["NOPE"]


def test_the_last_good_quote_one_process_fetched_is_served_stale_by_another(server: LocalRedis) -> None:
    upstream, clock = Scripted(), Clock()
    one = serving_source(settings(server, cache_ttl=0.2), upstream=upstream, clock=clock)
    two = serving_source(settings(server, cache_ttl=0.2), upstream=upstream, clock=clock)

    async def run() -> Quote | QuoteError:
        await one.get_quotes(["AAPL"])
        await asyncio.sleep(0.3)  # the entry expires in Redis; the last good quote stays
        upstream.failing = "upstream_unavailable"
        answer = (await two.get_quotes(["AAPL"]))["AAPL"]
        await one.aclose()
        await two.aclose()
        return answer

    answer = asyncio.run(run())
    assert isinstance(answer, Quote) and answer.stale and answer.price == 169.595


def test_a_429_seen_by_one_process_starts_the_cool_down_for_all(server: LocalRedis) -> None:
    upstream = Scripted()
    one, two = (serving_source(settings(server), upstream=upstream) for _ in range(2))

    async def run() -> QuoteError | Quote:
        upstream.failing = "rate_limited"
        await one.get_quotes(["AAPL"])
        upstream.failing = None
        answer = (await two.get_quotes(["MSFT"]))["MSFT"]
        await one.aclose()
        await two.aclose()
        return answer

    answer = asyncio.run(run())
    assert isinstance(answer, QuoteError) and answer.code == "rate_limited"
    assert upstream.asked == ["AAPL"], "the second process did not ask during the cool-down"


def test_the_sample_source_spends_the_shared_budget(server: LocalRedis) -> None:
    upstream, tally = Scripted(), Tally()
    source = serving_source(settings(server, upstream_budget=2), upstream=upstream, observer=tally)

    async def run() -> dict[str, Quote | QuoteError]:
        answers = await source.get_quotes(["AAPL", "MSFT", "BTC-USD"])
        await source.aclose()
        return answers

    answers = asyncio.run(run())
    assert upstream.asked == ["AAPL", "MSFT"]
    assert isinstance(answers["BTC-USD"], QuoteError) and answers["BTC-USD"].code == "rate_limited"
    assert tally["budget denied"] == 1 and tally.events == {"miss": 3}


def test_the_near_cache_keeps_a_repeated_read_away_from_redis(server: LocalRedis) -> None:
    clock = Clock()
    source = serving_source(settings(server), upstream=Scripted(), clock=clock)

    async def run() -> tuple[int, int]:
        await source.get_quotes(["AAPL"])
        before = commands_sent(server)
        for _ in range(100):
            await source.get_quotes(["AAPL"])
        within = commands_sent(server) - before
        clock.now += 1.5  # past the near cache's 1 s
        await source.get_quotes(["AAPL"])
        after = commands_sent(server) - before - within
        await source.aclose()
        return within, after

    within, after = asyncio.run(run())
    assert within == 0, "reads within the near cache's TTL sent Redis nothing"
    assert after >= 1, "after it, Redis is asked again"


def test_each_symbol_is_one_cache_event_through_the_whole_stack(server: LocalRedis) -> None:
    tally, clock = Tally(), Clock()
    one = serving_source(settings(server), upstream=Scripted(), observer=tally, clock=clock)
    two = serving_source(settings(server), upstream=Scripted(), observer=tally, clock=clock)

    async def run() -> None:
        await asyncio.gather(*(one.get_quotes(["AAPL", "NOPE"]) for _ in range(5)))
        await asyncio.gather(*(two.get_quotes(["AAPL", "NOPE"]) for _ in range(5)))
        clock.now += 0.5
        await one.get_quotes(["AAPL", "NOPE"])
        await one.aclose()
        await two.aclose()

    asyncio.run(run())
    assert sum(tally.events.values()) == 22
    assert tally.events == {"miss": 18, "hit": 2, "negative": 2}, "waiting on a request in flight is a miss"
    assert tally.upstream == {"sample ok": 1, "sample unknown": 1}


def test_a_request_cancelled_mid_call_frees_its_locks_at_once(server: LocalRedis) -> None:
    class Hangs(Scripted):
        async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
            self.asked += symbols
            await asyncio.sleep(3600)
            raise AssertionError("never answers")

    upstream = Hangs()
    source = serving_source(settings(server), upstream=upstream)
    lock = redis.Redis(port=server.port)

    async def run() -> tuple[int, int]:
        request = asyncio.ensure_future(source.get_quotes(["AAPL"]))
        while not upstream.asked:
            await asyncio.sleep(0.01)
        held = lock.exists("plugin:v1:quote:lock:AAPL")
        request.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await request
        for _ in range(100):  # the release runs on the loop, a round trip later
            if not lock.exists("plugin:v1:quote:lock:AAPL"):
                break
            await asyncio.sleep(0.01)
        freed = 1 - lock.exists("plugin:v1:quote:lock:AAPL")
        await source.aclose()
        return held, freed

    assert asyncio.run(run()) == (1, 1)


# -- Redis going away -------------------------------------------------------------------------------------------


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "plugin.redis_link"]


def test_redis_killed_and_restarted_mid_load_costs_no_answer_and_two_log_lines(
    server: LocalRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plugin.redis_link")
    upstream = Scripted()
    source = serving_source(settings(server, near_cache_ttl=0), upstream=upstream)
    answers: list[Quote | QuoteError] = []

    async def load(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for each in await asyncio.gather(*(source.get_quotes(["AAPL", "MSFT"]) for _ in range(10))):
                answers.extend(each.values())
            await asyncio.sleep(0.02)

    async def run() -> None:
        await load(0.3)
        server.kill()
        await load(0.5)
        server.start()
        await load(1.5)  # the breaker's back-off passes, and one request finds Redis back
        await source.aclose()

    asyncio.run(run())
    assert answers and all(isinstance(answer, Quote) for answer in answers), "every request was answered"
    lines = warnings_of(caplog)
    assert len(lines) == 2, lines
    assert "did not answer" in lines[0] and "its own cache, with 60 upstream calls a minute" in lines[0]
    assert "sharing resumes" in lines[1]
    assert redis.Redis(port=server.port).exists("plugin:v1:quote:entry:AAPL"), "the cache is shared again"


def test_a_frozen_redis_costs_a_request_the_timeout_not_an_outage(
    server: LocalRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plugin.redis_link")
    source = serving_source(settings(server, near_cache_ttl=0, redis_timeout=0.1), upstream=Scripted())
    assert server.process is not None

    async def run() -> list[Quote | QuoteError]:
        await source.get_quotes(["AAPL"])
        os.kill(server.process.pid, signal.SIGSTOP)  # it accepts nothing and answers nothing
        try:
            answers = [
                (await asyncio.wait_for(source.get_quotes(["AAPL"]), timeout=10))["AAPL"] for _ in range(5)
            ]
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        await source.aclose()
        return answers

    answers = asyncio.run(run())
    assert all(isinstance(answer, Quote) for answer in answers)
    assert len(warnings_of(caplog)) == 1
    assert "TimeoutError" in warnings_of(caplog)[0]


def test_a_redis_that_is_down_at_start_is_not_an_outage_and_its_password_is_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from support import free_port

    caplog.set_level(logging.WARNING, logger="plugin.redis_link")
    url = f"redis://app:s3cret@127.0.0.1:{free_port()}/0"  # nothing listens there
    upstream = Scripted()
    source = serving_source(Settings(source="sample", redis_url=url, near_cache_ttl=0), upstream=upstream)

    async def run() -> list[Quote | QuoteError]:
        answers = [(await source.get_quotes(["AAPL"]))["AAPL"] for _ in range(20)]
        await source.aclose()
        return answers

    answers = asyncio.run(run())
    assert all(isinstance(answer, Quote) for answer in answers)
    assert upstream.asked == ["AAPL"], "the process's own cache answered the rest"
    lines = warnings_of(caplog)
    assert len(lines) == 1 and "app:***@127.0.0.1" in lines[0]
    assert "s3cret" not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "localhost:6379",
        "http://localhost:6379",
        "redis://",
        "redis://localhost:port",
        "redis://localhost/zero",
    ],
)
def test_a_bad_redis_url_is_a_start_up_error_naming_the_setting(url: str) -> None:
    with pytest.raises(SettingsError, match=r"^redis_url \(PLUGIN_REDIS_URL\): expected a Redis URL"):
        Settings.from_env({"PLUGIN_REDIS_URL": url})


def test_a_bad_redis_url_never_echoes_its_password() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(redis_url="redis//app:s3cret@localhost:6379")
    assert "s3cret" not in str(refused.value) and "app:***@localhost" in str(refused.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PLUGIN_REDIS_TIMEOUT", "0"), ("PLUGIN_REDIS_TIMEOUT", "soon"), ("PLUGIN_NEAR_CACHE_TTL", "-1")],
)
def test_the_redis_knobs_are_checked_at_start_up(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})
