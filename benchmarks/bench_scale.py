"""Scaling out: two workers with and without Redis, each figure against a baseline measured in the same run.

Every fleet is `python -m plugin serve --source sample --workers 2`, started exactly as a user starts it, with
or without `--redis` pointing at a `redis-server` this script starts on a free loopback port (`LocalRedis`, no
persistence). Requests are sent by `plugin.lab.fleet.hammer`, one connection each, all at once.
Upstream calls are read from the fleet's own `/metrics` (`plugin_upstream_calls_total`, all workers of the host).

- Upstream calls for 1,000 concurrent requests over 10 symbols: with Redis it must be exactly 10, one per
  symbol for the whole fleet; without Redis, each worker asks for itself (reported as the baseline).
- Warm throughput of `GET /get_prices?tickers=AAPL,BTC-USD`, two workers with Redis over two workers without:
  the near cache keeps Redis off the warm path (target at least 0.9x). Both fleets on the same core(s).
- The shared budget: the upstream calls of a steady minute with two workers and a budget of 60 a minute, the
  burst already spent, while requests for new symbols keep coming faster than the budget allows (target: at
  most the budget). Without Redis the sample source has no budget at all: every new symbol is asked.

Usage::

    python benchmarks/bench_scale.py            # the figures (about two minutes: the budget row runs a minute)
    python benchmarks/bench_scale.py --smoke    # correctness only, in seconds
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from harness import (
    PYTHON,
    ServerProcess,
    cpu_split,
    free_port,
    pinned,
    prices_check,
    server_process,
)
from loadgen import python_load, run_load
from report import Figure, at_least, at_most, exactly, figure

from plugin.lab.fleet import hammer, metric_totals
from plugin.lab.local_redis import LocalRedis

__all__ = ["ScaleResults", "figures", "measure", "smoke"]

WARM_PATH = "/get_prices?tickers=AAPL,BTC-USD"
READY_PATH = "/.well-known/ai-plugin.json"  # asks no price: readiness must not warm any cache
SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOGL", "META", "BTC-USD", "ETH-USD", "SPY")
WORKERS = 2
BUDGET = 60  # upstream calls a minute, the default


@contextlib.contextmanager
def fleet(redis_url: str | None, *, cpu: int | None = None, budget: int = BUDGET) -> Iterator[ServerProcess]:
    """Two workers of `python -m plugin serve --source sample` on one port, sharing through Redis when given."""
    port = free_port()
    command = [PYTHON, "-m", "plugin", "serve", "--source", "sample", "--port", str(port)]
    command += ["--workers", str(WORKERS)] + (["--redis", redis_url] if redis_url else [])
    env = {"PLUGIN_UPSTREAM_BUDGET": str(budget)}
    with server_process(command, port=port, ready_path=READY_PATH, cpu=cpu, env=env) as server:
        # The first worker answered; give every worker the same chance to be accepting before measuring.
        python_load(server.base_url + READY_PATH, connections=WORKERS * 4, total=400, duration=10)
        yield server


def upstream_calls(server: ServerProcess) -> float:
    """The fleet's `plugin_upstream_calls_total` (every label, every worker), from one scrape."""
    return metric_totals(server.base_url).get("plugin_upstream_calls_total", 0.0)


def cold_burst(server: ServerProcess, *, requests: int = 1000) -> float:
    """`requests` concurrent requests, one connection each, over `SYMBOLS`; the upstream calls they caused."""
    paths = [f"/get_prices?tickers={SYMBOLS[i % len(SYMBOLS)]}" for i in range(requests)]
    random.Random(13).shuffle(paths)
    before = upstream_calls(server)
    statuses = asyncio.run(hammer(server.base_url, paths))
    if statuses != {200: requests}:
        raise RuntimeError(f"not every request was answered 200: {statuses}\n{server.log_text()}")
    return upstream_calls(server) - before


