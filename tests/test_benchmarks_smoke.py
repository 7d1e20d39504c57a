"""The benchmarks measure what they claim: their smoke modes check correctness, never a time (wrk not needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import needs_redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_http  # noqa: E402
import bench_memory  # noqa: E402
import bench_notebooks  # noqa: E402
import bench_scale  # noqa: E402
import bench_startup  # noqa: E402
import loadgen  # noqa: E402
import run  # noqa: E402

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:40111/get_prices?tickers=AAPL,BTC-USD
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.21ms  612.00us  14.73ms   91.20%
    Req/Sec     7.63k   301.12     7.98k    86.00%
  Latency Distribution
     50%    4.10ms
     75%    4.32ms
     90%    4.61ms
     99%    6.93ms
  37977 requests in 5.00s, 28.46MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   7593.47
Transfer/sec:      5.69MB
"""


def test_wrk_output_is_read_into_throughput_latency_and_errors() -> None:
    result = loadgen.parse_wrk(WRK_OUTPUT)
    assert result.requests == 37977
    assert result.requests_per_second == pytest.approx(7593.47)
    assert result.p50 == pytest.approx(0.00410)
    assert result.p99 == pytest.approx(0.00693)
    assert result.errors == 3


def test_unreadable_wrk_output_is_an_error_not_a_zero() -> None:
    with pytest.raises(loadgen.LoadError):
        loadgen.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_plugin_and_both_baselines_answer_every_request_with_the_right_quotes() -> None:
    bench_http.smoke()


def test_the_sample_server_starts_without_importing_yfinance() -> None:
    bench_startup.smoke()


def test_memory_run_returns_right_quotes_and_its_cache_evicts() -> None:
    bench_memory.smoke()


def test_the_one_cell_baseline_notebook_passes_under_nbval() -> None:
    bench_notebooks.smoke()


@needs_redis
def test_two_workers_sharing_redis_make_one_upstream_call_per_symbol() -> None:
    bench_scale.smoke()


def test_every_benchmark_section_has_a_smoke_mode() -> None:
    # bench_prices.py has its own smoke mode, run by tests/test_bench_prices.py; run.py --smoke runs it too.
    assert set(run.SMOKES) | {"prices"} == set(run.SECTIONS)
    assert callable(run._prices_module().smoke)
