"""Start-up: from `Popen` of `python -m plugin serve --source sample` to its first 200 on `/get_prices?tickers=AAPL`.

The baseline is the least any FastAPI service pays before it can answer: `python -c "import fastapi, uvicorn"`,
timed from `Popen` to exit. Both are the median of three alternating runs; the readiness poll sleeps 10 ms.

A plugin that serves sample data must not import yfinance (and with it pandas and curl_cffi) at all. One
extra, untimed run under `python -X importtime` lists every module the process imports, including those
imported lazily while answering the first request; the figure fails if `yfinance` is among them.

Usage::

    python benchmarks/bench_startup.py
    python benchmarks/bench_startup.py --smoke   # the yfinance check only
"""

from __future__ import annotations

import re
import statistics
import subprocess
import time
from dataclasses import dataclass, replace

from harness import PYTHON, ROOT, free_port, run_script, server_process
from report import Figure, at_most, figure

__all__ = ["READY_PATH", "StartupResults", "figures", "heavy_imports", "measure", "smoke"]

READY_PATH = "/get_prices?tickers=AAPL"
#: Modules a sample-data server has no business importing.
HEAVY = ("yfinance", "pandas", "curl_cffi")


def _command(port: int, *python_flags: str) -> list[str]:
    return [PYTHON, *python_flags, "-m", "plugin", "serve", "--source", "sample", "--port", str(port)]


def plugin_start() -> float:
    """Seconds from `Popen` to the first 200 on READY_PATH."""
    port = free_port()
    with server_process(_command(port), port=port, ready_path=READY_PATH) as server:
        assert server.ready_after is not None
        return server.ready_after


def import_baseline() -> float:
    """Seconds from `Popen` to exit of `python -c "import fastapi, uvicorn"`."""
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", "import fastapi, uvicorn"], cwd=ROOT, check=True, timeout=60)
    return time.perf_counter() - started


def heavy_imports() -> list[str]:
    """The HEAVY modules imported by the time the sample server has answered its first request."""
    port = free_port()
    with server_process(_command(port, "-X", "importtime"), port=port, ready_path=READY_PATH) as server:
        log = server.log_text()
    imported = set(re.findall(r"^import time:[^|]*\|[^|]*\|\s*([\w.]+)\s*$", log, re.M))
    if "plugin" not in {name.split(".")[0] for name in imported}:
        raise RuntimeError(f"-X importtime reported no imports; cannot check for yfinance:\n{log[:2000]}")
    return [name for name in HEAVY if name in imported]


@dataclass
class StartupResults:
    plugin: list[float]
    baseline: list[float]
    heavy: list[str]


def measure(*, runs: int = 3) -> StartupResults:
    """`runs` alternating timings of each, then the import check."""
    plugin, baseline = [], []
    import_baseline()  # a first run warms the OS file cache for both
    for _ in range(runs):
        baseline.append(import_baseline())
        plugin.append(plugin_start())
    return StartupResults(plugin=plugin, baseline=baseline, heavy=heavy_imports())


def figures(results: StartupResults) -> list[Figure]:
    plugin, baseline = statistics.median(results.plugin), statistics.median(results.baseline)
    row = figure(
        "Start-up to first 200, `python -m plugin serve --source sample`",
        plugin,
        baseline,
        unit="s",
        baseline_name="`import fastapi, uvicorn`",
        judge=at_most(3.0),
        note=f"median of {len(results.plugin)}; heavy modules imported: {', '.join(results.heavy) or 'none'}",
    )
    # The target has two parts: the ratio, and no yfinance.
    return [
        replace(row, target=row.target + ", no yfinance", met=row.met and "yfinance" not in results.heavy)
    ]


def smoke() -> None:
    """The sample server starts, answers 200, and never imports yfinance."""
    heavy = heavy_imports()
    assert "yfinance" not in heavy, f"python -m plugin serve --source sample imported {heavy}"


def main(argv: list[str] | None = None) -> int:
    from report import markdown_table

    return run_script(
        argv, __doc__, "bench_startup", smoke, lambda: print(markdown_table(figures(measure())))
    )


if __name__ == "__main__":
    raise SystemExit(main())
