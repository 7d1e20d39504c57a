"""Soak test: the plugin served as users serve it, under steady mixed load on loopback, for a bounded time.

It starts ``python -m plugin serve --source sample --port 0``, reads the address from the line that starts
with "Serving on", and keeps ``--connections`` keep-alive connections busy for ``--seconds`` with a mix of
requests: valid ones (GET and POST prices, fundamentals, the manifest), invalid ones (one symbol more than
``Settings.max_symbols``, an empty list, broken JSON, an unknown path, a body over the limit, a query string
over the limit) and unknown symbols (from a fixed pool). Every second it reads the server's resident memory
(VmRSS) and thread count from ``/proc/PID/status``.

It passes when there was no 5xx, no connection error, no status other than the one each request must get,
and the server stayed flat after the warm-up (``--warmup`` s, default 10): resident memory grew by less than
``--max-growth`` (10 %) and the thread count did not change. The server is stopped in every case.

Usage::

    python tools/soak.py                                   # 60 s, 64 connections (make soak)
    python tools/soak.py --seconds 5 --connections 16 --warmup 2 --json   # what tests/test_soak.py runs

Loopback only, bounded in time and in connections. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from plugin.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SERVING = re.compile(r"^Serving on (http://[^\s]+)")
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class Kind:
    """One kind of request in the mix: how to write it, the status it must get, and how often it is sent."""

    name: str
    method: str
    target: str
    status: int
    weight: int
    body: bytes = b""


UNKNOWN_POOL = [f"ZQ{i:03d}" for i in range(500)]  # unknown to the sample data, and a bounded set
#: One symbol more than the server allows: it runs with the default settings (start_server clears PLUGIN_*).
TOO_MANY = ",".join(f"S{i}" for i in range(Settings().max_symbols + 1))

MIX = [
    Kind("prices", "GET", "/get_prices?tickers=AAPL,BTC-USD", 200, 30),
    Kind("prices_post", "POST", "/get_prices", 200, 10, b'{"tickers": ["MSFT", "ETH-USD", "^GSPC"]}'),
    Kind("fundamentals", "GET", "/get_fundamentals?tickers=AAPL,MSFT", 200, 8),
    Kind("manifest", "GET", "/.well-known/ai-plugin.json", 200, 2),
    Kind("unknown", "GET", "/get_prices?tickers={unknown}", 200, 15),
    Kind("invalid_symbol", "GET", "/get_prices?tickers=AAPL%3BDROP,%2e%2e%2Fetc", 200, 5),
    Kind("too_many", "GET", "/get_prices?tickers=" + TOO_MANY, 422, 5),
    Kind("empty", "GET", "/get_prices?tickers=", 422, 5),
    Kind("bad_json", "POST", "/get_prices", 422, 5, b'{"tickers": ["AAPL"'),
    Kind("not_found", "GET", "/stock_price/AAPL", 404, 5),
    Kind("too_long", "GET", "/get_prices?tickers=" + "A" * 3000, 414, 2),
    Kind("too_big", "POST", "/get_prices", 413, 1, b" " * 20_000),
]


@dataclass
class Sample:
    t: float
    rss_kb: int
    threads: int


@dataclass
class Report:
    seconds: float
    connections: int
    warmup: float
    server_pid: int = 0
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0
    connection_errors: int = 0
    samples: list[Sample] = field(default_factory=list)
    rss_growth: float = 0.0
    threads_after_warmup: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- the server ---------------------------------------------------------------------------------------------


def start_server(timeout: float = 30.0) -> tuple[subprocess.Popen[str], str]:
    """`python -m plugin serve --source sample --port 0`, and the base URL it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGIN_") and k != "PRICE_SOURCE"}
    process = subprocess.Popen(
        [sys.executable, "-m", "plugin", "serve", "--source", "sample", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:  # keeps draining the pipe afterwards, so the server never blocks on a full one
        assert process.stdout is not None
        for line in process.stdout:
            if not found and (match := SERVING.match(line)):
                found.append(match[1])
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(timeout) or not found:
        stop_server(process)
        raise RuntimeError(f"the server did not print 'Serving on' within {timeout:g} s")
    return process, found[0]


def stop_server(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def read_status(pid: int) -> tuple[int, int]:
    """(VmRSS in kB, Threads) of a process, from /proc/PID/status."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()
    return int(fields["VmRSS"][0]), int(fields["Threads"][0])


# --- the load -----------------------------------------------------------------------------------------------


def render(kind: Kind, host: str, rng: random.Random) -> bytes:
    target = kind.target.replace("{unknown}", rng.choice(UNKNOWN_POOL))
    head = f"{kind.method} {target} HTTP/1.1\r\nHost: {host}\r\n"
    if kind.method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(kind.body)}\r\n"
    return head.encode() + b"\r\n" + kind.body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response, and whether the server will close the connection after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close"


async def connection(host: str, port: int, until: float, report: Report, seed: int) -> None:
    """One client connection, kept alive, sending requests back to back until `until`."""
    rng = random.Random(seed)
    kinds, weights = MIX, [kind.weight for kind in MIX]
    reader = writer = None
    while time.monotonic() < until:
        kind = rng.choices(kinds, weights)[0]
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), REQUEST_TIMEOUT)
            writer.write(render(kind, f"{host}:{port}", rng))
            await writer.drain()
            status, closing = await asyncio.wait_for(read_response(reader), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            report.connection_errors += 1
            status, closing = None, True
        else:
            report.requests += 1
            report.statuses[str(status)] = report.statuses.get(str(status), 0) + 1
            report.by_kind[kind.name] = report.by_kind.get(kind.name, 0) + 1
            if status >= 500:
                report.server_errors += 1
            if status != kind.status:
                key = f"{kind.name}: {status}"
                report.unexpected[key] = report.unexpected.get(key, 0) + 1
        if closing and writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            reader = writer = None
    if writer is not None:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def sample_every_second(pid: int, started: float, until: float, report: Report) -> None:
    while True:
        rss, threads = read_status(pid)
        report.samples.append(Sample(round(time.monotonic() - started, 1), rss, threads))
        if time.monotonic() >= until:
            return
        await asyncio.sleep(min(1.0, max(0.0, until - time.monotonic())))


async def load(url: str, pid: int, report: Report) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    started = time.monotonic()
    until = started + report.seconds
    await asyncio.gather(
        sample_every_second(pid, started, until, report),
        *(connection(host, port, until, report, seed) for seed in range(report.connections)),
    )


# --- the verdict --------------------------------------------------------------------------------------------


def judge(report: Report, max_growth: float) -> None:
    if report.requests == 0:
        report.problems.append("no request was answered")
    if report.server_errors:
        report.problems.append(f"{report.server_errors} answers were 5xx")
    if report.connection_errors:
        report.problems.append(f"{report.connection_errors} connection errors")
    if report.unexpected:
        report.problems.append(f"unexpected statuses: {report.unexpected}")
    steady = [s for s in report.samples if s.t >= report.warmup]
    if len(steady) < 2:
        report.problems.append(f"fewer than 2 samples after the {report.warmup:g} s warm-up: run longer")
        return
    base = steady[0]
    report.rss_growth = round((max(s.rss_kb for s in steady) - base.rss_kb) / base.rss_kb, 4)
    report.threads_after_warmup = sorted({s.threads for s in steady})
    if report.rss_growth >= max_growth:
        report.problems.append(
            f"resident memory grew {report.rss_growth:.1%} after the warm-up (limit {max_growth:.0%})"
        )
    if len(report.threads_after_warmup) != 1:
        report.problems.append(f"the thread count changed after the warm-up: {report.threads_after_warmup}")


def summary(report: Report) -> str:
    first, last = report.samples[0], report.samples[-1]
    lines = [
        f"{report.requests:,} requests in {report.seconds:g} s over {report.connections} connections",
        f"statuses: {dict(sorted(report.statuses.items()))}",
        f"5xx: {report.server_errors}, connection errors: {report.connection_errors}, "
        f"unexpected: {sum(report.unexpected.values())}",
        f"memory: {first.rss_kb / 1024:.1f} MB at start, {last.rss_kb / 1024:.1f} MB at the end, "
        f"{report.rss_growth:+.1%} after the {report.warmup:g} s warm-up",
        f"threads after the warm-up: {report.threads_after_warmup}",
        "PASS" if report.ok else "FAIL: " + "; ".join(report.problems),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="how long to load the server (default 60)"
    )
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds before memory must stay flat (10)"
    )
    parser.add_argument(
        "--max-growth", type=float, default=0.10, help="allowed RSS growth after warm-up (0.10)"
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 600 or not 0 < args.connections <= 256:
        parser.error("--seconds must be in (0, 600] and --connections in (0, 256]: the soak is bounded")
    report = Report(seconds=args.seconds, connections=args.connections, warmup=args.warmup)
    process, url = start_server()
    report.server_pid = process.pid
    try:
        asyncio.run(load(url, process.pid, report))
    finally:
        stop_server(process)
    judge(report, args.max_growth)
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok, "kinds": dict(Counter(report.by_kind))}))
    else:
        print(summary(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
