"""`python -m plugin`: `serve` as a real process over HTTP, `quote` as a user runs it, help, exit statuses.

Every limit and default comes from `Settings`: the tests set them through the environment, as a user does.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from support import MCP_INITIALIZE, ROOT, ServeProcess, free_port, plugin_env, run_plugin, serve

from plugin.cli import COMMANDS, format_quotes, main
from plugin.manifest_rules import VERIFICATION_TOKEN_PLACEHOLDER
from plugin.pipeline import PricesResponse
from plugin.quotes import Quote
from plugin.serve import announce, app_from_env, settings_environment
from plugin.service import create_service
from plugin.settings import ENV_VARS, Settings

DEADLINE = 30.0  # seconds the reloader's child may take to import the app, on a slow CI machine


def manifest(url: str) -> dict:
    return httpx.get(f"{url}/.well-known/ai-plugin.json").json()


# -- serve ---------------------------------------------------------------------------------------------------


def test_serve_on_port_zero_answers_over_real_http_and_names_the_port_it_got() -> None:
    with serve("--source", "sample", "--port", "0") as server:
        port = httpx.URL(server.url).port
        assert port and port > 0
        answer = httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"})
        assert answer.status_code == 200
        assert answer.json()["quotes"][0]["price"] == 169.595
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        # The printed links open a manifest and a spec that name this very server, port included.
        manifest_url = server.wait_for(r"^  manifest: (\S+)$")[1]
        base = manifest_url.removesuffix("/.well-known/ai-plugin.json")
        assert httpx.get(manifest_url).json()["api"]["url"] == f"{base}/openapi.yaml"
        assert httpx.get(f"{base}/openapi.json").json()["servers"] == [{"url": base}]
    assert server.output.splitlines()[:4] == [
        f"Serving on http://127.0.0.1:{port} with the embedded sample prices (offline, fixed)",
        f"  manifest: http://localhost:{port}/.well-known/ai-plugin.json",
        f"  API docs: http://localhost:{port}/docs",
        f"  MCP:      http://localhost:{port}/mcp",
    ]


def test_serve_serves_mcp_at_the_address_it_prints() -> None:
    """`serve` runs the whole service (create_service): /mcp answers an MCP initialize over real HTTP."""
    with serve("--source", "sample", "--port", "0") as server:
        mcp_url = server.wait_for(r"^  MCP:      (\S+)$")[1].replace("localhost", "127.0.0.1")
        headers = {"Accept": "application/json, text/event-stream"}
        answer = httpx.post(mcp_url, json=MCP_INITIALIZE, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["serverInfo"]["name"] == "stock-prices"


def test_serve_uses_the_base_url_and_port_it_is_given() -> None:
    port = free_port()
    args = ("--source", "sample", "--port", str(port), "--base-url", "https://prices.example.com")
    with serve(*args) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        assert manifest(server.url)["api"]["url"] == "https://prices.example.com/openapi.yaml"


def test_serve_reads_its_settings_from_the_environment_and_flags_win() -> None:
    env = {"PRICE_SOURCE": "sample", "PLUGIN_BASE_URL": "https://env.example.com", "PLUGIN_MAX_SYMBOLS": "40"}
    with serve("--port", "0", **env) as server:
        answer = httpx.get(f"{server.url}/get_prices", params={"tickers": ",".join(["AAPL"] * 30)})
        assert answer.status_code == 200, answer.text
        assert answer.json()["quotes"][0]["source"] == "sample"
        assert manifest(server.url)["api"]["url"] == "https://env.example.com/openapi.yaml"
    with serve("--port", "0", "--base-url", "https://flag.example.com", **env) as server:
        assert manifest(server.url)["api"]["url"] == "https://flag.example.com/openapi.yaml"


def test_the_docs_link_starts_with_the_public_base_url_like_the_manifest() -> None:
    """/docs calls the spec's server: opened at another origin than the spec's, Try it out is cross-origin."""
    with serve("--source", "sample", "--port", "0", "--base-url", "https://prices.example.com") as server:
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["servers"] == [{"url": "https://prices.example.com"}]
    assert "  manifest: https://prices.example.com/.well-known/ai-plugin.json" in server.output.splitlines()
    assert "  API docs: https://prices.example.com/docs" in server.output.splitlines()


def test_a_token_declares_bearer_auth_in_the_manifest_and_is_never_printed() -> None:
    args = ("--source", "sample", "--port", "0", "--token", "s3cret-token", "--verification-token", "check")
    with serve(*args) as server:
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        auth = manifest(server.url)["auth"]
        authorized = {"Authorization": "Bearer s3cret-token"}
        answer = httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}, headers=authorized)
        assert answer.json()["quotes"][0]["price"] == 169.595
        assert httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}).status_code == 401
    expected = {
        "type": "service_http",
        "authorization_type": "bearer",
        "verification_tokens": {"openai": "check"},
    }
    assert auth == expected
    assert "  auth:     bearer token required (service_http in the manifest)" in server.output.splitlines()
    assert "s3cret-token" not in server.output


def test_the_token_can_come_from_the_environment() -> None:
    env = {"PLUGIN_API_TOKEN": "env-token", "PLUGIN_VERIFICATION_TOKENS": '{"openai": "env-check"}'}
    with serve("--source", "sample", "--port", "0", **env) as server:
        assert manifest(server.url)["auth"]["verification_tokens"] == {"openai": "env-check"}
    assert "env-token" not in server.output


PLACEHOLDER_LOGGED = (
    "WARNING   plugin.serve: before going public: auth.verification_tokens.openai is still the placeholder: "
    "replace it with the token OpenAI issues once this plugin's API token is registered"
)


def check_token_alone(server: ServeProcess, token: str) -> None:
    """A server started with an API token and no verification token: it serves, behind the token, with the
    placeholder in its manifest, and says so once in its log, however many requests it answers."""
    server.wait_for(re.escape("Press Ctrl+C to stop."))
    authorized = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        answer = httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}, headers=authorized)
        assert answer.json()["quotes"][0]["price"] == 169.595
        assert manifest(server.url)["auth"] == {
            "type": "service_http",
            "authorization_type": "bearer",
            "verification_tokens": {"openai": VERIFICATION_TOKEN_PLACEHOLDER},
        }
    assert httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}).status_code == 401
    mcp_headers = {"Accept": "application/json, text/event-stream", **authorized}
    mcp = httpx.post(f"{server.url}/mcp", json=MCP_INITIALIZE, headers=mcp_headers, timeout=30)
    assert mcp.status_code == 200
    assert server.output.splitlines().count(PLACEHOLDER_LOGGED) == 1
    assert token not in server.output
    assert "Traceback" not in server.output


def test_a_token_alone_starts_with_the_placeholder_and_logs_it_once() -> None:
    with serve("--source", "sample", "--port", "0", "--token", "s3cret-token") as server:
        check_token_alone(server, "s3cret-token")
    assert "  auth:     bearer token required (service_http in the manifest)" in server.output.splitlines()


def test_a_token_alone_from_the_environment_starts_likewise() -> None:
    with serve("--source", "sample", "--port", "0", PLUGIN_API_TOKEN="env-token") as server:
        check_token_alone(server, "env-token")


def test_with_the_real_verification_token_nothing_is_logged_about_a_placeholder() -> None:
    args = ("--source", "sample", "--port", "0", "--token", "s3cret-token", "--verification-token", "check")
    with serve(*args) as server:
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        assert manifest(server.url)["auth"]["verification_tokens"] == {"openai": "check"}
    assert "placeholder" not in server.output


def test_serve_stops_on_sigterm() -> None:
    with serve("--source", "sample", "--port", "0") as server:
        server.process.terminate()
        assert server.process.wait(10) in (0, -signal.SIGTERM)
        assert "Traceback" not in server.output


def test_serve_with_the_sample_source_never_imports_yfinance() -> None:
    with serve("--source", "sample", "--port", "0", python_flags=["-X", "importtime"]) as server:
        assert httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}).status_code == 200
    imported = set(re.findall(r"^import time:[^|]*\|[^|]*\|\s*([\w.]+)\s*$", server.output, re.M))
    assert "plugin.service" in imported, "no import log: the check would prove nothing"
    assert not {"yfinance", "pandas", "curl_cffi"} & imported


def test_serve_on_a_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = run_plugin("serve", "--source", "sample", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use: stop what holds it, or choose another with "
        "--port (--port 0 picks a free one)\n"
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


@pytest.mark.parametrize("port", ["70000", "-1", "eighty"])
def test_a_port_out_of_range_is_a_usage_error(port: str) -> None:
    done = run_plugin("serve", "--port", port)
    assert done.returncode == 2
    assert f"{port!r} is not a port number: use 0 to 65535" in done.stderr


def test_reload_needs_a_fixed_port() -> None:
    done = run_plugin("serve", "--reload", "--port", "0", "--source", "sample")
    assert done.returncode == 1
    assert "--reload needs a fixed --port" in done.stderr


def first_answer_under_reload(server: ServeProcess, *, token: str) -> httpx.Response:
    """`GET /get_prices?tickers=AAPL` once the reloader's child has imported the app (after the announcement)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            return httpx.get(
                f"{server.url}/get_prices",
                params={"tickers": "AAPL"},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.TransportError:
            assert time.monotonic() < deadline, server.output
            time.sleep(0.05)


