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

from workbook import exporter  # noqa: E402

CHAPTERS = navigation.notebooks()
DEEP_DIVES = navigation.deep_dives()
NOTEBOOKS = CHAPTERS + DEEP_DIVES
IDS = [p.name for p in NOTEBOOKS]
#: What the chapters may hold in all, in non-blank lines of code: the lesson, with the machinery in deep dives.
CHAPTER_CODE_BUDGET = 2500


def test_notebooks_are_numbered_from_00_without_gaps() -> None:
    assert CHAPTERS, "the workbook has no chapters"
    stray = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} - {p.name for p in CHAPTERS}
    assert not stray, f"chapters are named NN_slug.ipynb: {sorted(stray)}"
    stray = {p.name for p in (ROOT / "notebooks" / "deep_dives").glob("*.ipynb")} - {
        p.name for p in DEEP_DIVES
    }
    assert not stray, f"deep dives are named NNx_slug.ipynb: {sorted(stray)}"
    numbers = [int(p.name[:2]) for p in CHAPTERS]
    assert numbers == list(range(len(numbers))), f"numbering has gaps: {numbers}"


def test_the_learners_folders_hold_only_notebooks() -> None:
    for folder in (ROOT / "notebooks", ROOT / "notebooks" / "deep_dives"):
        others = [p.name for p in folder.iterdir() if p.is_file() and p.suffix != ".ipynb"]
        assert not others, (
            f"{folder.name}/: only notebooks for the learner to see, no test configuration: {others}"
        )


def _code_lines(cell: nbformat.NotebookNode) -> int:
    return sum(1 for line in cell.source.splitlines() if line.strip())


@pytest.mark.parametrize(
    ("paths", "limit"), [(CHAPTERS, 30), (DEEP_DIVES, 60)], ids=["chapters", "deep dives"]
)
def test_code_cells_are_short(paths: list[Path], limit: int) -> None:
    long = [
        f"{path.name} cell {i}: {_code_lines(cell)} lines"
        for path in paths
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells, start=1)
        if cell.cell_type == "code" and _code_lines(cell) > limit
    ]
    assert not long, f"code cells over {limit} non-blank lines (split them, one idea each): {long}"


def test_the_chapters_stay_a_lesson_not_a_code_dump() -> None:
    total = sum(
        _code_lines(cell)
        for path in CHAPTERS
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "code"
    )
    assert total <= CHAPTER_CODE_BUDGET, (
        f"the chapters hold {total} lines of code; the hardening belongs in deep dives"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_has_a_title_and_fresh_navigation(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    navigation.title_of(nb, path)
    line = navigation.all_lines()[path]
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


def test_clean_merges_stream_chunks_however_the_kernel_flushed_them() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1); print(2)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="1\n"),
        nbformat.v4.new_output("stream", name="stdout", text="2\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warn\n"),
    ]
    nb.cells = [cell]
    outputs = run_notebooks.clean(nb).cells[0].outputs
    assert [(o.name, o.text) for o in outputs] == [("stdout", "1\n2\n"), ("stderr", "warn\n")]


def test_a_rerun_keeps_the_stored_output_of_an_unchanged_ignored_cell_only() -> None:
    def notebook(source: str, text: str) -> nbformat.NotebookNode:
        nb = nbformat.v4.new_notebook()
        timed = nbformat.v4.new_code_cell(source)
        timed.id = "timed"
        timed.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        plain = nbformat.v4.new_code_cell("print('x')")
        plain.id = "plain"
        plain.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        nb.cells = [timed, plain]
        return nb

    stored = notebook("# NBVAL_IGNORE_OUTPUT\nprint(elapsed)", "0.12 s\n")
    rerun = notebook("# NBVAL_IGNORE_OUTPUT\nprint(elapsed)", "0.15 s\n")
    run_notebooks.keep_ignored_outputs(stored, rerun)
    assert [c.outputs[0].text for c in rerun.cells] == ["0.12 s\n", "0.15 s\n"]

    edited = notebook("# NBVAL_IGNORE_OUTPUT\nprint(elapsed, 'ms')", "150 ms\n")
    run_notebooks.keep_ignored_outputs(stored, edited)
    assert edited.cells[0].outputs[0].text == "150 ms\n"

    never_run = notebook("# NBVAL_IGNORE_OUTPUT\nprint(elapsed)", "")
    never_run.cells[0].outputs = []
    first_run = notebook("# NBVAL_IGNORE_OUTPUT\nprint(elapsed)", "0.13 s\n")
    run_notebooks.keep_ignored_outputs(never_run, first_run)
    assert first_run.cells[0].outputs[0].text == "0.13 s\n"


def _exporting_step() -> dict[str, int]:
    """Each generated module (dotted, `plugin.lab.server`) and the step (chapter number) whose notebook writes it."""
    steps = {}
    for path in NOTEBOOKS:
        for name in exporter.collect([path], ROOT / "notebooks"):
            steps[f"plugin.{name}"] = int(path.name[:2])
    return steps


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_notebook_uses_only_its_own_step_and_earlier_ones(path: Path) -> None:
    steps = _exporting_step()
    nb = nbformat.read(path, as_version=4)
    imported = {
        module
        for cell in nb.cells
        if cell.cell_type == "code"
        for module in re.findall(r"^\s*(?:from|import) (plugin(?:\.\w+)+)", cell.source, flags=re.MULTILINE)
    }
    later = sorted(m for m in imported if steps.get(m, 0) > int(path.name[:2]))
    assert not later, f"{path.name} imports modules taught in later chapters: {later}"
