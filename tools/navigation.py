"""Write the "< previous | contents | next >" line at the top and bottom of every notebook.

Like the *Python Data Science Handbook*, each notebook opens and closes with a one-line navigation cell, generated
from the notebooks' file names and title cells so that it never goes stale. The title is the first `# ` heading
of the notebook's second cell (the first is the navigation cell itself). A chapter links to the previous and next
chapters; a deep dive (`notebooks/deep_dives/02b_x.ipynb`) links back to its chapter (`02_...`).

Usage::

    python tools/navigation.py          # rewrite the navigation cells in place
    python tools/navigation.py --check  # exit 1, naming each notebook, when a navigation cell is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
MARK = "<!--NAVIGATION-->"
CONTENTS = "[Contents](../README.md#the-notebooks)"
DEEP_DIVES = NOTEBOOKS / "deep_dives"
DEEP_CONTENTS = "[Contents](../../README.md#the-notebooks)"
NAME = re.compile(r"^(?P<number>\d\d)_[a-z0-9_]+\.ipynb$")
DEEP_NAME = re.compile(r"^(?P<number>\d\d)[a-z]_[a-z0-9_]+\.ipynb$")


def title_of(nb: nbformat.NotebookNode, path: Path) -> str:
    """The notebook's title: the first level-one heading in its first non-navigation cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not cell.source.startswith(MARK):
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            break
    raise ValueError(f"{path.name}: the first cell after the navigation has no '# Title' line")


def navigation_lines(paths: list[Path]) -> dict[Path, str]:
    """Map each notebook to its navigation cell's text."""
    titles = [title_of(nbformat.read(p, as_version=4), p) for p in paths]
    lines = {}
    for i, path in enumerate(paths):
        parts = []
        if i > 0:
            parts.append(f"[< {titles[i - 1]}]({paths[i - 1].name})")
        parts.append(CONTENTS)
        if i + 1 < len(paths):
            parts.append(f"[{titles[i + 1]} >]({paths[i + 1].name})")
        lines[path] = f"{MARK}\n" + " | ".join(parts)
    return lines


def deep_dive_lines(chapters: list[Path], deep_dives: list[Path]) -> dict[Path, str]:
    """Map each deep dive to its navigation cell's text: back to its chapter, and the contents."""
    by_number = {p.name[:2]: p for p in chapters}
    lines = {}
    for path in deep_dives:
        chapter = by_number.get(path.name[:2])
        if chapter is None:
            raise ValueError(f"{path.name}: no chapter {path.name[:2]}_*.ipynb to belong to")
        title = title_of(nbformat.read(chapter, as_version=4), chapter)
        lines[path] = f"{MARK}\n[< Back to {title}](../{chapter.name}) | {DEEP_CONTENTS}"
    return lines


def all_lines() -> dict[Path, str]:
    """The navigation line of every chapter and deep dive."""
    chapters = notebooks()
    return {**navigation_lines(chapters), **deep_dive_lines(chapters, deep_dives())}


def _is_nav(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "markdown" and cell.source.startswith(MARK)


def apply(nb: nbformat.NotebookNode, line: str) -> bool:
    """Put `line` in the first and last cells of `nb`, adding those cells if missing. True if changed."""
    before = [c.source for c in nb.cells]
    if not nb.cells or not _is_nav(nb.cells[0]):
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(line))
    if len(nb.cells) < 2 or not _is_nav(nb.cells[-1]):
        nb.cells.append(nbformat.v4.new_markdown_cell(line))
    nb.cells[0].source = line
    nb.cells[-1].source = line
    return [c.source for c in nb.cells] != before


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The chapters, in order."""
    return sorted(p for p in folder.glob("*.ipynb") if NAME.match(p.name))


def deep_dives(folder: Path = DEEP_DIVES) -> list[Path]:
    """The deep dives, in order."""
    return sorted(p for p in folder.glob("*.ipynb") if DEEP_NAME.match(p.name))


def update(only: list[Path] | None = None, check: bool = False) -> list[str]:
    """Rewrite (or with `check`, just find) stale navigation cells; `only` limits which notebooks are touched."""
    wanted = {p.resolve() for p in only} if only else None
    stale = []
    for path, line in all_lines().items():
        if wanted is not None and path.resolve() not in wanted:
            continue
        nb = nbformat.read(path, as_version=4)
        if apply(nb, line):
            stale.append(path.name)
            if not check:
                nbformat.write(nb, path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale navigation instead of writing")
    args = parser.parse_args(argv)
    stale = update(check=args.check)
    for name in stale:
        print(f"{name}: navigation {'is stale (run `make notebooks`)' if args.check else 'rewritten'}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