def test_serve_with_reload_serves_the_app_from_the_environment_factory() -> None:
    port = free_port()
    args = ("--reload", "--port", str(port), "--source", "sample", "--token", "s3cret-token")
    with serve(*args, "--verification-token", "v") as server:
        answer = first_answer_under_reload(server, token="s3cret-token")
        assert answer.json()["quotes"][0]["source"] == "sample"
        # The flags reach the reloader's child process, which reads its settings from the environment.
        assert manifest(server.url)["auth"]["type"] == "service_http"
        assert "Restarting when plugin/ changes" in server.output
    assert "s3cret-token" not in server.output


def test_with_reload_the_placeholder_is_logged_once_not_in_each_restarted_process() -> None:
    port = free_port()
    with serve("--reload", "--port", str(port), "--source", "sample", "--token", "s3cret-token") as server:
        answer = first_answer_under_reload(server, token="s3cret-token")
        assert answer.status_code == 200
        auth = manifest(server.url)["auth"]
    assert auth["verification_tokens"] == {"openai": VERIFICATION_TOKEN_PLACEHOLDER}
    assert server.output.splitlines().count(PLACEHOLDER_LOGGED) == 1


def test_reload_passes_the_flags_on_under_the_variables_of_settings() -> None:
    settings = Settings(
        source="sample", base_url="https://p.example.com", api_token="t", verification_tokens={"o": "v"}
    )
    env = settings_environment(replace(settings, port=8001))
    assert Settings.from_env(env) == Settings(
        source="sample",
        base_url="https://p.example.com",
        port=8001,
        api_token="t",
        verification_tokens={"o": "v"},
    )
    assert set(env) == set(ENV_VARS.values())


