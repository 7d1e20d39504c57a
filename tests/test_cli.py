"""`python -m plugin`: `serve` as a real process over real HTTP, `quote` as a user runs it, help and exit statuses."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from plugin.cli import COMMANDS, format_quotes, main
from plugin.client import PluginClient, PricesResponse
from plugin.quotes import Quote
from plugin.server import BackgroundServer

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 30.0  # seconds a server process may take to announce itself, on a slow CI machine


def plugin_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: ours, without any PLUGIN_* or PRICE_SOURCE setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGIN_") and k != "PRICE_SOURCE"}
    return {**env, "COLUMNS": "100", **extra}


def run_plugin(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plugin", *args], cwd=ROOT, env=plugin_env(**env),
        capture_output=True, text=True, timeout=60,
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
            assert not finished, f"serve exited ({self.process.poll()}) before printing {pattern!r}:\n{self.output}"
            assert time.monotonic() < deadline, f"serve printed no {pattern!r} within {DEADLINE:g} s:\n{self.output}"
            time.sleep(0.01)
        return match

    @property
    def url(self) -> str:
        return self.wait_for(r"^Serving on (http://\S+)")[1]


@contextmanager
def serve(*args: str, python_flags: Sequence[str] = (), **env: str) -> Iterator[ServeProcess]:
    """`python -m plugin serve ARGS` as a process; yields once it printed its URL; always stops it."""
    process = subprocess.Popen(
        [sys.executable, *python_flags, "-m", "plugin", "serve", *args], cwd=ROOT, env=plugin_env(**env),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- serve ---------------------------------------------------------------------------------------------------


def test_serve_on_port_zero_answers_over_real_http_and_names_the_port_it_got() -> None:
    with serve("--source", "sample", "--port", "0") as server, PluginClient(server.url) as client:
        port = httpx.URL(server.url).port
        assert port and port > 0
        answer = httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"})
        assert answer.status_code == 200
        assert answer.json()["quotes"][0]["price"] == 169.595
        assert client.get_prices(["MSFT"]).quotes[0].price == 305.41
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        # The printed links open a manifest and a spec that name this very server, port included.
        manifest_url = server.wait_for(r"^  manifest: (\S+)$")[1]
        base = manifest_url.removesuffix("/.well-known/ai-plugin.json")
        assert httpx.get(manifest_url).json()["api"]["url"] == f"{base}/openapi.yaml"
        assert httpx.get(f"{base}/openapi.json").json()["servers"] == [{"url": base}]
    assert server.output.splitlines()[:3] == [
        f"Serving on http://127.0.0.1:{port} with the embedded sample prices (offline, fixed)",
        f"  manifest: http://localhost:{port}/.well-known/ai-plugin.json",
        f"  API docs: http://localhost:{port}/docs",
    ]


def test_serve_uses_the_base_url_and_port_it_is_given() -> None:
    port = free_port()
    args = ("--source", "sample", "--port", str(port), "--base-url", "https://prices.example.com")
    with serve(*args) as server, PluginClient(server.url) as client:
        assert server.url == f"http://127.0.0.1:{port}"
        assert client.manifest()["api"]["url"] == "https://prices.example.com/openapi.yaml"


def test_serve_reads_its_settings_from_the_environment_and_flags_win() -> None:
    env = {"PRICE_SOURCE": "sample", "PLUGIN_BASE_URL": "https://env.example.com"}
    with serve("--port", "0", **env) as server, PluginClient(server.url) as client:
        assert client.get_prices(["AAPL"]).quotes[0].source == "sample"
        assert client.manifest()["api"]["url"] == "https://env.example.com/openapi.yaml"
    with serve("--port", "0", "--base-url", "https://flag.example.com", **env) as server, PluginClient(server.url) as client:
        assert client.manifest()["api"]["url"] == "https://flag.example.com/openapi.yaml"


def test_the_docs_link_starts_with_the_public_base_url_like_the_manifest() -> None:
    """/docs calls the spec's server: opened at another origin than the spec's, Try it out would be cross-origin."""
    with serve("--source", "sample", "--port", "0", "--base-url", "https://prices.example.com") as server:
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["servers"] == [{"url": "https://prices.example.com"}]
    assert "  manifest: https://prices.example.com/.well-known/ai-plugin.json" in server.output.splitlines()
    assert "  API docs: https://prices.example.com/docs" in server.output.splitlines()


def test_a_token_declares_bearer_auth_in_the_manifest_and_is_never_printed() -> None:
    args = ("--source", "sample", "--port", "0", "--token", "s3cret-token", "--verification-token", "openai-check")
    with serve(*args) as server, PluginClient(server.url, token="s3cret-token") as client:
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        auth = client.manifest()["auth"]
        assert client.get_prices(["AAPL"]).quotes[0].price == 169.595
        assert httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}).status_code == 401
    assert auth == {"type": "service_http", "authorization_type": "bearer", "verification_tokens": {"openai": "openai-check"}}
    assert "  auth:     bearer token required (service_http in the manifest)" in server.output.splitlines()
    assert "s3cret-token" not in server.output


def test_the_token_can_come_from_the_environment() -> None:
    env = {"PLUGIN_API_TOKEN": "env-token", "PLUGIN_VERIFICATION_TOKENS": '{"openai": "env-check"}'}
    with serve("--source", "sample", "--port", "0", **env) as server, PluginClient(server.url, token="env-token") as client:
        assert client.manifest()["auth"]["verification_tokens"] == {"openai": "env-check"}
    assert "env-token" not in server.output


def test_a_token_without_a_verification_token_is_a_one_line_error() -> None:
    done = run_plugin("serve", "--source", "sample", "--port", "0", "--token", "s3cret-token")
    assert done.returncode == 1
    assert done.stderr.startswith("error: invalid setting: verification_tokens (PLUGIN_VERIFICATION_TOKENS)")
    assert len(done.stderr.splitlines()) == 1
    assert "s3cret-token" not in done.stdout + done.stderr


def test_serve_stops_on_sigterm() -> None:
    with serve("--source", "sample", "--port", "0") as server:
        server.process.terminate()
        assert server.process.wait(10) in (0, -signal.SIGTERM)
        assert "Traceback" not in server.output


def test_serve_with_the_sample_source_never_imports_yfinance() -> None:
    with serve("--source", "sample", "--port", "0", python_flags=["-X", "importtime"]) as server:
        assert httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}).status_code == 200
    imported = set(re.findall(r"^import time:[^|]*\|[^|]*\|\s*([\w.]+)\s*$", server.output, re.M))
    assert "plugin.app" in imported, "no import log: the check would prove nothing"
    assert not {"yfinance", "pandas", "curl_cffi"} & imported


def test_serve_on_a_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = run_plugin("serve", "--source", "sample", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use: stop what holds it, or choose another with --port "
        "(--port 0 picks a free one)\n"
    )


def test_a_bad_setting_in_the_environment_is_a_one_line_error_naming_the_variable() -> None:
    done = run_plugin("serve", "--source", "sample", PLUGIN_CACHE_TTL="soon")
    assert done.returncode == 1
    assert done.stderr.startswith("error: invalid setting: cache_ttl (PLUGIN_CACHE_TTL): expected a number")
    assert "Traceback" not in done.stderr


def test_a_bad_base_url_flag_is_a_one_line_error() -> None:
    done = run_plugin("serve", "--source", "sample", "--base-url", "prices.example.com")
    assert done.returncode == 1
    assert done.stderr.startswith("error: invalid setting: base_url")


def test_a_port_out_of_range_is_a_usage_error() -> None:
    done = run_plugin("serve", "--port", "70000")
    assert done.returncode == 2
    assert "70000 is not a port number" in done.stderr


def test_reload_needs_a_fixed_port() -> None:
    done = run_plugin("serve", "--reload", "--port", "0", "--source", "sample")
    assert done.returncode == 1
    assert "--reload needs a fixed --port" in done.stderr


def test_serve_with_reload_serves_the_app_from_the_environment_factory() -> None:
    port = free_port()
    args = ("--reload", "--port", str(port), "--source", "sample", "--token", "s3cret-token", "--verification-token", "v")
    with serve(*args) as server:
        headers = {"Authorization": "Bearer s3cret-token"}
        deadline = time.monotonic() + DEADLINE
        while True:  # the reloader's child process imports the app after the announcement
            try:
                answer = httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}, headers=headers)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, server.output
                time.sleep(0.05)
        assert answer.json()["quotes"][0]["source"] == "sample"
        # The flags reach the reloader's child process, which reads its settings from the environment.
        assert httpx.get(f"{server.url}/.well-known/ai-plugin.json").json()["auth"]["type"] == "service_http"
        assert "Restarting when plugin/ changes" in server.output
    assert "s3cret-token" not in server.output


# -- quote ---------------------------------------------------------------------------------------------------


def test_quote_prints_the_sample_quotes_as_a_table() -> None:
    done = run_plugin("quote", "AAPL", "BTC-USD", "--source", "sample")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    header, aapl, btc = done.stdout.splitlines()
    assert header.split()[:3] == ["SYMBOL", "NAME", "PRICE"]
    assert aapl.split()[:4] == ["AAPL", "Apple", "Inc.", "169.595"]
    assert btc.split()[:4] == ["BTC-USD", "Bitcoin", "USD", "28,312.46"]
    price_column_ends = {line.index(price) + len(price) for line, price in ((header, "PRICE"), (aapl, "169.595"), (btc, "28,312.46"))}
    assert len(price_column_ends) == 1, "the price column is not right-aligned"


def test_quote_json_is_the_answer_shape_of_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "aapl", "BTC-USD", "--source", "sample", "--json"]) == 0
    answer = PricesResponse.model_validate_json(capsys.readouterr().out)
    assert [(q.symbol, q.price) for q in answer.quotes] == [("AAPL", 169.595), ("BTC-USD", 28312.46)]
    assert answer.errors == []


def test_an_unknown_symbol_exits_1_and_is_named_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "AAPL", "NOPE", "--source", "sample"]) == 1
    out, err = capsys.readouterr()
    assert "169.595" in out and "NOPE" not in out
    assert err.startswith("unknown_symbol: 'NOPE' is not in the sample data")


def test_errors_keep_the_order_of_the_input_and_repeats_count_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "NOPE", "AAPL,not a symbol", "aapl", "--source", "sample", "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert [q["symbol"] for q in answer["quotes"]] == ["AAPL"]
    assert [(e["symbol"], e["code"]) for e in answer["errors"]] == [
        ("NOPE", "unknown_symbol"),
        ("not a symbol", "invalid_symbol"),
    ]


def test_only_invalid_symbols_exit_1_without_asking_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "$$$", "--source", "yahoo"]) == 1  # yahoo: would reach the network if it were asked
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("invalid_symbol: ")


def test_too_many_symbols_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", *(f"S{i}" for i in range(26)), "--source", "sample"]) == 1
    assert capsys.readouterr().err == "error: 26 symbols: ask for at most 25 at a time\n"


def test_the_source_flag_wins_over_the_environment(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRICE_SOURCE", "yahoo")  # would reach the network, which the tests forbid
    assert main(["quote", "AAPL", "--source", "sample", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quotes"][0]["source"] == "sample"


def test_format_quotes_keeps_the_precision_of_each_price_and_marks_stale_ones() -> None:
    as_of = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)
    quotes = [
        Quote(symbol="SHIB-USD", name="Shiba Inu USD", price=0.00001234, currency="USD", as_of=as_of, kind="crypto", source="yahoo"),
        Quote(symbol="BTC-USD", price=64000.0, currency="USD", change=-1500.5, change_percent=-2.29, as_of=as_of,
              kind="crypto", source="yahoo", stale=True),
    ]
    table = format_quotes(quotes).splitlines()
    assert table[1].split()[:5] == ["SHIB-USD", "Shiba", "Inu", "USD", "0.00001234"]
    assert table[2].split() == ["BTC-USD", "64,000.00", "USD", "-1,500.50", "-2.29%", "2024-01-02", "21:00", "(stale)"]


# -- the command line as a whole -----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], *([name, "--help"] for name in COMMANDS)], ids=" ".join)
def test_every_subcommand_has_help(args: list[str]) -> None:
    done = run_plugin(*args)
    assert done.returncode == 0
    assert done.stdout.startswith(f"usage: python -m plugin {args[0] if len(args) > 1 else ''}".rstrip())


def test_mcp_help_says_it_speaks_over_stdio_and_where_http_clients_go() -> None:
    help_text = " ".join(run_plugin("mcp", "--help").stdout.split())
    assert "over stdio, for a desktop client that starts it as a subprocess" in help_text
    assert "serve answers MCP at /mcp" in help_text
    assert "--source {yahoo,sample,auto}" in help_text


def test_mcp_with_a_bad_setting_is_a_one_line_error_and_leaves_stdout_to_the_protocol() -> None:
    done = run_plugin("mcp", "--source", "sample", PLUGIN_REQUEST_DEADLINE="never")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: invalid setting: request_deadline (PLUGIN_REQUEST_DEADLINE)")


def test_mcp_ends_cleanly_when_the_client_closes_stdin_at_once() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "plugin", "mcp", "--source", "sample"], cwd=ROOT, env=plugin_env(),
        input="", capture_output=True, text=True, timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "")
    assert "Traceback" not in done.stderr


def test_quote_help_documents_its_exit_status() -> None:
    assert "exit status: 0 when every symbol was priced; 1 when any was not" in run_plugin("quote", "--help").stdout


def test_no_subcommand_is_a_usage_error() -> None:
    done = run_plugin()
    assert done.returncode == 2
    assert "the following arguments are required: COMMAND" in done.stderr


def test_importing_the_cli_loads_nothing_heavy() -> None:
    code = (
        "import sys, plugin.cli; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'pydantic', 'httpx', 'yfinance', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_app_from_env_is_the_factory_uvicorn_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRICE_SOURCE", "sample")
    monkeypatch.setenv("PLUGIN_BASE_URL", "https://prices.example.com")
    with (
        BackgroundServer("plugin.cli:app_from_env", factory=True, name="test_cli") as server,
        PluginClient(server.url) as client,
    ):
        assert client.get_prices(["AAPL"]).quotes[0].price == 169.595
        assert client.manifest()["api"]["url"] == "https://prices.example.com/openapi.yaml"


def test_serve_sets_up_logging_before_the_mcp_sdk_can_change_it() -> None:
    """The MCP SDK calls logging.basicConfig when its server is built, at the first /mcp request; serve's own set-up
    comes first, so the SDK's call changes nothing and the log format stays the same for the life of the server."""
    script = (
        "import logging, sys\n"
        "from plugin import cli\n"
        "cli._configure_logging('info')\n"
        "root = logging.getLogger()\n"
        "before = (list(root.handlers), root.level)\n"
        "from plugin.mcp import create_mcp_server\n"
        "from plugin.sources import SampleSource\n"
        "create_mcp_server(SampleSource())\n"
        "print(before == (list(root.handlers), root.level), logging.getLevelName(root.level))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "INFO"]
