"""The shared plumbing of the benchmarks: server processes on loopback, readiness polls, response checks.

Every server under test runs as its own process, in its own session, on a free 127.0.0.1 port, and is
killed (its whole process group) when the `with` block ends, whatever happened inside it. On a machine
with two or more cores the server is pinned to one core and the load generator to another, so they do not
take turns on the same core and the figures stay steady from run to run.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "BENCH_DIR",
    "PYTHON",
    "ROOT",
    "UVICORN_SETTINGS",
    "ServerProcess",
    "ServerStartError",
    "cpu_split",
    "free_port",
    "http_get",
    "machine_info",
    "pinned",
    "prices_check",
    "server_process",
    "wait_for_200",
]

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable

#: The uvicorn settings of `python -m plugin serve`, which every baseline server uses too.
UVICORN_SETTINGS = {
    "loop": "uvloop",
    "http": "httptools",
    "log_level": "warning",
    "access_log": False,
    "workers": 1,
}


class ServerStartError(RuntimeError):
    """A server under test exited, or did not answer 200, before its deadline."""


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_split() -> tuple[int | None, int | None]:
    """(server core, load-generator core), or (None, None) on a one-core machine or without affinity support."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None, None
    if len(cores) < 2:
        return None, None
    return cores[0], cores[1]


def http_get(url: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
    """One GET over a fresh connection; (status, body). Raises OSError when nothing listens yet."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class ServerProcess:
    """A running server under test."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    #: Seconds from `Popen` to the first 200 on the ready path (None when no ready path was given).
    ready_after: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for_200(
    url: str, process: subprocess.Popen[bytes], *, timeout: float = 20.0, poll: float = 0.01
) -> float:
    """Poll `url` every `poll` seconds until it answers 200; return the time waited. Fails fast if the process dies."""
    start = time.perf_counter()
    deadline = start + timeout
    last: object = None
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"server exited with {process.returncode} before answering {url}")
        try:
            status, body = http_get(url, timeout=2.0)
        except OSError as exc:
            last = exc
        else:
            if status == 200:
                return time.perf_counter() - start
            last = f"{status} {body[:200]!r}"
        time.sleep(poll)
    raise ServerStartError(f"{url} did not answer 200 within {timeout:g}s (last: {last})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """Run this process on `cpu` only for the duration of the block (a no-op for None)."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextlib.contextmanager
def server_process(
    command: Sequence[str],
    *,
    port: int,
    ready_path: str | None = None,
    cpu: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> Iterator[ServerProcess]:
    """Start `command` (which listens on `port`), wait for 200 on `ready_path`, and always kill it afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        log = Path(tmp) / "server.log"
        started = time.perf_counter()
        with log.open("wb") as sink:
            process = subprocess.Popen(
                list(command),
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None,
            )
        server = ServerProcess(process=process, port=port, log=log)
        try:
            if ready_path is not None:
                try:
                    wait_for_200(server.base_url + ready_path, process, timeout=timeout)
                    server.ready_after = time.perf_counter() - started
                except ServerStartError as exc:
                    raise ServerStartError(
                        f"{exc}\n--- {' '.join(command)} said:\n{server.log_text()}"
                    ) from None
            yield server
        finally:
            _stop(process)


def prices_check(symbols: Sequence[str]) -> Callable[[int, bytes], str | None]:
    """A response check for `/get_prices`: 200, JSON `{"quotes": [...], "errors": [...]}`, one quote per symbol."""
    expected = list(symbols)

    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"status {status}: {body[:200]!r}"
        try:
            payload = json.loads(body)
        except ValueError:
            return f"not JSON: {body[:200]!r}"
        if not isinstance(payload, dict) or set(payload) != {"quotes", "errors"}:
            return f"expected keys quotes and errors, got {body[:200]!r}"
        if payload["errors"]:
            return f"unexpected errors: {payload['errors']}"
        got = [quote.get("symbol") for quote in payload["quotes"]]
        if got != expected:
            return f"expected quotes for {expected}, got {got}"
        for quote in payload["quotes"]:
            if not isinstance(quote.get("price"), int | float):
                return f"quote without a numeric price: {quote}"
        return None

    return check


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    """What the figures were measured on: CPU, cores, OS, Python, and the versions that matter to speed."""
    info = {
        "CPU": _cpu_model(),
        "Cores": str(os.cpu_count()),
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    for name in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic"):
        info[name] = _version(name)
    return info


def run_script(
    argv: Sequence[str] | None, doc: str, name: str, smoke: Callable[[], None], full: Callable[[], None]
) -> int:
    """The command line every benchmark script shares: `--smoke` checks correctness only, else `full` measures."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="correctness only, no timings")
    args = parser.parse_args(argv)
    if args.smoke:
        smoke()
        print(f"{name} smoke: ok")
    else:
        full()
    return 0