def test_the_announcement_never_prints_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    announce(Settings(source="sample", api_token="s3cret-token", verification_tokens={"openai": "v"}))
    printed = capsys.readouterr().out
    assert "bearer token required" in printed
    assert "s3cret-token" not in printed


# -- quote ---------------------------------------------------------------------------------------------------


def test_quote_prints_the_sample_quotes_as_a_table() -> None:
    done = run_plugin("quote", "AAPL", "BTC-USD", "--source", "sample")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    header, aapl, btc = done.stdout.splitlines()
    assert header.split()[:3] == ["SYMBOL", "NAME", "PRICE"]
    assert aapl.split()[:4] == ["AAPL", "Apple", "Inc.", "169.595"]
    assert btc.split()[:4] == ["BTC-USD", "Bitcoin", "USD", "28312.46"]
    rows = ((header, "PRICE"), (aapl, "169.595"), (btc, "28312.46"))
    assert len({line.index(price) + len(price) for line, price in rows}) == 1, (
        "the price column is not right-aligned"
    )


def test_quote_json_is_the_answer_of_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "aapl", "BTC-USD", "--source", "sample", "--json"]) == 0
    answer = PricesResponse.model_validate_json(capsys.readouterr().out)
    api = TestClient(create_service(Settings(source="sample")))
    assert answer == PricesResponse.model_validate(api.get("/get_prices?tickers=aapl,BTC-USD").json())
    assert [(q.symbol, q.price) for q in answer.quotes] == [("AAPL", 169.595), ("BTC-USD", 28312.46)]


