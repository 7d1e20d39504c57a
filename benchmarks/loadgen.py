"""Drive an HTTP server on loopback: `wrk` when installed, a bounded Python load loop otherwise.

`wrk` is the load generator of record: it is written in C, so on a two-core machine it leaves the server
nearly a whole core. The Python loop exists so that the benchmarks (and their smoke test) still run where
`wrk` is not installed; it speaks just enough HTTP/1.1 keep-alive over raw asyncio streams to be several
times faster than an HTTP client library, and it can check every response body, which `wrk` cannot.

Both return a `LoadResult`. Usage as a script::

    python benchmarks/loadgen.py http://127.0.0.1:8000/get_prices?tickers=AAPL --connections 32 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "LoadError",
    "LoadResult",
    "parse_wrk",
    "python_load",
    "run_load",
    "run_wrk",
    "wrk_path",
]

WRK_INSTALL_HINT = "wrk is not installed (apt-get install wrk); using the slower Python load loop instead"


class LoadError(RuntimeError):
    """The load run failed: the server refused connections, answered non-2xx, or sent a malformed body."""


@dataclass
class LoadResult:
    """What one load run measured. Latencies are in seconds."""

    tool: str
    requests: int
    duration: float
    requests_per_second: float
    p50: float
    p99: float
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def wrk_path() -> str | None:
    """The `wrk` executable, or None when it is not installed."""
    return shutil.which("wrk")


# --- wrk --------------------------------------------------------------------------------------------------

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
_LATENCY = re.compile(r"^\s*(?P<pct>50|99)(?:\.0+)?%\s+(?P<value>[\d.]+)(?P<unit>us|ms|s|m)\s*$", re.M)
_RPS = re.compile(r"^Requests/sec:\s+(?P<value>[\d.]+)", re.M)
_TOTAL = re.compile(r"^\s*(?P<count>\d+) requests in (?P<value>[\d.]+)(?P<unit>us|ms|s|m)", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(?P<count>\d+)")
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (?P<connect>\d+), read (?P<read>\d+), write (?P<write>\d+), timeout (?P<timeout>\d+)"
)


def parse_wrk(output: str) -> LoadResult:
    """Read Requests/sec, the 50% and 99% latency lines and the error counts from `wrk --latency` output."""
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    latencies = {m["pct"]: float(m["value"]) * _UNITS[m["unit"]] for m in _LATENCY.finditer(output)}
    if not (rps and total and {"50", "99"} <= latencies.keys()):
        raise LoadError(f"could not parse wrk output:\n{output}")
    errors = 0
    if non_2xx := _NON_2XX.search(output):
        errors += int(non_2xx["count"])
    if socket_errors := _SOCKET_ERRORS.search(output):
        errors += sum(int(v) for v in socket_errors.groupdict().values())
    return LoadResult(
        tool="wrk",
        requests=int(total["count"]),
        duration=float(total["value"]) * _UNITS[total["unit"]],
        requests_per_second=float(rps["value"]),
        p50=latencies["50"],
        p99=latencies["99"],
        errors=errors,
    )


def run_wrk(url: str, *, connections: int = 32, duration: float = 5.0, cpu: int | None = None) -> LoadResult:
    """`wrk -t1 -cN -dDs --latency URL`, one thread (the server needs the other core), pinned to `cpu` if given."""
    wrk = wrk_path()
    if wrk is None:
        raise LoadError(WRK_INSTALL_HINT)
    command = [wrk, "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", url]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, check=False)
    if done.returncode != 0:
        raise LoadError(f"wrk exited with {done.returncode}: {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


# --- the Python load loop ------------------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response (Content-Length or chunked body); return its status and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, bytes(body)
            body += chunk[:-2]
    raise LoadError(f"response without Content-Length or chunked body: {lines[0]}")


async def _python_load(
    url: str,
    connections: int,
    duration: float | None,
    total: int | None,
    check: Callable[[int, bytes], str | None] | None,
) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    problems: list[str] = []
    remaining = [total if total is not None else -1]
    start = time.perf_counter()
    deadline = start + duration if duration is not None else float("inf")

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline and remaining[0] != 0:
                remaining[0] -= 1
                sent = time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                latencies.append(time.perf_counter() - sent)
                statuses[status] = statuses.get(status, 0) + 1
                if check is not None and (problem := check(status, body)):
                    problems.append(problem)
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    if not latencies:
        raise LoadError(f"no response from {url}")
    if problems:
        raise LoadError(f"{len(problems)} bad responses from {url}, first: {problems[0]}")
    latencies.sort()
    errors = sum(n for s, n in statuses.items() if not 200 <= s < 400)
    return LoadResult(
        tool="python",
        requests=len(latencies),
        duration=elapsed,
        requests_per_second=len(latencies) / elapsed,
        p50=latencies[len(latencies) // 2],
        p99=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        errors=errors,
        statuses=statuses,
    )


def python_load(
    url: str,
    *,
    connections: int = 32,
    duration: float | None = 5.0,
    total: int | None = None,
    check: Callable[[int, bytes], str | None] | None = None,
) -> LoadResult:
    """Keep `connections` keep-alive connections busy until `duration` seconds or `total` requests are done.

    `check(status, body)` returns a description of what is wrong with a response, or None; any problem makes
    the run raise `LoadError`, so a smoke run proves every response was right.
    """
    if duration is None and total is None:
        raise ValueError("bound the load: give a duration, a total, or both")
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] brings uvloop; plain asyncio is only slower
        return asyncio.run(_python_load(url, connections, duration, total, check))
    return uvloop.run(_python_load(url, connections, duration, total, check))


def run_load(url: str, *, connections: int = 32, duration: float = 5.0, cpu: int | None = None) -> LoadResult:
    """Measure with `wrk` when it is installed, else with the Python loop (say so once, on the way)."""
    if wrk_path() is not None:
        return run_wrk(url, connections=connections, duration=duration, cpu=cpu)
    return python_load(url, connections=connections, duration=duration)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--python", action="store_true", help="use the Python loop even if wrk is installed")
    args = parser.parse_args(argv)
    if args.python or wrk_path() is None:
        if not args.python:
            print(WRK_INSTALL_HINT)
        result = python_load(args.url, connections=args.connections, duration=args.duration)
    else:
        result = run_wrk(args.url, connections=args.connections, duration=args.duration)
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
