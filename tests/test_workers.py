"""`serve --workers N`: real worker processes on one port (`plugin.workers`, deep dive 07b).

Each test starts `python -m plugin serve` as users do (`support.serve`). Which worker answers a connection is the
operating system's choice, so "both answered" is read from what differs between them: each worker has its own
cache without Redis, so each one's first request for a symbol is a cache miss of its own.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support import ROOT, free_port, plugin_env, redis_server, run_plugin, serve

from plugin.metrics import metric_total
from plugin.serve import announce, settings_environment
from plugin.settings import ENV_VARS, Settings

DEADLINE = 30.0  # seconds a test waits for processes to come or go, on a slow CI machine
WARNING = "2 workers without Redis: each keeps its own cache and its own budget"


def scrape(url: str, **headers: str) -> str:
    answer = httpx.get(f"{url}/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.text


def until_both_workers_answered(url: str, **headers: str) -> int:
    """Ask for AAPL on fresh connections until two cache misses (one a worker) are counted; return how many."""
    sent = 0
    while metric_total(scrape(url, **headers), "plugin_cache_events_total", event="miss") < 2:
        assert sent < 500, "500 requests and still one worker answering: is the second one serving?"
        answer = httpx.get(f"{url}/get_prices", params={"tickers": "AAPL"}, headers=headers)
        assert answer.status_code == 200, answer.text
        sent += 1
    return sent


def group_alive(group: int) -> bool:
    """Whether any process of process group `group` is still alive (signal 0 only asks)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def group_members(group: int) -> list[int]:
    """The processes of `group`, from /proc (Linux): the supervisor, its workers, multiprocessing's helpers."""
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat_file.parent.name))
    return members


# -- two workers, one port -----------------------------------------------------------------------------------


def test_two_workers_both_answer_and_one_scrape_counts_every_request() -> None:
    with serve("--source", "sample", "--port", "0", "--workers", "2") as server:
        sent = until_both_workers_answered(server.url)
        totals = scrape(server.url)
    assert metric_total(totals, "plugin_cache_events_total", event="miss") == 2, "one miss a worker"
    assert metric_total(totals, "plugin_requests_total", operation="getPrices", status="200") == sent
    assert metric_total(totals, "plugin_cache_events_total", event="hit") == sent - 2
    assert metric_total(totals, "plugin_upstream_calls_total", source="sample", outcome="ok") == 2


def test_several_workers_without_redis_say_so_once_at_start() -> None:
    with serve("--source", "sample", "--port", "0", "--workers", "2") as server:
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        until_both_workers_answered(server.url)
    assert server.output.count(WARNING) == 1, server.output
    assert "--redis URL (PLUGIN_REDIS_URL) shares them" in server.output
    lines = server.output.splitlines()
    assert lines.index(next(line for line in lines if WARNING in line)) < lines.index(
        next(line for line in lines if line.startswith("Serving on"))
    ), "the warning comes once, before the announcement, not from each worker"
    assert (
        "  workers:  2 processes, each with its own cache and upstream budget (--redis URL shares them)"
        in lines
    )


def test_the_number_of_workers_comes_from_the_environment_too() -> None:
    with serve("--source", "sample", "--port", "0", PLUGIN_WORKERS="2") as server:
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        until_both_workers_answered(server.url)
    assert "  workers:  2 processes" in server.output


def test_one_worker_is_one_process_and_warns_of_nothing() -> None:
    with serve("--source", "sample", "--port", "0") as server:
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        group = server.process.pid
        if Path("/proc").is_dir():
            assert group_members(group) == [server.process.pid]
    assert "workers without Redis" not in server.output
    assert "  workers:  1 process, cache and upstream budget in its memory" in server.output.splitlines()