def test_quote_and_the_api_answer_the_same_mix_of_good_bad_and_repeated_symbols(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tickers = ["NOPE", "AAPL", "not a symbol", "aapl", "../../etc/passwd"]
    assert main(["quote", *tickers, "--source", "sample", "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    api = TestClient(create_service(Settings(source="sample")))
    assert answer == api.post("/get_prices", json={"tickers": tickers}).json()
    assert [q["symbol"] for q in answer["quotes"]] == ["AAPL"]
    assert [(e["symbol"], e["code"]) for e in answer["errors"]] == [
        ("NOPE", "unknown_symbol"),
        ("not a symbol", "invalid_symbol"),
        ("../../etc/passwd", "invalid_symbol"),
    ]


def test_an_unknown_symbol_exits_1_and_is_named_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "AAPL", "NOPE", "--source", "sample"]) == 1
    out, err = capsys.readouterr()
    assert "169.595" in out and "NOPE" not in out
    assert err.startswith("unknown_symbol: 'NOPE' is not in the sample data")


def test_a_comma_separates_symbols_as_in_the_query_string(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "AAPL,MSFT", "--source", "sample", "--json"]) == 0
    assert [q["symbol"] for q in json.loads(capsys.readouterr().out)["quotes"]] == ["AAPL", "MSFT"]


def test_only_invalid_symbols_exit_1_without_asking_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "$$$", "--source", "yahoo"]) == 1  # yahoo: would reach the network if it were asked
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("invalid_symbol: ")


def test_the_symbol_limit_is_the_one_of_settings() -> None:
    """PLUGIN_MAX_SYMBOLS=40: 30 symbols are answered one by one, 41 are refused naming 40."""
    thirty = [f"S{i}" for i in range(30)]
    done = run_plugin("quote", *thirty, "--source", "sample", "--json", PLUGIN_MAX_SYMBOLS="40")
    answer = PricesResponse.model_validate_json(done.stdout)
    assert [e.symbol for e in answer.errors] == thirty  # each one answered: unknown to the sample data
    assert {e.code for e in answer.errors} == {"unknown_symbol"}
    done = run_plugin("quote", *(f"S{i}" for i in range(41)), "--source", "sample", PLUGIN_MAX_SYMBOLS="40")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "error: 41 symbols in one request, more than the 40 allowed: split the request\n"


def test_too_many_symbols_by_default_names_the_default_limit(capsys: pytest.CaptureFixture[str]) -> None:
    limit = Settings().max_symbols
    assert main(["quote", *(f"S{i}" for i in range(limit + 1)), "--source", "sample"]) == 1
    assert capsys.readouterr().err.startswith(
        f"error: {limit + 1} symbols in one request, more than the {limit} "
    )


def test_only_commas_is_no_symbol_at_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", ",", "--source", "sample"]) == 1
    assert capsys.readouterr().err.startswith("error: no symbols given: ask for 1 to ")


def test_the_source_flag_wins_over_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRICE_SOURCE", "yahoo")  # would reach the network, which the tests forbid
    assert main(["quote", "AAPL", "--source", "sample", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quotes"][0]["source"] == "sample"


def test_format_quotes_keeps_the_digits_of_the_json_and_marks_stale_ones() -> None:
    as_of = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)
    shib = Quote(symbol="SHIB-USD", name="Shiba Inu USD", price=0.00001234, currency="USD", as_of=as_of,
                 kind="crypto", source="yahoo")  # fmt: skip
    btc = Quote(symbol="BTC-USD", price=64000.0, currency="USD", change=-1500.5, change_percent=-2.29,
                as_of=as_of, kind="crypto", source="yahoo", stale=True)  # fmt: skip
    table = format_quotes([shib, btc]).splitlines()
    assert table[1].split()[:5] == ["SHIB-USD", "Shiba", "Inu", "USD", "0.00001234"]  # not 1.234e-05
    assert table[2].split() == [
        "BTC-USD",
        "64000.0",
        "USD",
        "-1500.5",
        "-2.29%",
        "2024-01-02",
        "21:00",
        "(stale)",
    ]


def test_a_long_name_is_shortened_at_a_word_boundary() -> None:
    as_of = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)
    name = "Invesco Exchange-Traded Fund Trust II - Invesco S&P 500 Equal Weight"
    quote = Quote(
        symbol="RSP", name=name, price=150.1, currency="USD", as_of=as_of, kind="etf", source="yahoo"
    )
    match = re.search(r"Invesco.*?…", format_quotes([quote]).splitlines()[1])
    assert match, format_quotes([quote])
    shown = match[0]
    assert len(shown) <= 28
    assert name.startswith(shown.removesuffix(" …") + " ")  # cut between two words


