"""`make bench`: run every benchmark, print one table, and write it with the machine's details to RESULTS.md.

Each figure is a ratio against a baseline measured in the same run on the same machine; the absolute numbers
stand alongside for context. Everything runs on loopback and is bounded in time (about five minutes in all; the
scale-out figures need `redis-server`).
The HTTP figures use `wrk` where it is installed (`apt-get install wrk`) and a Python load loop otherwise.

Usage::

    python benchmarks/run.py            # the full run, about two and a half minutes
    python benchmarks/run.py --smoke    # correctness only, in seconds: what tests/test_benchmarks_smoke.py runs
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

import bench_http
import bench_memory
import bench_notebooks
import bench_scale
import bench_startup
from harness import BENCH_DIR, ROOT, machine_info
from loadgen import WRK_INSTALL_HINT, wrk_path
from report import Figure, markdown_table

RESULTS = BENCH_DIR / "RESULTS.md"


def _prices_module():  # noqa: ANN202 - a module, or None
    """`bench_prices.py` (the cold-batch and single-flight figures), owned by the prices module's authors."""
    try:
        import bench_prices
    except ImportError as exc:
        if getattr(exc, "name", None) == "bench_prices":
            return None
        raise
    return bench_prices


def _prices_figures() -> list[Figure]:
    prices = _prices_module()
    if prices is None:
        raise RuntimeError(
            "benchmarks/bench_prices.py is not there yet: no upstream-call or cold-batch figures"
        )
    return prices_figures(prices)


def prices_figures(prices, *, cold_runs: int = 3) -> list[Figure]:  # noqa: ANN001 - the bench_prices module
    """The single-flight count, and the cold batch as the median (by ratio) of `cold_runs` runs.

    One cold run takes about a second and a half; on a two-core machine its CPU-bound part (yfinance turning ten
    responses into DataFrames under the GIL) is easily stretched by anything else running, so one sample is noise.
    """
    from report import at_most, exactly, figure

    calls = prices.single_flight_calls()
    runs = sorted((prices.cold_batch() for _ in range(cold_runs)), key=lambda run: run.ratio)
    cold = runs[len(runs) // 2]
    return [
        figure(
            "Upstream calls, 1,000 concurrent requests over 10 symbols, one TTL",
            calls.upstream,
            calls.uncached,
            unit="calls",
            baseline_name="one call per request",
            judge=exactly(10),
            note=f"{calls.requests:,} requests through `CachedSource`; the baseline is measured without the cache",
        ),
        figure(
            f"Cold batch of {cold.size} symbols, fake upstream at 200 ms",
            cold.batch,
            cold.one,
            unit="s",
            baseline_name="one cold symbol",
            judge=at_most(2.0),
            note=f"median of {cold_runs} runs by ratio (all: {', '.join(f'{r.ratio:.2f}x' for r in runs)})",
        ),
    ]


SECTIONS: dict[str, Callable[[], list[Figure]]] = {
    "http": lambda: bench_http.figures(bench_http.measure()),
    "prices": _prices_figures,
    "start-up": lambda: bench_startup.figures(bench_startup.measure()),
    "memory": lambda: bench_memory.figures(bench_memory.measure()),
    "notebooks": lambda: bench_notebooks.figures(*bench_notebooks.measure()),
    "scale": lambda: bench_scale.figures(bench_scale.measure()),
}

SMOKES: dict[str, Callable[[], None]] = {
    "http": bench_http.smoke,
    "start-up": bench_startup.smoke,
    "memory": bench_memory.smoke,
    "notebooks": bench_notebooks.smoke,
    "scale": bench_scale.smoke,
}


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def results_markdown(
    figures: list[Figure], failures: dict[str, str], elapsed: float, load: tuple[float, float]
) -> str:
    """RESULTS.md: when and where, the table, how each figure was taken, and what could not be measured."""
    info = machine_info()
    lines = [
        "# Benchmark results",
        "",
        f"`make bench` on {datetime.now(UTC):%Y-%m-%d}, commit `{_commit()}`, {elapsed:.0f} s in all. Every ratio is "
        "the plugin's figure over a baseline measured in the same run on the same machine (see `benchmarks/`).",
        "",
        "| Machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in info.items()),
        f"| Load generator | {'wrk' if wrk_path() else 'Python load loop (wrk not installed)'} |",
        f"| Load average (1 min), start / end | {load[0]:.2f} / {load[1]:.2f} (other work on the machine) |",
        "",
        markdown_table(figures),
        "",
    ]
    notes = [f"- {f.name}: {f.note}" for f in figures if f.note]
    if notes:
        lines += ["How each figure was taken:", "", *notes, ""]
    if failures:
        lines += ["Not measured:", "", *(f"- {name}: {reason}" for name, reason in failures.items()), ""]
    return "\n".join(lines)


def run(sections: list[str]) -> int:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    if wrk_path() is None:
        print(WRK_INSTALL_HINT, file=sys.stderr)
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    for name in sections:
        print(f"... {name}", file=sys.stderr, flush=True)
        try:
            figures += SECTIONS[name]()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failures[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    elapsed = time.perf_counter() - started
    report = results_markdown(figures, failures, elapsed, (load_before, os.getloadavg()[0]))
    print(report)
    if set(sections) == set(SECTIONS):
        RESULTS.write_text(report)
        print(f"written to {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    return 1 if failures else 0


def smoke() -> int:
    prices = _prices_module()
    checks = dict(SMOKES)
    if prices is not None:
        checks["prices"] = prices.smoke
    for name, check in checks.items():
        started = time.perf_counter()
        check()
        print(f"smoke {name}: ok ({time.perf_counter() - started:.1f} s)")
    if prices is None:
        print("smoke prices: skipped (benchmarks/bench_prices.py is not there yet)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="correctness only, in seconds; no timings")
    parser.add_argument("--only", choices=list(SECTIONS), action="append", help="run only these (repeatable)")
    args = parser.parse_args(argv)
    if args.smoke:
        return smoke()
    return run(args.only or list(SECTIONS))


if __name__ == "__main__":
    raise SystemExit(main())