def test_the_command_line_settings_reach_every_worker() -> None:
    token = "s3cret-token"
    args = ("--source", "sample", "--port", "0", "--workers", "2", "--base-url", "https://prices.example.com")
    authorized = {"Authorization": f"Bearer {token}"}
    with serve(*args, "--token", token, PLUGIN_MAX_SYMBOLS="3") as server:
        until_both_workers_answered(server.url, **authorized)
        for _ in range(6):  # any worker may answer each one: all of them know the flags and the variables
            manifest = httpx.get(f"{server.url}/.well-known/ai-plugin.json").json()
            assert manifest["api"]["url"] == "https://prices.example.com/openapi.yaml"
            assert httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}).status_code == 401
            too_many = httpx.get(
                f"{server.url}/get_prices", params={"tickers": "AAPL,MSFT,NVDA,TSLA"}, headers=authorized
            )
            assert too_many.status_code == 422 and "at most 3" in too_many.text
    assert token not in server.output


def test_with_redis_two_workers_share_one_cache() -> None:
    with (
        redis_server() as redis,
        serve("--source", "sample", "--port", "0", "--workers", "2", "--redis", redis.url) as server,
    ):
        server.wait_for(re.escape("Press Ctrl+C to stop."))
        for _ in range(20):
            assert httpx.get(f"{server.url}/get_prices", params={"tickers": "AAPL"}).status_code == 200
        totals = scrape(server.url)
    assert "workers without Redis" not in server.output
    assert (
        f"  workers:  2 processes, cache and upstream budget shared through Redis at {redis.url}"
        in server.output
    )
    assert metric_total(totals, "plugin_requests_total", operation="getPrices") == 20
    assert metric_total(totals, "plugin_upstream_calls_total") == 1, "one call for the whole fleet"


# -- stopping -------------------------------------------------------------------------------------------------


def test_sigterm_stops_every_worker_and_leaves_no_process_behind() -> None:
    with serve("--source", "sample", "--port", "0", "--workers", "2") as server:
        until_both_workers_answered(server.url)
        group = server.process.pid  # serve() starts it in a session of its own: its group holds every worker
        if Path("/proc").is_dir():
            assert len(group_members(group)) >= 3, "the supervisor and two workers"
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(DEADLINE) == 0
    deadline = time.monotonic() + DEADLINE
    while group_alive(group):
        assert time.monotonic() < deadline, f"still running after SIGTERM: {group_members(group)}"
        time.sleep(0.05)


def test_ctrl_c_stops_the_supervisor_and_every_worker() -> None:
    """Ctrl+C in a terminal sends SIGINT to the whole foreground group: the supervisor and each worker at once."""
    with serve("--source", "sample", "--port", "0", "--workers", "2") as server:
        until_both_workers_answered(server.url)
        group = server.process.pid
        os.killpg(group, signal.SIGINT)
        assert server.process.wait(DEADLINE) == 0
    deadline = time.monotonic() + DEADLINE
    while group_alive(group):
        assert time.monotonic() < deadline, f"still running after Ctrl+C: {group_members(group)}"
        time.sleep(0.05)
    assert "Traceback" not in server.output


def test_the_metrics_directory_is_fresh_private_and_removed_at_exit(tmp_path: Path) -> None:
    with serve("--source", "sample", "--port", "0", "--workers", "2", TMPDIR=str(tmp_path)) as server:
        until_both_workers_answered(server.url)
        (directory,) = tmp_path.glob("plugin-metrics-*")
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert list(directory.glob("counter_*.db")), "the workers count in files there"
    assert not list(tmp_path.glob("plugin-metrics-*"))


def test_a_worker_that_cannot_start_ends_serve_with_status_1_and_no_announcement(tmp_path: Path) -> None:
    script = tmp_path / "broken_workers.py"
    script.write_text(
        "from plugin.serve import bind, logging_config, uvicorn_options\n"
        "from plugin.settings import Settings\n"
        "from plugin.workers import serve_workers\n"
        "if __name__ == '__main__':\n"
        "    options = {**uvicorn_options('warning', False), 'log_config': logging_config('warning')}\n"
        "    status = serve_workers(\n"
        "        Settings(source='sample', workers=2), bind('127.0.0.1', 0), app='plugin.nowhere:factory',\n"
        "        environment={}, options=options, on_started=lambda: print('Serving on', flush=True),\n"
        "    )\n"
        "    print('status', status)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=plugin_env(), capture_output=True, text=True, timeout=60
    )
    assert done.stdout == "status 1\n", done.stderr
    assert 'Could not import module "plugin.nowhere"' in done.stderr


