"""What the test files share, written once: test doubles, and the one way a test starts the plugin as a process.

Test doubles behave like a real thing in a known state, never like a mock that returns what a test wants:
- `Clock`: time that moves only when a test says so.
- `DownSource`, `BrokenSource`, `CountingSource`: price sources in the states a real one can be in (an outage,
  a bug or a hang, and a healthy source whose calls are counted).
- `Tally`: an observer (`plugin.telemetry.Observer`) that counts what the cache reports, as metrics would.
- `MCP_INITIALIZE`: the first message an MCP client sends, for tests that speak MCP over HTTP or stdio.

Redis (for the tests of the shared cache, deep dive 02d):
- `needs_redis`: skips a test, saying how to install `redis-server`, where it is missing;
- `redis_server()`: a real `redis-server` on a free loopback port, nothing saved, always stopped;
- `start_worker(...)`: `tests/redis_worker.py` as a real process, one serving stack asked concurrently.

Servers:
- in the test's own process: `plugin.lab.server.BackgroundServer` (uvicorn on a thread); `static_site(...)` is an
  app for it that serves fixed files with the content types a test chooses (the fixtures of `check`);
- as users run it: `serve(...)` starts `python -m plugin serve` as a real process and waits, with a deadline, for
  the line that says where it listens; it always stops the process. `run_plugin(...)` runs any other command
  (`python -m plugin ARGS`) to its end, in an environment without the caller's settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from plugin.lab.local_redis import INSTALL_HINT, LocalRedis
from plugin.quotes import Fundamentals, Quote, QuoteError
from plugin.sources import SampleSource

__all__ = [
    "ROOT",
    "BrokenSource",
    "Clock",
    "CountingSource",
    "DownSource",
    "MCP_INITIALIZE",
    "ServeProcess",
    "Tally",
    "Worker",
    "needs_redis",
    "redis_server",
    "start_worker",
    "static_site",
    "free_port",
    "plugin_env",
    "run_plugin",
    "serve",
]

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 30.0  # seconds a server process may take to announce itself, on a slow CI machine

MCP_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


# -- time and price sources ----------------------------------------------------------------------------------


class Clock:
    """Time that moves only when a test says so: `clock.now += 60`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class DownSource:
    """Yahoo during an outage (or while it rate-limits us): every symbol comes back as an error with `code`.

    The messages are those YahooSource gives in that state, so a test can check what reaches the user.
    """

    name = "yahoo"

    def __init__(self, code: str = "upstream_unavailable") -> None:
        self.code = code

    def errors(self, symbols: Sequence[str]) -> dict[str, QuoteError]:
        """The answer for `symbols` in this state; subclasses use it for the symbols that fail."""
        message = (
            "Yahoo Finance asked us to slow down; try again in 60 s."
            if self.code == "rate_limited"
            else "Yahoo Finance cannot be reached (DNS lookup failed). Try again shortly."
        )
        return {
            s: QuoteError(symbol=s, code=self.code, message=f"No price for {s!r}: {message}") for s in symbols
        }

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        return dict(self.errors(symbols))

    async def get_fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals | QuoteError]:
        return dict(self.errors(symbols))


class BrokenSource:
    """A source with a bug: it raises instead of answering with errors, or (`hang=True`) never answers at all."""

    name = "broken"

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang

    async def _fail(self) -> NoReturn:
        if self.hang:
            await asyncio.sleep(3600)
        raise RuntimeError("secret internal detail")

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        await self._fail()

    async def get_fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals | QuoteError]:
        await self._fail()