def steady_budget(server: ServerProcess, *, seconds: float, per_second: float = 5.0) -> tuple[float, float]:
    """(upstream calls, seconds elapsed) while new symbols come at about `per_second`, after the burst is spent."""

    async def drive(prefix: str, count: int, pause: float) -> None:
        for n in range(count):
            await hammer(server.base_url, [f"/get_prices?tickers={prefix}{n:05d}"])
            await asyncio.sleep(pause)

    asyncio.run(drive("ZB", BUDGET + 20, 0.0))  # the burst: a minute's worth at once, and some refused
    started, before = time.monotonic(), upstream_calls(server)
    asyncio.run(drive("ZS", int(seconds * per_second), 1 / per_second))
    return upstream_calls(server) - before, time.monotonic() - started


@dataclass
class ScaleResults:
    calls_shared: float
    calls_apart: float
    rps_shared: float
    rps_apart: float
    budget_calls: float
    budget_seconds: float
    tool: str

    @property
    def budget_allows(self) -> float:
        """What a budget of `BUDGET` a minute refills in `budget_seconds`, plus the one token a bucket may hold."""
        return BUDGET * self.budget_seconds / 60 + 1


def measure(*, rounds: int = 2, duration: float = 5.0, budget_seconds: float = 60.0) -> ScaleResults:
    server_cpu, load_cpu = cpu_split()
    with LocalRedis(port=free_port()) as redis:
        redis_url = redis.url
        with fleet(None) as apart:
            calls_apart = cold_burst(apart)
        with fleet(redis_url) as shared:
            calls_shared = cold_burst(shared)
        best = {"apart": 0.0, "shared": 0.0}
        tool = "python"
        with fleet(None, cpu=server_cpu) as apart, fleet(redis_url, cpu=server_cpu) as shared:
            running = {"apart": apart, "shared": shared}
            with pinned(load_cpu):
                for server in running.values():  # warm, and check every answer
                    python_load(
                        server.base_url + WARM_PATH,
                        total=500,
                        duration=None,
                        check=prices_check(("AAPL", "BTC-USD")),
                    )
                for _ in range(rounds):
                    for name, server in running.items():
                        result = run_load(server.base_url + WARM_PATH, duration=duration, cpu=load_cpu)
                        if result.errors:
                            raise RuntimeError(
                                f"{name}: {result.errors} failed requests\n{server.log_text()}"
                            )
                        best[name], tool = max(best[name], result.requests_per_second), result.tool
        with fleet(redis_url) as shared:
            budget_calls, elapsed = steady_budget(shared, seconds=budget_seconds)
    return ScaleResults(calls_shared, calls_apart, best["shared"], best["apart"], budget_calls, elapsed, tool)


def figures(results: ScaleResults) -> list[Figure]:
    return [
        figure(
            "Upstream calls, 1,000 concurrent requests over 10 symbols, two workers with Redis",
            results.calls_shared,
            results.calls_apart,
            unit="calls",
            baseline_name="two workers without Redis",
            judge=exactly(10),
            note="one connection per request, all at once; counted from the fleet's /metrics",
        ),
        figure(
            "Throughput, warm cache, two workers with Redis",
            results.rps_shared,
            results.rps_apart,
            unit="req/s",
            baseline_name="two workers without Redis",
            judge=at_least(0.9),
            note=f"{results.tool}, best of alternating rounds; both fleets on the same core(s)",
        ),
        figure(
            f"Upstream calls in a steady {results.budget_seconds:.0f} s, two workers sharing a budget of 60 a minute",
            results.budget_calls,
            results.budget_allows,
            unit="calls",
            baseline_name="what the budget refills in that time",
            judge=at_most(1.0),
            note=(
                "about 5 new symbols a second after the burst was spent; the baseline is 60 a minute times the time, "
                "plus the one token a bucket may hold; without Redis the sample source has no budget at all"
            ),
        ),
    ]


def smoke() -> None:
    """Two workers with Redis: 200 concurrent requests over 10 symbols cost exactly 10 upstream calls."""
    with LocalRedis(port=free_port()) as redis, fleet(redis.url) as shared:
        assert cold_burst(shared, requests=200) == len(SYMBOLS), shared.log_text()


def main(argv: list[str] | None = None) -> int:
    from harness import run_script

    return run_script(argv, __doc__, "scale", smoke, lambda: print(*figures(measure()), sep="\n"))


if __name__ == "__main__":
    raise SystemExit(main())