# -- refusals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "expected an integer from 1 to 64, got 0"),
        ("65", "expected an integer from 1 to 64, got 65"),
        ("abc", "expected an integer, got 'abc'"),
    ],
)
def test_a_bad_number_of_workers_is_one_line_naming_the_setting(value: str, expected: str) -> None:
    for done in (
        run_plugin("serve", "--source", "sample", "--port", "0", "--workers", value),
        run_plugin("serve", "--source", "sample", "--port", "0", PLUGIN_WORKERS=value),
    ):
        assert done.returncode == 1
        assert done.stderr == f"error: invalid setting: workers (PLUGIN_WORKERS): {expected}\n"
        assert "Serving on" not in done.stdout


def test_a_url_that_is_not_redis_is_one_line_naming_the_setting() -> None:
    done = run_plugin("serve", "--source", "sample", "--port", "0", "--redis", "http://localhost:6379")
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: invalid setting: redis_url (PLUGIN_REDIS_URL): expected a Redis URL"
    )
    assert len(done.stderr.splitlines()) == 1


def test_workers_and_reload_together_are_refused() -> None:
    done = run_plugin("serve", "--source", "sample", "--reload", "--port", str(free_port()), "--workers", "2")
    assert done.returncode == 1
    assert done.stderr == (
        "error: --reload runs one process, not 2 workers: leave out --workers (or PLUGIN_WORKERS) while reloading\n"
    )


def test_the_serve_help_names_the_variables_of_both_flags() -> None:
    done = run_plugin("serve", "--help")
    help_text = " ".join(done.stdout.split())
    assert (
        "--workers N worker processes on the one port, 1 to 64; default: $PLUGIN_WORKERS, else 1" in help_text
    )
    assert "--redis URL" in help_text and "default: $PLUGIN_REDIS_URL" in help_text


# -- what travels to the workers, and what is announced ------------------------------------------------------


def test_every_setting_travels_through_the_environment_and_reads_back_the_same() -> None:
    settings = Settings(
        source="sample",
        base_url="https://p.example.com",
        host="0.0.0.0",
        port=8123,
        cache_ttl=12.5,
        cors_origins=("https://a.example.com", "https://b.example.com"),
        max_symbols=7,
        request_deadline=3.0,
        upstream_budget=30,
        retry_after=20,
        max_body_bytes=4096,
        max_query_bytes=1024,
        mcp_startup_timeout=5.0,
        api_token="t",
        verification_tokens={"openai": "v"},
        cache_dir=Path("/tmp/yf"),
        workers=3,
        redis_url="redis://:pw@cache.internal:6379/2",
        redis_timeout=0.5,
        near_cache_ttl=2.0,
    )
    differing = [name for name in ENV_VARS if getattr(settings, name) == getattr(Settings(), name)]
    assert differing == [], f"the test should set every setting to a value of its own: {differing}"
    env = settings_environment(settings)
    assert set(env) == set(ENV_VARS.values())
    assert Settings.from_env(env) == settings


def test_a_variable_of_the_shell_cannot_override_a_flag_in_the_workers() -> None:
    shell = {"PRICE_SOURCE": "yahoo", "PLUGIN_BASE_URL": "https://shell.example.com", "PLUGIN_WORKERS": "8"}
    flags = Settings(source="auto", workers=2)  # auto and no base URL: the defaults, given on purpose
    assert Settings.from_env({**shell, **settings_environment(flags)}) == flags


def test_the_announcement_names_the_workers_and_redis_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    announce(Settings(source="sample", workers=3, redis_url="redis://:s3cret@cache.internal:6379/0"))
    printed = capsys.readouterr().out
    assert "  workers:  3 processes, cache and upstream budget shared through Redis at " in printed
    assert "redis://:***@cache.internal:6379/0" in printed
    assert "s3cret" not in printed
    assert "  metrics:  http://localhost:8000/metrics" in printed
