"""The prices benchmark measures what it claims: its smoke mode checks the counts, never a time."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_prices  # noqa: E402


def test_the_smoke_mode_checks_request_and_upstream_counts() -> None:
    bench_prices.smoke()


def test_single_flight_turns_one_call_per_request_into_one_per_symbol() -> None:
    calls = bench_prices.single_flight(requests=200, symbols=5, latency=0.001)
    assert (calls.requests, calls.upstream, calls.uncached) == (200, 5, 200)


def test_a_cold_batch_makes_one_chart_request_per_symbol() -> None:
    batch = bench_prices.cold_batch(size=4, latency=0.0)
    assert list(batch.chart_requests.values()) == [1, 1, 1, 1]
    assert batch.one > 0 and batch.batch > 0