# -- the command line as a whole -----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], *([name, "--help"] for name in COMMANDS)], ids=" ".join)
def test_every_subcommand_has_help(args: list[str]) -> None:
    done = run_plugin(*args)
    assert done.returncode == 0
    assert done.stdout.startswith(f"usage: python -m plugin {args[0] if len(args) > 1 else ''}".rstrip())


def test_the_help_names_each_default_and_variable_from_settings() -> None:
    help_text = " ".join(run_plugin("serve", "--help").stdout.split())
    defaults = Settings()
    for name, flag in (("host", "--host"), ("port", "--port"), ("source", "--source")):
        assert f"default: ${ENV_VARS[name]}, else {getattr(defaults, name)}" in help_text, flag
    for name in ("base_url", "api_token", "verification_tokens"):
        assert f"default: ${ENV_VARS[name]}" in help_text


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
        [sys.executable, "-m", "plugin", "mcp", "--source", "sample"],
        cwd=ROOT,
        env=plugin_env(),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "")
    assert "Traceback" not in done.stderr


def test_quote_help_documents_its_exit_status() -> None:
    help_text = " ".join(run_plugin("quote", "--help").stdout.split())
    assert "exit status: 0 when every symbol was priced; 1 when any was not" in help_text


def test_no_subcommand_is_a_usage_error() -> None:
    done = run_plugin()
    assert done.returncode == 2
    assert "the following arguments are required: COMMAND" in done.stderr


def test_importing_the_cli_loads_nothing_heavy() -> None:
    code = (
        "import sys, plugin.cli; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'pydantic', 'httpx', 'yfinance', 'pandas', 'mcp') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_app_from_env_is_the_whole_service_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PRICE_SOURCE", "sample")
    monkeypatch.setenv("PLUGIN_BASE_URL", "https://prices.example.com")
    monkeypatch.setenv("PLUGIN_MAX_SYMBOLS", "40")
    app = app_from_env()
    client = TestClient(app)
    assert client.get("/get_prices", params={"tickers": "AAPL"}).json()["quotes"][0]["price"] == 169.595
    assert (
        client.get("/.well-known/ai-plugin.json").json()["api"]["url"]
        == "https://prices.example.com/openapi.yaml"
    )
    assert client.get("/get_prices", params={"tickers": ",".join(["AAPL"] * 41)}).status_code == 422
    assert any(getattr(route, "path", None) == "/mcp" for route in app.routes)


def test_serve_sets_up_logging_before_the_mcp_sdk_can_change_it() -> None:
    """The MCP SDK calls logging.basicConfig when its server is built, at the first /mcp request; serve's own
    set-up comes first, so the SDK's call changes nothing and the log format stays the same while serving."""
    script = (
        "import logging\n"
        "from plugin.serve import configure_logging\n"
        "configure_logging('info')\n"
        "root = logging.getLogger()\n"
        "before = (list(root.handlers), root.level)\n"
        "from plugin.mcp import create_mcp_server\n"
        "from plugin.pipeline import Pipeline\n"
        "from plugin.settings import Settings\n"
        "create_mcp_server(Pipeline(Settings(source='sample')))\n"
        "print(before == (list(root.handlers), root.level), logging.getLevelName(root.level))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "INFO"]
