"""Served throughput and p99 latency of `GET /get_prices?tickers=AAPL,BTC-USD`, warm cache, on loopback.

Three servers run side by side, each its own uvicorn process with the same settings (uvloop, httptools, log
level warning, no access log, one worker), pinned to the same core:

- the plugin, started exactly as a user starts it: `python -m plugin serve --source sample`;
- the FastAPI baseline: one async route, same validation, a prebuilt response (`baseline_apps.py fastapi`);
- the raw ASGI baseline: fixed bytes, the machine's practical ceiling (`baseline_apps.py raw`).

Every server is first checked with the Python load loop (every response 200, the right JSON for both
symbols; this also warms the plugin's cache). Then `wrk -t1 -c32 -d5s --latency` runs against each in turn,
alternating, for a few rounds; each server keeps its best round (highest req/s, lowest p99).

Usage::

    python benchmarks/bench_http.py            # the figures
    python benchmarks/bench_http.py --smoke    # correctness only, a few seconds, no wrk needed
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass

from harness import BENCH_DIR, PYTHON, cpu_split, free_port, pinned, prices_check, server_process
from loadgen import WRK_INSTALL_HINT, LoadResult, python_load, run_load, wrk_path
from report import Figure, at_least, at_most, figure, report_only

__all__ = ["PATH", "SERVERS", "HttpResults", "figures", "measure", "smoke"]

PATH = "/get_prices?tickers=AAPL,BTC-USD"
SYMBOLS = ("AAPL", "BTC-USD")


def _plugin(port: int) -> list[str]:
    return [PYTHON, "-m", "plugin", "serve", "--source", "sample", "--port", str(port)]


def _baseline(kind: str):  # noqa: ANN202 - a tiny factory of command lines
    return lambda port: [PYTHON, str(BENCH_DIR / "baseline_apps.py"), kind, "--port", str(port)]


#: name -> command line for a port
SERVERS = {"plugin": _plugin, "fastapi": _baseline("fastapi"), "raw": _baseline("raw")}


@dataclass
class HttpResults:
    """The best round per server, and how the figures were taken."""

    best: dict[str, LoadResult]
    rounds: int
    tool: str
    connections: int
    duration: float
    pinned: bool


@contextlib.contextmanager
def _servers(cpu: int | None):  # noqa: ANN202
    with contextlib.ExitStack() as stack:
        running = {}
        for name, command in SERVERS.items():
            port = free_port()
            running[name] = stack.enter_context(
                server_process(command(port), port=port, ready_path=PATH, cpu=cpu)
            )
        yield running


def _check_all(running: dict, *, total: int, connections: int) -> dict[str, LoadResult]:
    """Every server answers every request of a short Python load with 200 and the right quotes."""
    check = prices_check(SYMBOLS)
    return {
        name: python_load(
            server.base_url + PATH, connections=connections, duration=None, total=total, check=check
        )
        for name, server in running.items()
    }


def measure(*, rounds: int = 2, duration: float = 5.0, connections: int = 32) -> HttpResults:
    """Alternate the load over the three servers `rounds` times; keep each server's best round."""
    server_cpu, load_cpu = cpu_split()
    if wrk_path() is None:
        print(WRK_INSTALL_HINT)
    results: dict[str, list[LoadResult]] = {name: [] for name in SERVERS}
    with _servers(server_cpu) as running:
        with pinned(load_cpu):
            _check_all(running, total=500, connections=connections)
        for _ in range(rounds):
            for name, server in running.items():
                with pinned(load_cpu):
                    result = run_load(
                        server.base_url + PATH, connections=connections, duration=duration, cpu=load_cpu
                    )
                if result.errors:
                    raise RuntimeError(
                        f"{name}: {result.errors} failed requests under load\n{server.log_text()}"
                    )
                results[name].append(result)
    best = {
        name: LoadResult(
            tool=runs[0].tool,
            requests=max(r.requests for r in runs),
            duration=runs[0].duration,
            requests_per_second=max(r.requests_per_second for r in runs),
            p50=min(r.p50 for r in runs),
            p99=min(r.p99 for r in runs),
        )
        for name, runs in results.items()
    }
    return HttpResults(
        best=best,
        rounds=rounds,
        tool=best["plugin"].tool,
        connections=connections,
        duration=duration,
        pinned=server_cpu is not None,
    )


def figures(results: HttpResults) -> list[Figure]:
    plugin, fast, raw = (results.best[n] for n in ("plugin", "fastapi", "raw"))
    how = (
        f"{results.tool}, 1 thread, {results.connections} connections, {results.duration:g} s, "
        f"best of {results.rounds} alternating rounds (highest req/s, lowest p99)"
        + ("; server and load generator pinned to separate cores" if results.pinned else "")
    )
    return [
        figure(
            "Throughput, warm cache, `GET /get_prices?tickers=AAPL,BTC-USD`",
            plugin.requests_per_second,
            fast.requests_per_second,
            unit="req/s",
            baseline_name="minimal FastAPI",
            judge=at_least(0.8),
            note=how,
        ),
        figure(
            "Throughput, same request, vs raw ASGI fixed bytes",
            plugin.requests_per_second,
            raw.requests_per_second,
            unit="req/s",
            baseline_name="raw ASGI",
            judge=report_only,
            note="the machine's practical ceiling for one uvicorn worker",
        ),
        figure(
            f"p99 latency at {results.connections} connections, warm",
            plugin.p99 * 1000,
            fast.p99 * 1000,
            unit="ms",
            baseline_name="minimal FastAPI",
            judge=at_most(1.5),
            note=f"p50: plugin {plugin.p50 * 1000:.2f} ms, FastAPI {fast.p50 * 1000:.2f} ms, raw {raw.p50 * 1000:.2f} ms",
        ),
    ]


def smoke() -> None:
    """Start all three servers and check 300 requests each (8 connections): every one 200 and well-formed."""
    server_cpu, load_cpu = cpu_split()
    with _servers(server_cpu) as running, pinned(load_cpu):
        checked = _check_all(running, total=300, connections=8)
    for name, result in checked.items():
        assert result.requests == 300 and result.statuses == {200: 300}, (name, result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="correctness only, no timings")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.smoke:
        smoke()
        print("bench_http smoke: ok")
        return 0
    from report import markdown_table

    print(markdown_table(figures(measure(rounds=args.rounds, duration=args.duration))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
