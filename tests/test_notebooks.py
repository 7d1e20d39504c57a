"""The workbook's conventions: names, titles, navigation, kernel, stored outputs and clean metadata."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import navigation  # noqa: E402
import run_notebooks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]


def test_notebooks_are_numbered_from_00_without_gaps() -> None:
    assert NOTEBOOKS, "the workbook has no notebooks"
    for path in NOTEBOOKS:
        assert navigation.NAME.match(path.name), f"{path.name}: expected NN_slug.ipynb"
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))), f"numbering has gaps: {numbers}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_has_a_title_and_fresh_navigation(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    navigation.title_of(nb, path)
    line = navigation.navigation_lines(NOTEBOOKS)[path]
    assert nb.cells[0].source == line, f"{path.name}: top navigation is stale (make notebooks)"
    assert nb.cells[-1].source == line, f"{path.name}: bottom navigation is stale (make notebooks)"
    for target in re.findall(r"\]\(([^)#]+\.ipynb)\)", line):
        assert (path.parent / target).exists(), f"{path.name}: link to missing {target}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_executed_and_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    cleaned = run_notebooks.clean(nbformat.read(path, as_version=4))
    assert cleaned == nb, f"{path.name}: metadata not clean (run `make notebooks`)"
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    unrun = [i for i, c in enumerate(nb.cells) if c in code and c.execution_count is None]
    assert not unrun, f"{path.name}: cells {unrun} have no stored output (run `make notebooks`)"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not executed top to bottom in one run"
