"""Re-execute notebooks in place, deterministically, and clean their metadata.

Run with no arguments it executes every notebook under `notebooks/` in a fresh `python3` kernel, in the
notebook's own folder, with the sample price source, then writes it back with only the metadata that
does not change from run to run. Running it twice with no change to the code leaves `git diff` empty.

Usage::

    python tools/run_notebooks.py                      # every notebook
    python tools/run_notebooks.py notebooks/02_*.ipynb # some of them
    python tools/run_notebooks.py --clean-only         # only strip metadata, execute nothing
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import navigation  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}
KEPT_CELL_METADATA = ("tags",)


def _coalesce_streams(outputs: list) -> list:
    """Merge consecutive stdout (or stderr) chunks: how the kernel happened to flush them is not part of the lesson."""
    merged: list = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            last is not None
            and output.get("output_type") == "stream"
            and last.get("output_type") == "stream"
            and last.get("name") == output.get("name")
        ):
            last["text"] = "".join(last["text"]) + "".join(output["text"])
        else:
            merged.append(output)
    return merged


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop the metadata that differs between runs and machines (timings, versions, widget state)."""
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO})
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict(
            {k: v for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA}
        )
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return nb


def _ignored(cell: nbformat.NotebookNode) -> bool:
    """True for a cell whose output nbval does not compare (a measured timing, say): tag or first-line comment."""
    return "NBVAL_IGNORE_OUTPUT" in cell.metadata.get("tags", []) or cell.source.lstrip().startswith(
        "# NBVAL_IGNORE_OUTPUT"
    )


def keep_ignored_outputs(before: nbformat.NotebookNode, after: nbformat.NotebookNode) -> None:
    """Keep the stored output of an unchanged cell that nbval ignores, so a re-run leaves `git diff` empty.

    Such an output differs on every run by nature (it is a measurement); storing a fresh one each time would only
    make noise in the history. Once the cell's code changes, its new output is stored, and so is the first output
    of a cell that never had one.
    """
    stored = {c.get("id"): c for c in before.cells if c.cell_type == "code" and _ignored(c)}
    for cell in after.cells:
        old = stored.get(cell.get("id"))
        if old is not None and old.source == cell.source and old.outputs:
            cell.outputs = old.outputs


def execute(path: Path, timeout: int = 120) -> None:
    nb = nbformat.read(path, as_version=4)
    before = nbformat.read(path, as_version=4)
    env_before = os.environ.get("PRICE_SOURCE")
    os.environ.setdefault("PRICE_SOURCE", "sample")
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            allow_errors=False,
        )
        client.execute()
    finally:
        if env_before is None:
            os.environ.pop("PRICE_SOURCE", None)
    keep_ignored_outputs(before, nb)
    nbformat.write(clean(nb), path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="notebooks (default: every chapter and deep dive)"
    )
    parser.add_argument("--clean-only", action="store_true", help="strip metadata without executing")
    args = parser.parse_args(argv)
    paths = args.paths or navigation.notebooks() + navigation.deep_dives()
    if not args.clean_only:
        navigation.update(paths)
    for path in paths:
        if args.clean_only:
            nbformat.write(clean(nbformat.read(path, as_version=4)), path)
            print(f"cleaned {path.relative_to(ROOT) if path.is_absolute() else path}")
        else:
            print(f"running {path.name}", flush=True)
            execute(path.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
