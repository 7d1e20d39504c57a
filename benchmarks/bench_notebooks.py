"""How long each notebook takes under strict `pytest --nbval`, the way `make test` runs it (tests/nbval.ini).

The baseline is a one-cell notebook (`1 + 1`) in a temporary folder, run the same way: what pytest, nbval and
a fresh kernel cost before any lesson runs. Each notebook is timed once, wall clock, from `Popen` to exit,
with `PRICE_SOURCE=sample`; the baseline twice (the first warms the OS file cache), keeping the second.
The convention is that every notebook stays under 5 seconds here, kernel start-up included.

Usage::

    python benchmarks/bench_notebooks.py
    python benchmarks/bench_notebooks.py --smoke   # the one-cell notebook only: the harness works
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
from harness import PYTHON, ROOT, run_script
from report import Figure, figure

__all__ = ["LIMIT_SECONDS", "NOTEBOOKS", "figures", "measure", "one_cell_notebook", "smoke", "time_nbval"]

NOTEBOOKS = ROOT / "notebooks"
NBVAL_INI = ROOT / "tests" / "nbval.ini"
LIMIT_SECONDS = 5.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def one_cell_notebook(folder: Path) -> Path:
    """A notebook with a single code cell, `1 + 1`, and its stored output, as nbval expects."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    nb.cells = [cell]
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    path = folder / "one_cell.ipynb"
    nbformat.write(nb, path)
    return path


class NotebookFailed(RuntimeError):
    """`pytest --nbval` did not pass: a cell raised, or its output differs from the stored one."""


def time_nbval(path: Path, *, timeout: float = 60.0) -> float:
    """Seconds for `pytest PATH` to pass with tests/nbval.ini, as `make test` runs it (strict nbval,
    the unit tests' plugins off); raises NotebookFailed if it does not. The one-cell baseline runs the same way."""
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-m", "pytest", "-c", str(NBVAL_INI), "--rootdir", str(ROOT), "-q", str(path)],
        cwd=ROOT,
        env={**os.environ, "PRICE_SOURCE": "sample"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        failed = [_ANSI.sub("", line) for line in done.stdout.splitlines() if line.startswith("FAILED")]
        first = failed[0].removeprefix("FAILED ") if failed else done.stdout[-300:]
        raise NotebookFailed(f"{len(failed)} cells failed under nbval, first: {first}")
    return elapsed


def measure() -> tuple[float, dict[str, float | str]]:
    """(one-cell baseline, {notebook name: seconds, or why it failed}) for every chapter and deep dive."""
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as tmp:
        baseline_nb = one_cell_notebook(Path(tmp))
        time_nbval(baseline_nb)
        baseline = time_nbval(baseline_nb)
    timings: dict[str, float | str] = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "deep_dives").glob("*.ipynb")):
        try:
            timings[path.name] = time_nbval(path)
        except NotebookFailed as exc:  # time the others; a failing notebook is reported, not hidden
            timings[path.name] = str(exc)
    return baseline, timings


def figures(baseline: float, timings: dict[str, float | str]) -> list[Figure]:
    rows = []
    for name, seconds in timings.items():
        if isinstance(seconds, str):
            rows.append(
                Figure(
                    f"`pytest --nbval` {name}",
                    math.nan,
                    baseline,
                    "s",
                    "one-cell notebook",
                    f"report; <= {LIMIT_SECONDS:g} s",
                    False,
                    f"not timed: {seconds}",
                )
            )
            continue
        rows.append(
            figure(
                f"`pytest --nbval` {name}",
                seconds,
                baseline,
                unit="s",
                baseline_name="one-cell notebook",
                judge=lambda value, _: (f"report; <= {LIMIT_SECONDS:g} s", value <= LIMIT_SECONDS),
                note=f"{seconds - baseline:+.2f} s over the one-cell notebook",
            )
        )
    return rows


def smoke() -> None:
    """The one-cell notebook passes under nbval, so the timings measure notebooks, not a broken harness."""
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as tmp:
        time_nbval(one_cell_notebook(Path(tmp)))


def main(argv: list[str] | None = None) -> int:
    from report import markdown_table

    return run_script(
        argv, __doc__, "bench_notebooks", smoke, lambda: print(markdown_table(figures(*measure())))
    )


if __name__ == "__main__":
    raise SystemExit(main())
