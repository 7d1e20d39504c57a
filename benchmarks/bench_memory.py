"""Resident memory of the app after 200,000 requests over 5,000 distinct symbols: the cache must stay bounded.

The app is the one `create_app` builds, with its `CachedSource` (default settings: 2,048 entries) in front of
a fake upstream that knows every symbol and answers at once. Requests go straight to the ASGI callable, 32 at a
time, one symbol each, drawn at random (fixed seed) from the 5,000. Resident memory (VmRSS) is read after
`gc.collect()` once 1,000 requests are done (the baseline: everything imported, the cache partly filled) and
again after 200,000. It runs in a process of its own so that nothing else the benchmarks did is counted.

Usage::

    python benchmarks/bench_memory.py            # prints the two readings as JSON
    python benchmarks/bench_memory.py --smoke    # a few thousand requests, correctness only
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import BENCH_DIR, PYTHON, ROOT
from report import Figure, at_most, figure

__all__ = ["FakeUpstream", "MemoryResults", "figures", "measure", "rss_mb", "smoke"]

AS_OF = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


class FakeUpstream:
    """A price source that knows every symbol and answers instantly; counts the symbols it is asked for."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Any]:
        from plugin.quotes import Quote

        self.calls += len(symbols)
        return {
            s: Quote(
                symbol=s,
                name=f"{s} Holdings Inc.",
                price=101.25,
                currency="USD",
                previous_close=100.0,
                change=1.25,
                change_percent=1.25,
                as_of=AS_OF,
                exchange="NMS",
                kind="equity",
                source="yahoo",
            )
            for s in symbols
        }

    async def get_fundamentals(self, symbols: Sequence[str]) -> dict[str, Any]:
        from plugin.quotes import QuoteError

        self.calls += len(symbols)
        return {
            s: QuoteError(
                symbol=s, code="unknown_symbol", message=f"{s}: no fundamentals in the fake upstream"
            )
            for s in symbols
        }


def rss_mb() -> float:
    """This process's resident set size in MB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


async def _get(app: Any, path: str, query: str) -> tuple[int, bytes]:
    """One GET straight through the ASGI callable: no sockets, no client library, so the app is all we measure."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    body = bytearray()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # a client that never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(body)


def _check(symbol: str, status: int, body: bytes) -> None:
    if status != 200:
        raise AssertionError(f"{symbol}: status {status}: {body[:300]!r}")
    payload = json.loads(body)
    if set(payload) != {"quotes", "errors"} or payload["errors"] or len(payload["quotes"]) != 1:
        raise AssertionError(f"{symbol}: unexpected body {body[:300]!r}")
    if payload["quotes"][0]["symbol"] != symbol or payload["quotes"][0]["price"] != 101.25:
        raise AssertionError(f"{symbol}: wrong quote {payload['quotes'][0]}")


@dataclass
class MemoryResults:
    requests: int
    symbols: int
    baseline_requests: int
    rss_baseline_mb: float
    rss_after_mb: float
    distinct_symbols: int
    upstream_calls: int
    cache_upstream_calls: int
    cache_entries: int


async def _drive(
    *, requests: int, symbols: int, baseline_requests: int, concurrency: int, check_every: int, **cache: Any
) -> MemoryResults:
    from plugin.app import create_app
    from plugin.cache import CachedSource
    from plugin.settings import Settings

    upstream = FakeUpstream()
    source = CachedSource(upstream, **cache)
    app = create_app(Settings(source="sample"), source=source)
    names = [f"T{i:04d}" for i in range(symbols)]
    rng = random.Random(6)
    rss_baseline = 0.0
    seen: set[str] = set()
    async with app.router.lifespan_context(app):
        done = 0
        while done < requests:
            # Batches stop exactly at the baseline reading, then run on to the end.
            until = baseline_requests if done < baseline_requests else requests
            batch = [rng.choice(names) for _ in range(min(concurrency, until - done))]
            seen.update(batch)
            answers = await asyncio.gather(*(_get(app, "/get_prices", f"tickers={s}") for s in batch))
            for i, (symbol, (status, body)) in enumerate(zip(batch, answers, strict=True)):
                if (done + i) % check_every == 0 or status != 200:
                    _check(symbol, status, body)
            done += len(batch)
            if done == baseline_requests:
                gc.collect()
                rss_baseline = rss_mb()
    gc.collect()
    return MemoryResults(
        requests=requests,
        symbols=symbols,
        baseline_requests=baseline_requests,
        rss_baseline_mb=rss_baseline,
        rss_after_mb=rss_mb(),
        distinct_symbols=len(seen),
        upstream_calls=upstream.calls,
        cache_upstream_calls=source.upstream_calls,
        cache_entries=len(source),
    )


def measure_here(
    *, requests: int = 200_000, symbols: int = 5_000, baseline_requests: int = 1_000
) -> MemoryResults:
    """Run the measurement in this process (use `measure` for a clean one)."""
    import uvloop

    return uvloop.run(
        _drive(
            requests=requests,
            symbols=symbols,
            baseline_requests=baseline_requests,
            concurrency=32,
            check_every=97,
        )
    )


def measure() -> MemoryResults:
    """The measurement in a fresh Python process, so that only the app's memory is counted."""
    done = subprocess.run(
        [PYTHON, str(BENCH_DIR / "bench_memory.py"), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench_memory.py failed:\n{done.stderr}")
    return MemoryResults(**json.loads(done.stdout.strip().splitlines()[-1]))


def figures(results: MemoryResults) -> list[Figure]:
    return [
        figure(
            f"Resident memory after {results.requests:,} requests over {results.symbols:,} symbols",
            results.rss_after_mb,
            results.rss_baseline_mb,
            unit="MB",
            baseline_name=f"after {results.baseline_requests:,}",
            judge=at_most(1.5),
            note=(
                f"growth {results.rss_after_mb - results.rss_baseline_mb:+.1f} MB; "
                f"{results.upstream_calls:,} symbols fetched from the fake upstream; "
                f"{results.cache_entries:,} entries cached at the end"
            ),
        )
    ]


def smoke() -> None:
    """3,000 requests over 600 symbols through a 100-entry cache: all 200, right quotes, upstream calls counted."""
    import uvloop

    results = uvloop.run(
        _drive(
            requests=3_000,
            symbols=600,
            baseline_requests=1_000,
            concurrency=32,
            check_every=1,
            max_entries=100,
        )
    )
    assert results.upstream_calls == results.cache_upstream_calls, results
    # Never more than one upstream call per request; every symbol asked for was fetched at least once; and with
    # ~600 symbols through 100 slots, entries are evicted and fetched again (an unbounded cache would fetch each
    # symbol exactly once).
    assert results.distinct_symbols <= results.upstream_calls <= results.requests, results
    assert results.upstream_calls > 2 * results.distinct_symbols, f"the cache did not evict: {results}"
    assert results.cache_entries <= 100, f"the cache outgrew max_entries: {results}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="correctness only, no timings")
    parser.add_argument("--json", action="store_true", help="print the readings as one JSON line")
    args = parser.parse_args(argv)
    if args.smoke:
        smoke()
        print("bench_memory smoke: ok")
        return 0
    results = measure_here() if args.json else measure()
    if args.json:
        print(json.dumps(asdict(results)))
    else:
        from report import markdown_table

        print(markdown_table(figures(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
