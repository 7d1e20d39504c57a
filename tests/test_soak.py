"""A short soak (`tools/soak.py`; the long one is `make soak`): the served plugin under mixed load.

Counts and flatness only, never timing: no 5xx, no connection error, every request answered with the status
its kind must get, and after the warm-up the same thread count and less than 10 % more resident memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report() -> dict:
    run = subprocess.run(
        [sys.executable, "tools/soak.py", "--seconds", "5", "--connections", "16", "--warmup", "2", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.stdout, run.stderr
    return json.loads(run.stdout)


def test_every_kind_of_request_was_sent_and_answered(report: dict) -> None:
    assert report["requests"] > 0
    assert set(report["kinds"]) == {
        "prices", "prices_post", "fundamentals", "manifest", "unknown", "invalid_symbol",
        "too_many", "empty", "bad_json", "not_found", "too_long", "too_big",
    }  # fmt: skip


def test_no_5xx_no_connection_error_and_no_unexpected_status(report: dict) -> None:
    assert report["server_errors"] == 0
    assert report["connection_errors"] == 0
    assert report["unexpected"] == {}
    assert not any(status.startswith("5") for status in report["statuses"])


def test_threads_and_memory_stay_flat_after_the_warm_up(report: dict) -> None:
    assert len(report["threads_after_warmup"]) == 1, report["samples"]
    assert report["rss_growth"] < 0.10, report["samples"]


def test_the_soak_passes_and_the_server_is_gone(report: dict) -> None:
    assert report["ok"], report["problems"]
    assert report["server_pid"] > 0
    assert not Path(f"/proc/{report['server_pid']}").exists(), "the soak stops the server it started"
