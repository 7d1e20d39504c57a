"""Prices: what concurrency and the cache save, against a fake Yahoo that answers in a fixed time.

(a) A cold batch of 10 symbols through `YahooSource` (the real yfinance code, talking to `tests/fakeyahoo.py`,
    which takes 200 ms per request) against one cold symbol. The symbols of a request run on a thread pool, so the
    batch should cost about one symbol's time (target: under 2x), not ten. "Cold" means never seen by this process:
    each symbol pays yfinance's timezone lookup and its chart request. The cookie handshake and the yfinance import
    are paid once, before timing.
(b) 1,000 concurrent requests, one symbol each, over 10 symbols, inside one TTL, through `CachedSource` in front of
    a counting upstream: single-flight makes exactly 10 upstream calls, where the 2023 tutorial's plugin made one call per
    request (1,000).

Usage::

    python benchmarks/bench_prices.py           # both figures, timed
    python benchmarks/bench_prices.py --smoke   # correctness only (the counts), in about a second
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakeyahoo import FakeYahoo  # noqa: E402

from plugin.cache import CachedSource  # noqa: E402
from plugin.quotes import Fundamentals, Quote, QuoteError  # noqa: E402
from plugin.sources import SampleSource  # noqa: E402
from plugin.yahoo import YahooSource  # noqa: E402

__all__ = [
    "ColdBatch",
    "SingleFlight",
    "cold_batch",
    "cold_batch_seconds",
    "cold_one_seconds",
    "single_flight",
    "single_flight_calls",
    "smoke",
]

#: Each cold measurement uses symbols no earlier one has seen, so no cache of yfinance's helps it.
_fresh = itertools.count()
_RUN = uuid.uuid4().hex[:4].upper()
#: yfinance opens its on-disk cache once per process, so every measurement shares one folder that outlives them.
_CACHE_DIR = Path(tempfile.gettempdir()) / "stock-price-plugin-bench"


@dataclass(frozen=True)
class ColdBatch:
    """Seconds for one cold symbol and for a cold batch, and the chart requests the batch made per symbol."""

    one: float
    batch: float
    size: int
    chart_requests: dict[str, int]

    @property
    def ratio(self) -> float:
        return self.batch / self.one


@dataclass(frozen=True)
class SingleFlight:
    """Requests sent, upstream calls made through the cache, and calls made without it (the 2023 tutorial's way)."""

    requests: int
    symbols: int
    upstream: int
    uncached: int


def _symbols(count: int) -> list[str]:
    return [f"C{_RUN}X{next(_fresh)}" for _ in range(count)]  # short: 12 characters can look like an ISIN


def cold_batch(*, size: int = 10, latency: float = 0.2) -> ColdBatch:
    """Time one cold symbol, then a cold batch of `size`, through YahooSource and a fake Yahoo at `latency`."""
    yahoo = FakeYahoo(latency=latency)
    source = YahooSource(session=yahoo.session(), cache_dir=_CACHE_DIR)
    try:
        one, batch = _symbols(1), _symbols(size)
        for symbol in [*one, *batch]:
            yahoo.behave(symbol, "ok")
        warm = _symbols(1)[0]
        yahoo.behave(warm, "ok")
        asyncio.run(source.get_quotes([warm]))  # the import and the cookie handshake, paid once
        timings = []
        for symbols in (one, batch):
            started = time.perf_counter()
            answers = asyncio.run(source.get_quotes(symbols))
            timings.append(time.perf_counter() - started)
            failed = {s: a for s, a in answers.items() if not isinstance(a, Quote)}
            assert not failed, f"the fake Yahoo should have quoted {failed}"
    finally:
        source.close()
    return ColdBatch(timings[0], timings[1], size, {s: yahoo.chart_requests[s] for s in batch})


class _CountingSource:
    """The sample data behind an upstream that takes `latency` seconds and counts the symbols asked of it."""

    name = "counting"

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.asked = 0
        self.sample = SampleSource()

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        self.asked += len(symbols)
        await asyncio.sleep(self.latency)
        return await self.sample.get_quotes(symbols)

    async def get_fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals | QuoteError]:
        self.asked += len(symbols)
        await asyncio.sleep(self.latency)
        return await self.sample.get_fundamentals(symbols)


def single_flight(*, requests: int = 1000, symbols: int = 10, latency: float = 0.2) -> SingleFlight:
    """Send `requests` concurrent one-symbol requests over `symbols` symbols, with and without the cache."""
    names = SampleSource().symbols[:symbols]
    assert len(names) == symbols, f"the sample data has only {len(names)} symbols"
    plan = [[names[i % symbols]] for i in range(requests)]

    async def send(source: CachedSource | _CountingSource) -> None:
        answers = await asyncio.gather(*(source.get_quotes(symbols) for symbols in plan))
        assert all(isinstance(a[s[0]], Quote) for a, s in zip(answers, plan, strict=True))

    cached = CachedSource(_CountingSource(latency), ttl=30.0)
    asyncio.run(send(cached))
    uncached = _CountingSource(latency)
    asyncio.run(send(uncached))
    return SingleFlight(requests, symbols, cached.upstream_calls, uncached.asked)


# The functions benchmarks/run.py reads for the `make bench` table.


def single_flight_calls() -> SingleFlight:
    return single_flight()


_cold: ColdBatch | None = None


def _cold_batch_once() -> ColdBatch:
    global _cold
    if _cold is None:
        _cold = cold_batch()
    return _cold


def cold_batch_seconds() -> float:
    return _cold_batch_once().batch


def cold_one_seconds() -> float:
    return _cold_batch_once().one


def smoke() -> None:
    """Correctness only: one chart request per symbol of a cold batch, exactly one upstream call per symbol."""
    batch = cold_batch(size=10, latency=0.01)
    assert batch.chart_requests == {s: 1 for s in batch.chart_requests}, batch.chart_requests
    assert len(batch.chart_requests) == 10
    calls = single_flight(requests=1000, symbols=10, latency=0.01)
    assert calls.upstream == 10, (
        f"1,000 requests over 10 symbols made {calls.upstream} upstream calls, not 10"
    )
    assert calls.uncached == 1000


def report() -> None:
    """Print both figures in words, for a run of this script alone (`benchmarks/run.py` makes the table)."""
    batch = cold_batch()
    calls = single_flight()
    print(
        f"cold batch of {batch.size}: {batch.batch:.3f} s; one cold symbol: {batch.one:.3f} s; "
        f"ratio {batch.ratio:.2f}x (target < 2x); chart requests per symbol: {set(batch.chart_requests.values())}"
    )
    print(
        f"{calls.requests:,} concurrent requests over {calls.symbols} symbols: {calls.upstream} upstream calls "
        f"through the cache, {calls.uncached:,} without it (one call per request, as the 2023 tutorial's plugin made): "
        f"ratio {calls.upstream / calls.uncached:.2f}x (target: exactly {calls.symbols} calls)"
    )


def main(argv: list[str] | None = None) -> int:
    from harness import run_script

    return run_script(argv, __doc__, "bench_prices", smoke, report)


if __name__ == "__main__":
    sys.exit(main())