class CountingSource(SampleSource):
    """The sample data, recording the symbols of each call that reached it (`calls`, one list a call)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        self.calls.append(list(symbols))
        return await super().get_quotes(symbols)

    async def get_fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals | QuoteError]:
        self.calls.append(list(symbols))
        return await super().get_fundamentals(symbols)


class Tally(Counter[str]):
    """An observer that counts what it hears, keyed `"hit"`, `"upstream sample ok"`, `"budget denied"`...

    `tally.events` is the cache events alone, as a plain dict, for assertions such as `{"hit": 2, "miss": 1}`.
    """

    def cache_event(self, event: str, count: int = 1) -> None:
        self[event] += count

    def upstream_call(self, source: str, outcome: str, count: int = 1) -> None:
        self[f"upstream {source} {outcome}"] += count

    def budget_denied(self, count: int = 1) -> None:
        self["budget denied"] += count

    @property
    def events(self) -> dict[str, int]:
        return {k: n for k, n in self.items() if k in ("hit", "miss", "stale", "negative") and n}

    @property
    def upstream(self) -> dict[str, int]:
        return {k.removeprefix("upstream "): n for k, n in self.items() if k.startswith("upstream ") and n}


# -- the plugin as a process ---------------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on right now, for a test that must know the port before the server starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def plugin_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: ours, without any PLUGIN_* or PRICE_SOURCE setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGIN_") and k != "PRICE_SOURCE"}
    return {**env, "COLUMNS": "100", **extra}


def run_plugin(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m plugin ARGS` to its end, in an environment without PLUGIN_* settings, plus `env`."""
    return subprocess.run(
        [sys.executable, "-m", "plugin", *args],
        cwd=ROOT,
        env=plugin_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class ServeProcess:
    """A running `serve`: its process, and everything it printed so far (read on a thread as it comes)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str) -> re.Match[str]:
        """The first match of `pattern` in the output, waiting for it; fails if the process ends or takes too long."""
        deadline = time.monotonic() + DEADLINE
        while not (match := re.search(pattern, self.output, re.M)):
            finished = self.reader is not None and not self.reader.is_alive()
            assert not finished, (
                f"serve exited ({self.process.poll()}) before printing {pattern!r}:\n{self.output}"
            )
            assert time.monotonic() < deadline, (
                f"serve printed no {pattern!r} within {DEADLINE:g} s:\n{self.output}"
            )
            time.sleep(0.01)
        return match

    @property
    def url(self) -> str:
        """The base URL from the line `Serving on URL ...` (waiting for it)."""
        return self.wait_for(r"^Serving on (http://\S+)")[1]

    def link(self, label: str) -> str:
        """The URL printed after `label:` under the first line (`manifest`, `API docs`), waiting for it."""
        return self.wait_for(rf"^  {re.escape(label)}: (\S+)$")[1]


@contextmanager
def serve(
    *args: str, python_flags: Sequence[str] = (), cwd: Path = ROOT, **env: str
) -> Iterator[ServeProcess]:
    """`python -m plugin serve ARGS` as a process; yields once it printed its URL; always stops it.

    Pass `"--port", "0"` to let it pick a free port (no race): `url` says which one it got. `env` adds to the
    environment (which has no PLUGIN_* or PRICE_SOURCE of ours); `cwd` is where it runs (the repository).
    """
    process = subprocess.Popen(
        [sys.executable, *python_flags, "-m", "plugin", "serve", *args],
        cwd=cwd,
        env=plugin_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    served = ServeProcess(process)
    served.reader = threading.Thread(target=served.read, daemon=True)
    served.reader.start()
    try:
        _ = served.url
        yield served
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the whole session: the reloader's child too
                process.wait(10)
        served.reader.join(10)


# -- Redis ---------------------------------------------------------------------------------------------------

#: Marks a test (or a module, as `pytestmark`) that needs a real `redis-server`; skipped, saying how to get one.
needs_redis = pytest.mark.skipif(not LocalRedis.available(), reason=INSTALL_HINT)


@contextmanager
def redis_server() -> Iterator[LocalRedis]:
    """A real `redis-server` on a free loopback port, empty, saving nothing; stopped (and its folder removed) after.

    Where `redis-server` is missing, the test that asked for it is skipped, with how to install it as the reason.
    """
    if not LocalRedis.available():
        pytest.skip(INSTALL_HINT)
    with LocalRedis(port=free_port()) as server:
        yield server


@dataclass
class Worker:
    """A running `tests/redis_worker.py`: `result()` waits for its JSON summary (answers, events, pid)."""

    process: subprocess.Popen[str]

    def ready(self) -> None:
        """Wait for the line that says its stack is built and it waits for the go file."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == "ready", f"worker said {line!r}, exit code {self.process.poll()}"

    def result(self, timeout: float = DEADLINE) -> dict:
        out, err = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, f"worker failed ({self.process.returncode}):\n{err}"
        return json.loads(out.strip().splitlines()[-1])


def start_worker(
    redis_url: str, asked_file: Path, go_file: Path, *symbols: str, requests: int = 1, **options: object
) -> Worker:
    """`python tests/redis_worker.py` as a process, built on `serving_source` with its own counting upstream.

    It appends each symbol it asks upstream to `asked_file` (one line, with its pid), waits for `go_file` to exist,
    sends `requests` concurrent requests for `symbols`, and prints a JSON summary. `options` become flags:
    `delay=0.3` (upstream latency), `deadline=1` (request deadline), `budget=3` (calls a minute).
    """
    flags = [f"--{name}={value}" for name, value in options.items()]
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "redis_worker.py"),
            redis_url,
            str(asked_file),
            str(go_file),
            f"--requests={requests}",
            *flags,
            *symbols,
        ],
        cwd=ROOT,
        env=plugin_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    worker = Worker(process)
    worker.ready()
    return worker


# -- fixed files, served in the test's own process ---------------------------------------------------------------


def static_site(files: Mapping[str, tuple[str, bytes]], *, cors_origins: Sequence[str] = ()) -> Any:
    """An ASGI app answering each path of `files` with its (content type, body), and 404 elsewhere.

    Serve it with `BackgroundServer`. `http://localhost:8000` in a body becomes the origin the request reached, so a
    fixture written for port 8000 works on any free port; `cors_origins` may call it from a browser (Starlette's CORS
    middleware, every method and header).
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def answer(request: Request) -> Response:
        content_type, body = files[request.url.path]
        here = f"{request.url.scheme}://{request.url.netloc}".encode()
        return Response(body.replace(b"http://localhost:8000", here), media_type=content_type)

    cors = Middleware(
        CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["*"], allow_headers=["*"]
    )
    return Starlette(
        routes=[Route(path, answer) for path in files], middleware=[cors] if cors_origins else []
    )
